package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

// tenantModel is what a tenant may read, kept beside an index in tests.
type tenantModel struct {
	vecs    map[uint64][]float32 // live vectors
	owner   map[uint64]uint32
	granted map[uint32]map[uint64]bool
	tenants map[uint32]bool
}

func newTenantModel(data []float32, dim int) *tenantModel {
	m := &tenantModel{vecs: make(map[uint64][]float32), owner: make(map[uint64]uint32), granted: make(map[uint32]map[uint64]bool), tenants: make(map[uint32]bool)}
	for i := 0; i < len(data)/dim; i++ {
		m.vecs[uint64(i)] = data[i*dim : (i+1)*dim]
	}
	return m
}

func (m *tenantModel) readable(t uint32) map[uint64]bool {
	out := make(map[uint64]bool)
	for id := range m.vecs {
		if m.owner[id] == t || m.granted[t][id] {
			out[id] = true
		}
	}
	return out
}

func (m *tenantModel) deleteID(id uint64) {
	delete(m.vecs, id)
	delete(m.owner, id)
	for _, g := range m.granted {
		delete(g, id)
	}
}

// tenantExhaustive makes a tenant search of any mode read everything.
func tenantExhaustive(tn uint32, mode TenantMode) *SearchParams {
	return &SearchParams{Tenant: tn, TenantMode: mode, SearchEF: 1 << 30, NProbe: 1 << 20, Beam: 1 << 20, Epsilon: -1}
}

// checkTenantSearch asserts that tenant tn's searches in every mode return
// exactly the vectors it may read, at their current values.
func checkTenantSearch(t *testing.T, ix *Index, m *tenantModel, tn uint32, q []float32, when string) {
	t.Helper()
	want := m.readable(tn)
	for _, mode := range []TenantMode{TenantShortlists, TenantScan, TenantBrute} {
		res, err := ix.Search(q, len(want)+3, tenantExhaustive(tn, mode))
		if err != nil {
			t.Fatalf("%s: tenant %d %v search: %v", when, tn, mode, err)
		}
		got := make(map[uint64]bool)
		for _, r := range res {
			if !want[r.ID] {
				t.Fatalf("%s: tenant %d %v search returned id %d, which it may not read", when, tn, mode, r.ID)
			}
			if d := vec.L2SquaredF32(q, m.vecs[r.ID]); !near(d, r.Distance) {
				t.Fatalf("%s: tenant %d %v search: id %d at distance %v, its current vector is at %v", when, tn, mode, r.ID, r.Distance, d)
			}
			got[r.ID] = true
		}
		if len(got) != len(want) {
			var missing []uint64
			for id := range want {
				if !got[id] {
					missing = append(missing, id)
				}
			}
			slices.Sort(missing)
			t.Fatalf("%s: tenant %d %v search returned %d of the %d vectors it may read; missing %v", when, tn, mode, len(got), len(want), missing[:min(10, len(missing))])
		}
	}
}

func near(a, b float32) bool {
	d := a - b
	return d < 1e-3*(1+a) && -d < 1e-3*(1+a)
}

func openTenantTest(t *testing.T, dir string) *Index {
	t.Helper()
	ix, err := Open(dir, &Options{MaxSLSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestTenantIsolation is the isolation property: through random grants,
// revokes, owned upserts, deletes, drops and restarts, a tenant's search
// never returns a vector it cannot read, and an exhaustive one returns
// every vector it can, at its current value.
// It runs on an index of rows and on a quantized one.
func TestTenantIsolation(t *testing.T) {
	for _, q := range []Quant{QuantNone, QuantRaBitQ} {
		t.Run(q.String(), func(t *testing.T) { testTenantIsolation(t, q) })
	}
}

func testTenantIsolation(t *testing.T, quant Quant) {
	const dim, n, tenants = 8, 1200, 5
	data := clustered(n, dim, 12, 21, 22)
	dir := filepath.Join(t.TempDir(), "ix")
	if _, err := Build(dir, SliceSource(data, dim), &Options{Ratio: 0.05, Quant: quant}); err != nil {
		t.Fatal(err)
	}
	ix := openTenantTest(t, dir)
	defer func() { ix.Close() }()
	defer func(v int) { tenantLoadBatch = v }(tenantLoadBatch)
	m := newTenantModel(data, dim)
	rng := rand.New(rand.NewPCG(7, 8))
	for tn := uint32(1); tn <= tenants; tn++ {
		if err := ix.CreateTenant(tn); err != nil {
			t.Fatal(err)
		}
		m.tenants[tn] = true
		m.granted[tn] = make(map[uint64]bool)
	}
	liveIDs := func() []uint64 {
		ids := make([]uint64, 0, len(m.vecs))
		for id := range m.vecs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	pick := func(ids []uint64, k int) []uint64 {
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		return ids[:min(k, len(ids))]
	}
	nextID := uint64(n)
	for step := 0; step < 240; step++ {
		tn := uint32(1 + rng.IntN(tenants))
		var what string
		switch op := rng.IntN(10); op {
		case 0, 1: // owned upserts: new ids and t's own
			what = "upsert owned"
			var ids []uint64
			var vs [][]float32
			for j := 0; j < 1+rng.IntN(40); j++ {
				id := nextID
				nextID++
				ids = append(ids, id)
			}
			for id, o := range m.owner {
				if o == tn && len(ids) < 60 && rng.IntN(4) == 0 {
					ids = append(ids, id)
				}
			}
			for range ids {
				vs = append(vs, randVec(rng, dim))
			}
			if err := ix.UpsertOwned(tn, ids, vs); err != nil {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
			for i, id := range ids {
				m.vecs[id] = vs[i]
				m.owner[id] = tn
				delete(m.granted[tn], id)
			}
		case 2: // claim ownerless vectors
			what = "own"
			var ids []uint64
			for _, id := range pick(liveIDs(), 300) {
				if m.owner[id] == 0 {
					ids = append(ids, id)
				}
			}
			if len(ids) == 0 {
				continue
			}
			if err := ix.Own(tn, ids); err != nil {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
			for _, id := range ids {
				m.owner[id] = tn
				delete(m.granted[tn], id)
			}
		case 3, 4: // grants, some of vectors already readable
			what = "grant"
			ids := pick(liveIDs(), 1+rng.IntN(80))
			if len(ids) == 0 { // claims and drops can empty the set
				continue
			}
			if err := ix.Grant(tn, ids); err != nil {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
			for _, id := range ids {
				if m.owner[id] != tn {
					m.granted[tn][id] = true
				}
			}
		case 5:
			what = "revoke"
			var ids []uint64
			for id := range m.granted[tn] {
				if rng.IntN(2) == 0 {
					ids = append(ids, id)
				}
			}
			ids = append(ids, pick(liveIDs(), 5)...)
			ids = slices.Compact(sortIDs(ids))
			ids = slices.DeleteFunc(ids, func(id uint64) bool { return m.owner[id] == tn })
			if len(ids) == 0 {
				continue
			}
			if err := ix.Revoke(tn, ids); err != nil {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
			for _, id := range ids {
				delete(m.granted[tn], id)
			}
		case 6:
			what = "delete"
			ids := pick(liveIDs(), 1+rng.IntN(20))
			if len(ids) == 0 {
				continue
			}
			if _, err := ix.Delete(ids); err != nil {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
			for _, id := range ids {
				m.deleteID(id)
			}
		case 7: // unowned upserts change values of readable vectors
			what = "upsert"
			ids := pick(liveIDs(), 1+rng.IntN(20))
			if len(ids) == 0 {
				continue
			}
			vs := make([][]float32, len(ids))
			for i := range vs {
				vs[i] = randVec(rng, dim)
			}
			if err := ix.Upsert(ids, vs); err != nil {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
			for i, id := range ids {
				m.vecs[id] = vs[i]
			}
		case 8:
			what = "reopen"
			tenantLoadBatch = 1 + step%3 // Open adds the lists in small batches
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}
			ix = openTenantTest(t, dir)
		case 9:
			if rng.IntN(4) != 0 {
				continue
			}
			what = "drop and recreate"
			if err := ix.DropTenant(tn); err != nil {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
			for id, o := range m.owner {
				if o == tn {
					m.deleteID(id)
				}
			}
			m.granted[tn] = make(map[uint64]bool)
			if err := ix.CreateTenant(tn); err != nil {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
		}
		when := fmt.Sprintf("step %d (%s by tenant %d)", step, what, tn)
		if step%6 == 0 {
			q := randVec(rng, dim)
			for tt := uint32(1); tt <= tenants; tt++ {
				checkTenantSearch(t, ix, m, tt, q, when)
			}
		}
		if step%40 == 39 {
			if err := ix.Drain(); err != nil {
				t.Fatal(err)
			}
			if err := ix.Check(); err != nil {
				t.Fatalf("%s: Check: %v", when, err)
			}
		}
	}
	for id := range m.vecs {
		if o, err := ix.Owner(id); err != nil || o != m.owner[id] {
			t.Fatalf("Owner(%d) = %d, %v; want %d", id, o, err, m.owner[id])
		}
	}
	for tt := uint32(1); tt <= tenants; tt++ {
		if got, err := ix.TenantLen(tt); err != nil || got != len(m.readable(tt)) {
			t.Fatalf("TenantLen(%d) = %d, %v; want %d", tt, got, err, len(m.readable(tt)))
		}
	}
}

func sortIDs(ids []uint64) []uint64 { slices.Sort(ids); return ids }

func TestTenantErrors(t *testing.T) {
	const dim, n = 8, 400
	data := clustered(n, dim, 4, 3, 4)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05})
	v := make([]float32, dim)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"create tenant 0", ix.CreateTenant(0), ErrBadInput},
		{"create", ix.CreateTenant(1), nil},
		{"create twice", ix.CreateTenant(1), ErrTenantExists},
		{"create 2", ix.CreateTenant(2), nil},
		{"upsert owned by unknown", ix.UpsertOwned(9, []uint64{1}, [][]float32{v}), ErrUnknownTenant},
		{"upsert owned by 0", ix.UpsertOwned(0, []uint64{1}, [][]float32{v}), ErrUnknownTenant},
		{"own", ix.Own(1, []uint64{1, 2}), nil},
		{"own owned by another", ix.Own(2, []uint64{2}), ErrBadInput},
		{"upsert owned by another", ix.UpsertOwned(2, []uint64{1}, [][]float32{v}), ErrBadInput},
		{"grant missing id", ix.Grant(2, []uint64{3, 1 << 50}), ErrNotFound},
		{"grant twice in batch", ix.Grant(2, []uint64{3, 3}), ErrBadInput},
		{"grant empty", ix.Grant(2, nil), ErrBadInput},
		{"grant unknown tenant", ix.Grant(7, []uint64{3}), ErrUnknownTenant},
		{"revoke owner", ix.Revoke(1, []uint64{1}), ErrBadInput},
		{"drop unknown", ix.DropTenant(7), ErrUnknownTenant},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) || (c.want == nil && c.err != nil) {
			t.Errorf("%s: error %v, want %v", c.name, c.err, c.want)
		}
	}
	if _, err := ix.Search(v, 3, &SearchParams{Tenant: 7}); !errors.Is(err, ErrUnknownTenant) {
		t.Errorf("search by unknown tenant: %v, want ErrUnknownTenant", err)
	}
	// A failed grant changes nothing.
	if ix.CanRead(2, 3) {
		t.Error("a failed grant let tenant 2 read id 3")
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestTenantSearchRecall checks that shortlist search at the default
// search_ef finds a tenant's nearest neighbours.
func TestTenantSearchRecall(t *testing.T) {
	const dim, n = 16, 6000
	data := clustered(n, dim, 30, 11, 12)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05})
	rng := rand.New(rand.NewPCG(3, 3))
	if err := ix.CreateTenant(1); err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	var sub []float32
	for i := 0; i < n; i++ {
		if rng.IntN(3) == 0 {
			ids = append(ids, uint64(i))
			sub = append(sub, data[i*dim:(i+1)*dim]...)
		}
	}
	if err := ix.Grant(1, ids); err != nil {
		t.Fatal(err)
	}
	if got := ix.TenantStats().Shortlists; got < len(ids)/256 {
		t.Fatalf("%d rows cut into %d shortlists, want at least %d", len(ids), got, len(ids)/256)
	}
	var sum float64
	const nq = 50
	for i := 0; i < nq; i++ {
		q := data[rng.IntN(n)*dim:][:dim]
		res, err := ix.Search(q, 10, &SearchParams{Tenant: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := exact(sub, dim, q, 10, L2)
		for j := range want {
			want[j] = ids[want[j]]
		}
		sum += recall(res, want)
	}
	if r := sum / nq; r < 0.9 {
		t.Fatalf("tenant recall@10 %.3f at the default search_ef, want >= 0.9", r)
	}
}

// TestTenantConcurrentIsolation runs grants, revokes, owned upserts and
// deletes beside tenant searches: a search never returns a vector its
// tenant could not read at any time during the run. Run with -race.
func TestTenantConcurrentIsolation(t *testing.T) {
	const dim, n = 8, 2000
	data := clustered(n, dim, 10, 31, 32)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05})
	for tn := uint32(1); tn <= 2; tn++ {
		if err := ix.CreateTenant(tn); err != nil {
			t.Fatal(err)
		}
	}
	// Tenant 1 owns [0, 500); [500, 1000) is granted to it and revoked
	// again and again; tenant 2 owns [1000, 2000), never granted to 1.
	span := func(lo, hi int) []uint64 {
		ids := make([]uint64, 0, hi-lo)
		for i := lo; i < hi; i++ {
			ids = append(ids, uint64(i))
		}
		return ids
	}
	if err := ix.Own(1, span(0, 500)); err != nil {
		t.Fatal(err)
	}
	if err := ix.Own(2, span(1000, 2000)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	errc := make(chan error, 4)
	go func() { // writer
		rng := rand.New(rand.NewPCG(1, 1))
		defer func() { errc <- nil }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			lo := 500 + rng.IntN(450)
			ids := span(lo, lo+1+rng.IntN(50))
			var err error
			switch i % 4 {
			case 0:
				err = ix.Grant(1, ids)
			case 1:
				err = ix.Revoke(1, ids)
			case 2: // new values for tenant 2's vectors and tenant 1's
				id := uint64(rng.IntN(500))
				err = ix.UpsertOwned(1, []uint64{id}, [][]float32{randVec(rng, dim)})
				if err == nil {
					err = ix.UpsertOwned(2, []uint64{uint64(1000 + rng.IntN(1000))}, [][]float32{randVec(rng, dim)})
				}
			case 3:
				_, err = ix.Delete([]uint64{uint64(1000 + rng.IntN(1000))})
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			modes := []TenantMode{TenantShortlists, TenantScan, TenantBrute}
			for i := 0; i < 150; i++ {
				q := randVec(rng, dim)
				res, err := ix.Search(q, 50, tenantExhaustive(1, modes[i%3]))
				if err != nil {
					errc <- err
					return
				}
				for _, r := range res {
					if r.ID >= 1000 {
						errc <- fmt.Errorf("tenant 1's %v search returned id %d of tenant 2", modes[i%3], r.ID)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	for i := 0; i < 1; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestShortlistSweep checks that maintenance drops the rows of deleted
// and revoked vectors from shortlists no later write touches.
func TestShortlistSweep(t *testing.T) {
	const dim, n = 8, 3000
	data := clustered(n, dim, 10, 41, 42)
	dir := filepath.Join(t.TempDir(), "ix")
	if _, err := Build(dir, SliceSource(data, dim), &Options{Ratio: 0.05}); err != nil {
		t.Fatal(err)
	}
	ix := openTenantTest(t, dir) // MaxSLSize 16: many shortlists
	defer ix.Close()
	ids := make([]uint64, 1000)
	for i := range ids {
		ids[i] = uint64(i)
	}
	for tn := uint32(1); tn <= 2; tn++ {
		if err := ix.CreateTenant(tn); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Own(1, ids); err != nil {
		t.Fatal(err)
	}
	if err := ix.Grant(2, ids); err != nil {
		t.Fatal(err)
	}
	before := ix.TenantStats()
	if _, err := ix.Delete(ids[:600]); err != nil {
		t.Fatal(err)
	}
	if err := ix.Revoke(2, ids[600:900]); err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	after := ix.TenantStats()
	// Live rows: tenant 1 400, tenant 2 100. Swept shortlists keep at
	// most a quarter of stale rows.
	if want := int64(500 * 4 / 3); after.ShortlistRows > want {
		t.Fatalf("shortlist rows %d → %d after deleting 600 of 1000 and revoking 300 more, want at most %d", before.ShortlistRows, after.ShortlistRows, want)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
	m := &tenantModel{vecs: map[uint64][]float32{}, owner: map[uint64]uint32{}, granted: map[uint32]map[uint64]bool{2: {}}}
	for _, id := range ids[600:] {
		m.vecs[id] = data[id*dim : (id+1)*dim]
		m.owner[id] = 1
	}
	for _, id := range ids[900:] {
		m.granted[2][id] = true
	}
	for tn := uint32(1); tn <= 2; tn++ {
		checkTenantSearch(t, ix, m, tn, data[:dim], "after the sweep")
	}
}

// TestTenantBulk checks CreateTenants, OwnMany and GrantMany: one batch
// for many tenants, ids shared between them, and all-or-nothing errors.
func TestTenantBulk(t *testing.T) {
	const dim, n = 8, 800
	data := clustered(n, dim, 6, 61, 62)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05})
	if err := ix.CreateTenants([]uint32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := ix.CreateTenants([]uint32{4, 2}); !errors.Is(err, ErrTenantExists) || slices.Contains(ix.Tenants(), 4) {
		t.Fatalf("CreateTenants with an existing tenant: %v, tenants %v; want ErrTenantExists and no tenant 4", err, ix.Tenants())
	}
	span := func(lo, hi uint64) []uint64 {
		var ids []uint64
		for id := lo; id < hi; id++ {
			ids = append(ids, id)
		}
		return ids
	}
	if err := ix.OwnMany(map[uint32][]uint64{1: span(0, 300), 2: span(300, 600)}); err != nil {
		t.Fatal(err)
	}
	if err := ix.OwnMany(map[uint32][]uint64{3: span(590, 610)}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("OwnMany of owned ids: %v, want ErrBadInput", err)
	}
	if ix.CanRead(3, 605) {
		t.Fatal("a refused OwnMany gave tenant 3 a vector")
	}
	if err := ix.GrantMany(map[uint32][]uint64{1: span(250, 400), 3: span(200, 700)}); err != nil {
		t.Fatal(err)
	}
	for tn, want := range map[uint32]int{1: 400, 2: 300, 3: 500} {
		if got, err := ix.TenantLen(tn); err != nil || got != want {
			t.Errorf("TenantLen(%d) = %d, %v; want %d", tn, got, err, want)
		}
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}
