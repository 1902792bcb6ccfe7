package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/internal/vec"
)

// The tenant crash test's workload. Writer 0 upserts (with labels),
// deletes, grants and revokes vectors that have no owner. Writer w in
// 1..3 does the same for the vectors of tenant w, upserts those of its
// second tenant 100+w, and drops and re-creates that tenant. A writer's
// ids, the grants of them and its second tenant are its alone, so the
// writers' ops commute, and op i of writer w is a function of (seed, w,
// i): the parent knows what every acknowledged op did.
const (
	ctDim     = 8
	ctWriters = 4
	ctIDs     = 72 // ids per writer
	ctOwned   = 48 // a tenant writer's ids [0, ctOwned) are tenant w's, the rest tenant 100+w's
	ctMaxSL   = 12 // max_sl_size: shortlists split and are re-cut often
	ctSeed    = 1  // default seed (SHOAL_CRASH_SEED)
	ctCycles  = 12 // default cycles (SHOAL_CRASH_CYCLES)
	ctDrainAt = 4  // every ctDrainAt-th cycle also drains maintenance and checks again
)

// ctTenants are the tenants: 1..3 stay, 101..103 are dropped and
// re-created.
var ctTenants = []uint32{1, 2, 3, 101, 102, 103}

// ctID returns writer w's j-th id: small dense ids for writer 0, ids far
// above them (sparse in the version map) for the tenant writers.
func ctID(w, j int) uint64 {
	if w == 0 {
		return uint64(j)
	}
	return 9_000_000 + uint64(w)*1000 + uint64(j)
}

// ctOwner returns the owner of writer w's j-th id (0: none).
func ctOwner(w, j int) uint32 {
	switch {
	case w == 0:
		return 0
	case j < ctOwned:
		return uint32(w)
	}
	return uint32(100 + w)
}

// ctLabel is the label writer 0 gives id.
func ctLabel(id uint64) uint32 { return uint32(id%3) + 1 }

type ctKind uint8

const (
	ctUpsert ctKind = iota
	ctDelete
	ctGrant
	ctRevoke
	ctDrop // drop tenant 100+w and create it again
)

type ctOp struct {
	w    int
	kind ctKind
	js   []int // the writer's ids the op names, by index
	vecs [][]float32
	to   uint32 // the tenant granted or revoked
}

func ctOpAt(seed uint64, w, i int) ctOp {
	rng := rand.New(rand.NewPCG(seed, uint64(w)<<32|uint64(i)))
	op := ctOp{w: w}
	switch r := rng.IntN(100); {
	case r < 45:
		op.kind = ctUpsert
	case r < 60:
		op.kind = ctDelete
	case r < 78:
		op.kind = ctGrant
	case r < 92:
		op.kind = ctRevoke
	case w > 0:
		op.kind = ctDrop
		return op
	default:
		op.kind = ctUpsert
	}
	// One upsert has one owner; grants and revokes name tenant w's own
	// vectors (tenant 100+w's are never granted: it owns them).
	lo, hi := 0, ctIDs
	switch {
	case w == 0 || op.kind == ctDelete:
	case op.kind == ctUpsert && rng.IntN(3) == 0:
		lo = ctOwned
	default:
		hi = ctOwned
	}
	for n := 1 + rng.IntN(6); len(op.js) < n; {
		if j := lo + rng.IntN(hi-lo); !slices.Contains(op.js, j) {
			op.js = append(op.js, j)
			if op.kind == ctUpsert {
				op.vecs = append(op.vecs, randVec(rng, ctDim))
			}
		}
	}
	switch {
	case op.kind != ctGrant && op.kind != ctRevoke:
	case w == 0:
		op.to = uint32(1 + rng.IntN(3))
	default:
		to := []uint32{uint32(100 + w)}
		for u := uint32(1); u <= 3; u++ {
			if u != uint32(w) {
				to = append(to, u)
			}
		}
		op.to = to[rng.IntN(len(to))]
	}
	return op
}

func (op ctOp) ids() []uint64 {
	ids := make([]uint64, len(op.js))
	for i, j := range op.js {
		ids[i] = ctID(op.w, j)
	}
	return ids
}

// touches returns the ids whose state the op may change: those it names,
// or, for a drop, every id of its writer (tenant 100+w's own, and tenant
// w's granted to it).
func (op ctOp) touches() []uint64 {
	if op.kind != ctDrop {
		return op.ids()
	}
	ids := make([]uint64, ctIDs)
	for j := range ids {
		ids[j] = ctID(op.w, j)
	}
	return ids
}

// apply runs op on ix. first says whether it is the first op of its
// writer in this process: the previous process may have died inside it.
func (op ctOp) apply(ix *Index, first bool) error {
	ids := op.ids()
	switch op.kind {
	case ctUpsert:
		if op.w == 0 {
			labels := make([][]uint32, len(ids))
			for i, id := range ids {
				labels[i] = []uint32{ctLabel(id)}
			}
			return ix.UpsertLabeled(0, ids, op.vecs, labels)
		}
		return ix.UpsertOwned(ctOwner(op.w, op.js[0]), ids, op.vecs)
	case ctDelete:
		_, err := ix.Delete(ids)
		return err
	case ctGrant:
		// Only this writer changes these ids: whether they hold a vector
		// is a function of the ops before this one.
		ids = slices.DeleteFunc(ids, func(id uint64) bool { return !ix.Contains(id) })
		if len(ids) == 0 {
			return nil
		}
		return ix.Grant(op.to, ids)
	case ctRevoke:
		return ix.Revoke(op.to, ids)
	case ctDrop:
		t := uint32(100 + op.w)
		err := ix.DropTenant(t)
		if first && errors.Is(err, ErrUnknownTenant) {
			err = nil // dropped by the process killed before it re-created it
		}
		if err != nil {
			return err
		}
		return ix.CreateTenant(t)
	}
	return fmt.Errorf("op kind %d", op.kind)
}

// ctModel is the acknowledged state: vectors, owners, grants.
type ctModel struct {
	vecs   map[uint64][]float32
	owner  map[uint64]uint32
	grants map[uint64]map[uint32]bool
}

func newCTModel() *ctModel {
	return &ctModel{vecs: make(map[uint64][]float32), owner: make(map[uint64]uint32), grants: make(map[uint64]map[uint32]bool)}
}

func (m *ctModel) remove(id uint64) {
	delete(m.vecs, id)
	delete(m.owner, id)
	delete(m.grants, id)
}

func (m *ctModel) apply(op ctOp) {
	ids := op.ids()
	switch op.kind {
	case ctUpsert:
		for i, id := range ids {
			m.vecs[id] = op.vecs[i]
			m.owner[id] = ctOwner(op.w, op.js[i])
		}
	case ctDelete:
		for _, id := range ids {
			m.remove(id)
		}
	case ctGrant:
		for _, id := range ids {
			if _, live := m.vecs[id]; live && m.owner[id] != op.to {
				if m.grants[id] == nil {
					m.grants[id] = make(map[uint32]bool)
				}
				m.grants[id][op.to] = true
			}
		}
	case ctRevoke:
		for _, id := range ids {
			delete(m.grants[id], op.to)
		}
	case ctDrop:
		t := uint32(100 + op.w)
		for id, o := range m.owner {
			if o == t {
				m.remove(id)
			}
		}
		for _, g := range m.grants {
			delete(g, t)
		}
	}
}

func (m *ctModel) reads(t uint32, id uint64) bool {
	_, live := m.vecs[id]
	return live && (m.owner[id] == t || m.grants[id][t])
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// ctEnv reads the child's environment.
func ctEnv() (dir string, seed uint64, starts []int, err error) {
	dir = os.Getenv("SHOAL_CRASH_TENANTS_DIR")
	if seed, err = strconv.ParseUint(os.Getenv("SHOAL_CRASH_TENANTS_SEED"), 10, 64); err != nil {
		return
	}
	for _, f := range strings.Split(os.Getenv("SHOAL_CRASH_TENANTS_STARTS"), ",") {
		var s int
		if s, err = strconv.Atoi(f); err != nil {
			return
		}
		starts = append(starts, s)
	}
	if len(starts) != ctWriters {
		err = fmt.Errorf("%d starts, want %d", len(starts), ctWriters)
	}
	return
}

// TestCrashTenantsChild is the child process of TestCrashTenants: its
// writers apply their ops from SHOAL_CRASH_TENANTS_STARTS on, printing
// "ack w i" after each returns, while a reader searches and background
// maintenance runs, until it is killed.
func TestCrashTenantsChild(t *testing.T) {
	if os.Getenv("SHOAL_CRASH_TENANTS_DIR") == "" {
		t.Skip("child of TestCrashTenants")
	}
	fail := func(format string, args ...any) {
		fmt.Println("error", fmt.Sprintf(format, args...))
		os.Exit(2)
	}
	dir, seed, starts, err := ctEnv()
	if err != nil {
		fail("environment: %v", err)
	}
	// The hooks are set before the maintainer starts, which reads them
	// unlocked. SHOAL_CRASH_AT parks the process, once an op is
	// acknowledged, at a crash point and asks to be killed there: between
	// the two batches of a split or merge ("retire"), or in an upsert
	// that has committed and published but not synced, holding the
	// writer lock ("publish").
	var acked atomic.Bool
	stop := func() {
		fmt.Println("stop")
		select {}
	}
	at := os.Getenv("SHOAL_CRASH_AT")
	if at == "retire" {
		testHookRetire = func() {
			if acked.Load() {
				stop()
			}
		}
	}
	testHookUpsertPublished = func() {
		if at == "publish" && acked.Load() && rand.IntN(8) == 0 {
			stop()
		}
		crashJitter()
	}
	testHookStep = crashJitter
	ix, err := Open(dir, &Options{CacheBytes: -1, MaxSLSize: ctMaxSL})
	if err != nil {
		fail("open: %v", err)
	}
	var missing []uint32
	for _, tn := range ctTenants {
		if !slices.Contains(ix.Tenants(), tn) {
			missing = append(missing, tn)
		}
	}
	if len(missing) > 0 {
		if err := ix.CreateTenants(missing); err != nil {
			fail("create tenants: %v", err)
		}
	}
	for w := range ctWriters {
		go func() {
			for i := starts[w]; ; i++ {
				if err := ctOpAt(seed, w, i).apply(ix, i == starts[w]); err != nil {
					fail("writer %d op %d: %v", w, i, err)
				}
				fmt.Println("ack", w, i)
				acked.Store(true)
			}
		}()
	}
	// A reader: every read must work while the writers and maintenance
	// run.
	rng := rand.New(rand.NewPCG(seed, uint64(starts[0])))
	for {
		time.Sleep(2 * time.Millisecond)
		q := randVec(rng, ctDim)
		if _, err := ix.Search(q, 10, nil); err != nil {
			fail("search: %v", err)
		}
		tn := ctTenants[rng.IntN(len(ctTenants))]
		_, err := ix.Search(q, 10, &SearchParams{Tenant: tn, TenantMode: TenantMode(rng.IntN(3))})
		if err != nil && !(tn > 100 && errors.Is(err, ErrUnknownTenant)) {
			fail("tenant %d search: %v", tn, err)
		}
		if _, err := ix.Search(q, 10, &SearchParams{Filter: filter.Label(1 + uint32(rng.IntN(3)))}); err != nil {
			fail("filtered search: %v", err)
		}
		w := rng.IntN(ctWriters)
		if _, err := ix.Get(ctID(w, rng.IntN(ctIDs))); err != nil && !errors.Is(err, ErrNotFound) {
			fail("get: %v", err)
		}
	}
}

// TestCrashTenants kills a process that writes through tenants (owned
// upserts, grants, revokes, deletes, tenant drops) from several writers
// while maintenance folds, splits, merges and re-assigns with a small
// posting cap and shortlists split. SIGKILL comes at random moments, in
// an upsert between its commit and its sync, and between the two batches
// of a split or merge. After every restart it checks that Check passes,
// that each acknowledged write is visible to Get, to the snapshot reads
// and to each tenant's searches as the grants say, that an exhaustive
// search of the whole index finds every live vector at its current
// value, and that every read API works. The op in flight in each writer
// at the kill may or may not have happened; the next child repeats it.
//
// SHOAL_CRASH_CYCLES sets the number of cycles (at least 50 before a
// release), SHOAL_CRASH_SEED the workload and kill times.
func TestCrashTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	cycles := crashCycles(t, ctCycles)
	seed := uint64(ctSeed)
	if v := os.Getenv("SHOAL_CRASH_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("SHOAL_CRASH_SEED=%q: %v", v, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "ix")
	if _, err := Create(dir, ctDim, &Options{PostingCap: 24}); err != nil {
		t.Fatal(err)
	}
	m := newCTModel()
	next := make([]int, ctWriters) // each writer's first op not known to be applied
	rng := rand.New(rand.NewPCG(seed, 7))
	retired, ops, stops := 0, 0, 0
	var last ctVerify
	for cycle := range cycles {
		// Of every three children, one is killed at a random moment, one
		// in an upsert between its commit and its sync, and one between
		// the two batches of a split or merge (if one comes within its
		// time).
		d := time.Duration(20+rng.IntN(200)) * time.Millisecond
		env := []string{
			"SHOAL_CRASH_TENANTS_DIR=" + dir,
			"SHOAL_CRASH_TENANTS_SEED=" + strconv.FormatUint(seed, 10),
			"SHOAL_CRASH_TENANTS_STARTS=" + joinInts(next),
		}
		if at := [3]string{"", "publish", "retire"}[cycle%3]; at != "" {
			d = 2 * time.Second
			env = append(env, "SHOAL_CRASH_AT="+at)
		}
		acks, stopped := runChild(t, "TestCrashTenantsChild", env, d)
		if stopped {
			stops++
		}
		for _, a := range acks {
			var w, i int
			if _, err := fmt.Sscan(a, &w, &i); err != nil || w < 0 || w >= ctWriters || i != next[w] {
				t.Fatalf("cycle %d: ack %q out of order (next ops %v)", cycle, a, next)
			}
			m.apply(ctOpAt(seed, w, i))
			next[w]++
			ops++
		}
		v := ctVerify{t: t, cycle: cycle, m: m, amb: make(map[uint64]bool)}
		for w := range ctWriters {
			op := ctOpAt(seed, w, next[w])
			for _, id := range op.touches() {
				v.amb[id] = true
			}
			if op.kind == ctDrop {
				v.dropping = append(v.dropping, uint32(100+w))
			}
		}
		ix, err := Open(dir, &Options{MaintenancePaused: true, MaxSLSize: ctMaxSL})
		if err != nil {
			t.Fatalf("cycle %d: reopen: %v", cycle, err)
		}
		retired += ix.retiredAtOpen
		v.ix = ix
		v.run(cycle%ctDrainAt == ctDrainAt-1 || cycle == cycles-1)
		last = v
		ix.Close()
	}
	t.Logf("seed %d: %d cycles, %d ops acknowledged, %d kills at a crash point, %d interrupted splits or merges completed at open; at the end %d heads (%d leaf ids), %d shortlists",
		seed, cycles, ops, stops, retired, last.tree.Heads, last.tree.LeafIDs, last.tenants.Shortlists)
	if last.tree.Heads < 4 {
		t.Errorf("%d heads at the end: maintenance did not split", last.tree.Heads)
	}
}

// ctVerify checks one reopened index against the model. Ids in amb were
// named by an op in flight at the kill: either state is right for them;
// tenants in dropping may be missing for the same reason.
type ctVerify struct {
	t        *testing.T
	cycle    int
	ix       *Index
	m        *ctModel
	amb      map[uint64]bool
	dropping []uint32

	got     map[uint64][]float32 // Get of every live id
	tree    TreeStats
	tenants TenantStats
}

func (v *ctVerify) fatalf(format string, args ...any) {
	v.t.Helper()
	v.t.Fatalf("cycle %d: %s", v.cycle, fmt.Sprintf(format, args...))
}

func (v *ctVerify) run(drain bool) {
	v.t.Helper()
	ix := v.ix
	if err := ix.Check(); err != nil {
		v.fatalf("Check after reopen: %v", err)
	}
	v.values()
	v.snapshot()
	v.search()
	v.tenantSearch()
	v.filterSearch()
	v.inspect()
	if drain {
		// Maintenance must carry on from the recovered state.
		if err := ix.Drain(); err != nil {
			v.fatalf("Drain: %v", err)
		}
		if err := ix.Check(); err != nil {
			v.fatalf("Check after Drain: %v", err)
		}
		v.search()
		v.tenantSearch()
	}
}

// values checks Get, Contains, Owner and Labels of every id.
func (v *ctVerify) values() {
	v.t.Helper()
	ix := v.ix
	v.got = make(map[uint64][]float32)
	for w := range ctWriters {
		for j := range ctIDs {
			id := ctID(w, j)
			got, err := ix.Get(id)
			switch {
			case err == nil:
				v.got[id] = got
			case !errors.Is(err, ErrNotFound):
				v.fatalf("Get(%d): %v", id, err)
			}
			if ix.Contains(id) != (err == nil) {
				v.fatalf("Contains(%d) = %v, Get: %v", id, ix.Contains(id), err)
			}
			if err == nil {
				if ls, err := ix.Labels(id); err != nil {
					v.fatalf("Labels(%d): %v", id, err)
				} else if want := w == 0; want != (len(ls) == 1 && ls[0] == ctLabel(id)) && !v.amb[id] {
					v.fatalf("Labels(%d) = %v", id, ls)
				}
			}
			if v.amb[id] {
				continue
			}
			want, live := v.m.vecs[id]
			switch {
			case live && err != nil:
				v.fatalf("acknowledged upsert of %d lost: %v", id, err)
			case live && !slices.Equal(got, want):
				v.fatalf("id %d holds %v, want %v", id, got, want)
			case !live && err == nil:
				v.fatalf("id %d, deleted, holds %v", id, got)
			}
			if live {
				if o, err := ix.Owner(id); err != nil || o != v.m.owner[id] {
					v.fatalf("Owner(%d) = %d, %v; want %d", id, o, err, v.m.owner[id])
				}
			}
		}
	}
}

// snapshot checks AppendIDs and ReadSorted (owners and grants).
func (v *ctVerify) snapshot() {
	v.t.Helper()
	ids, err := v.ix.AppendIDs(nil)
	if err != nil {
		v.fatalf("AppendIDs: %v", err)
	}
	if len(ids) != len(v.got) {
		v.fatalf("AppendIDs returned %d ids, Get finds %d", len(ids), len(v.got))
	}
	err = v.ix.ReadSorted(ids, func(i int, x []float32, owner uint32, granted []uint32) error {
		id := ids[i]
		if !slices.Equal(x, v.got[id]) {
			return fmt.Errorf("ReadSorted: id %d holds %v, Get %v", id, x, v.got[id])
		}
		if v.amb[id] {
			return nil
		}
		if owner != v.m.owner[id] {
			return fmt.Errorf("ReadSorted: id %d owned by %d, want %d", id, owner, v.m.owner[id])
		}
		var want []uint32
		for tn, ok := range v.m.grants[id] {
			if ok {
				want = append(want, tn)
			}
		}
		slices.Sort(want)
		granted = slices.Sorted(slices.Values(granted))
		if !slices.Equal(granted, want) {
			return fmt.Errorf("ReadSorted: id %d granted to %v, want %v", id, granted, want)
		}
		return nil
	})
	if err != nil {
		v.fatalf("%v", err)
	}
}

// checkResults checks the results of a search for q that should return
// exactly the live ids keep selects: each once, at its current distance.
func (v *ctVerify) checkResults(what string, q []float32, res []Result, keep func(id uint64) bool) {
	v.t.Helper()
	seen := make(map[uint64]bool, len(res))
	for _, r := range res {
		x, live := v.got[r.ID]
		switch {
		case seen[r.ID]:
			v.fatalf("%s returned id %d twice", what, r.ID)
		case !live:
			v.fatalf("%s returned id %d, which holds no vector", what, r.ID)
		case !v.amb[r.ID] && !keep(r.ID):
			v.fatalf("%s returned id %d, which it must not", what, r.ID)
		case !near(vec.L2SquaredF32(q, x), r.Distance):
			v.fatalf("%s returned id %d at distance %v, its vector is at %v", what, r.ID, r.Distance, vec.L2SquaredF32(q, x))
		}
		seen[r.ID] = true
	}
	var missing []uint64
	for id := range v.got {
		if !seen[id] && !v.amb[id] && keep(id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		v.fatalf("%s missed %d live ids, such as %v", what, len(missing), missing[:min(8, len(missing))])
	}
}

// search checks that an exhaustive search of the whole index finds every
// live vector, and that the other search entry points work.
func (v *ctVerify) search() {
	v.t.Helper()
	ix := v.ix
	q := make([]float32, ctDim)
	q[0] = float32(v.cycle%5) - 2
	res, err := ix.Search(q, len(v.got)+8, exhaustive)
	if err != nil {
		v.fatalf("search: %v", err)
	}
	v.checkResults("exhaustive search", q, res, func(uint64) bool { return true })
	var st QueryStats
	if _, err := ix.SearchWithStats(q, 10, nil, &st); err != nil || st.Heads == 0 && len(v.got) > 0 {
		v.fatalf("SearchWithStats: %v (%+v)", err, st)
	}
	batch, err := ix.SearchBatch([][]float32{q, randVec(rand.New(rand.NewPCG(uint64(v.cycle), 1)), ctDim)}, len(v.got)+8, exhaustive)
	if err != nil {
		v.fatalf("SearchBatch: %v", err)
	}
	v.checkResults("exhaustive batch search", q, batch[0], func(uint64) bool { return true })
}

// tenantSearch checks every tenant's list and exhaustive searches in
// every mode against the grants.
func (v *ctVerify) tenantSearch() {
	v.t.Helper()
	ix := v.ix
	have := ix.Tenants()
	q := make([]float32, ctDim)
	q[1] = 1
	for _, tn := range ctTenants {
		if !slices.Contains(have, tn) {
			if !slices.Contains(v.dropping, tn) {
				v.fatalf("tenant %d is gone", tn)
			}
			continue
		}
		keep := func(id uint64) bool { return v.m.reads(tn, id) }
		n, err := ix.TenantLen(tn)
		if err != nil {
			v.fatalf("TenantLen(%d): %v", tn, err)
		}
		for _, mode := range []TenantMode{TenantShortlists, TenantScan, TenantBrute} {
			res, err := ix.Search(q, n+8, tenantExhaustive(tn, mode))
			if err != nil {
				v.fatalf("tenant %d %v search: %v", tn, mode, err)
			}
			if len(res) != n {
				v.fatalf("tenant %d %v search returned %d vectors, its list holds %d", tn, mode, len(res), n)
			}
			v.checkResults(fmt.Sprintf("tenant %d's %v search", tn, mode), q, res, keep)
		}
		for id := range v.got {
			if !v.amb[id] && ix.CanRead(tn, id) != keep(id) {
				v.fatalf("CanRead(%d, %d) = %v", tn, id, ix.CanRead(tn, id))
			}
		}
	}
}

// filterSearch checks label-filtered searches in every mode.
func (v *ctVerify) filterSearch() {
	v.t.Helper()
	q := make([]float32, ctDim)
	q[2] = -1
	for l := uint32(1); l <= 3; l++ {
		keep := func(id uint64) bool { return id < ctIDs && ctLabel(id) == l }
		for _, mode := range []FilterMode{FilterAuto, FilterPre, FilterInScan} {
			p := *exhaustive
			p.Filter, p.FilterMode = filter.Label(l), mode
			res, err := v.ix.Search(q, len(v.got)+8, &p)
			if err != nil {
				v.fatalf("label %d search (%v): %v", l, mode, err)
			}
			v.checkResults(fmt.Sprintf("label %d search (mode %v)", l, mode), q, res, keep)
		}
	}
}

// inspect runs what shoal inspect and the server's statistics read.
func (v *ctVerify) inspect() {
	v.t.Helper()
	ix := v.ix
	v.tree = ix.TreeStats()
	v.tenants = ix.TenantStats()
	st := ix.Stats()
	if st.Live != int64(len(v.got)) || ix.Len() != len(v.got) {
		v.fatalf("Stats.Live %d, Len %d, Get finds %d", st.Live, ix.Len(), len(v.got))
	}
	if st.Heads != v.tree.Heads {
		v.fatalf("Stats.Heads %d, TreeStats.Heads %d", st.Heads, v.tree.Heads)
	}
	heads := 0
	err := ix.ScanPostings(func(p *PostingInfo) error {
		if len(p.IDs) != len(p.Versions) || p.VectorBytes != len(p.IDs)*ctDim*4 {
			return fmt.Errorf("posting %d: %d ids, %d versions, %d vector bytes", p.ID, len(p.IDs), len(p.Versions), p.VectorBytes)
		}
		if ix.IsHead(p.ID) {
			heads++
		}
		for i, id := range p.IDs {
			if ix.IsCurrent(id, p.Versions[i]) && v.got[id] == nil {
				return fmt.Errorf("posting %d: current copy of id %d, which holds no vector", p.ID, id)
			}
		}
		return nil
	})
	if err != nil {
		v.fatalf("ScanPostings: %v", err)
	}
	if heads > v.tree.Heads {
		v.fatalf("ScanPostings found %d heads, the tree has %d", heads, v.tree.Heads)
	}
}
