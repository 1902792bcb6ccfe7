package index

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// exhaustive reads every posting, unpruned.
var exhaustive = &SearchParams{NProbe: 1 << 20, Beam: 1 << 20, Epsilon: -1}

func randVec(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// findsExactly reports whether an exhaustive search for v returns id at
// distance 0.
func findsExactly(t *testing.T, ix *Index, id uint64, v []float32) bool {
	t.Helper()
	res, err := ix.Search(v, 5, exhaustive)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.ID == id && r.Distance == 0 {
			return true
		}
	}
	return false
}

func returns(t *testing.T, ix *Index, id uint64, q []float32, k int) bool {
	t.Helper()
	res, err := ix.Search(q, k, exhaustive)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(res, func(r Result) bool { return r.ID == id })
}

func TestUpsertDeleteGet(t *testing.T) {
	const dim, n = 16, 3000
	data := clustered(n, dim, 20, 3, 3)
	ix, dir := buildTest(t, data, dim, &Options{Ratio: 0.05})
	ix.PauseMaintenance() // deterministic: Drain runs maintenance where the test says
	rng := rand.New(rand.NewPCG(1, 2))

	// A built vector is there to Get.
	got, err := ix.Get(7)
	if err != nil || !slices.Equal(got, data[7*dim:8*dim]) {
		t.Fatalf("Get(7) = %v, %v; want the built row", got, err)
	}
	// Insert new ids.
	newIDs := []uint64{n, n + 1, 1 << 40}
	newVecs := [][]float32{randVec(rng, dim), randVec(rng, dim), randVec(rng, dim)}
	if err := ix.Upsert(newIDs, newVecs); err != nil {
		t.Fatal(err)
	}
	if ix.Len() != n+3 {
		t.Fatalf("Len = %d, want %d", ix.Len(), n+3)
	}
	for i, id := range newIDs {
		if !findsExactly(t, ix, id, newVecs[i]) {
			t.Fatalf("inserted id %d not found by exhaustive search", id)
		}
		if g, err := ix.Get(id); err != nil || !slices.Equal(g, newVecs[i]) {
			t.Fatalf("Get(%d) = %v, %v", id, g, err)
		}
	}
	// Replace a built vector: its old copy must never come back.
	old := slices.Clone(data[5*dim : 6*dim])
	repl := randVec(rng, dim)
	if err := ix.Upsert([]uint64{5}, [][]float32{repl}); err != nil {
		t.Fatal(err)
	}
	if !findsExactly(t, ix, 5, repl) {
		t.Fatal("replaced vector not found at its new place")
	}
	res, _ := ix.Search(old, 3, exhaustive)
	for _, r := range res {
		if r.ID == 5 && r.Distance == 0 {
			t.Fatal("stale copy of id 5 returned")
		}
	}
	// Delete, including ids never stored.
	gone, err := ix.Delete([]uint64{n, 9, 123456789})
	if err != nil || gone != 2 {
		t.Fatalf("Delete = %d, %v; want 2, nil", gone, err)
	}
	for _, c := range []struct {
		id uint64
		v  []float32
	}{{n, newVecs[0]}, {9, data[9*dim : 10*dim]}} {
		if _, err := ix.Get(c.id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(%d) after delete: %v, want ErrNotFound", c.id, err)
		}
		if returns(t, ix, c.id, c.v, 10) {
			t.Fatalf("deleted id %d returned by search", c.id)
		}
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
	// Fold everything, check, reopen, check the same answers.
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	if st := ix.Stats(); st.TailBytes != 0 || st.Folds == 0 {
		t.Fatalf("after Drain: tail bytes %d, folds %d", st.TailBytes, st.Folds)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	ix2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	if err := ix2.Check(); err != nil {
		t.Fatal(err)
	}
	if ix2.Len() != n+3-2 {
		t.Fatalf("Len after reopen = %d, want %d", ix2.Len(), n+1)
	}
	if !findsExactly(t, ix2, 1<<40, newVecs[2]) || !findsExactly(t, ix2, 5, repl) {
		t.Fatal("upserts lost across reopen")
	}
	if returns(t, ix2, 9, data[9*dim:10*dim], 10) {
		t.Fatal("delete lost across reopen")
	}
}

func TestUpsertBadInput(t *testing.T) {
	const dim = 8
	dir := filepath.Join(t.TempDir(), "ix")
	if _, err := Create(dir, dim, &Options{Elem: Uint8}); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	good := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	if err := ix.Upsert([]uint64{1}, [][]float32{good}); err != nil {
		t.Fatal(err)
	}
	nan := slices.Clone(good)
	nan[3] = float32(nan[3] * 0 / 0)
	for _, c := range []struct {
		name string
		ids  []uint64
		vecs [][]float32
		want error
	}{
		{"empty", nil, nil, ErrBadInput},
		{"count mismatch", []uint64{2, 3}, [][]float32{good}, ErrBadInput},
		{"wrong dim", []uint64{2}, [][]float32{good[:7]}, ErrDimensionMismatch},
		{"NaN", []uint64{2}, [][]float32{nan}, ErrNotFinite},
		{"duplicate ids", []uint64{2, 2}, [][]float32{good, good}, ErrBadInput},
		{"not a uint8", []uint64{2}, [][]float32{{1.5, 2, 3, 4, 5, 6, 7, 8}}, ErrBadInput},
		{"bad batch keeps nothing", []uint64{1, 4}, [][]float32{{9, 9, 9, 9, 9, 9, 9, 9}, good[:3]}, ErrDimensionMismatch},
	} {
		if err := ix.Upsert(c.ids, c.vecs); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := ix.Delete(nil); !errors.Is(err, ErrBadInput) {
		t.Errorf("empty delete: %v", err)
	}
	if _, err := ix.Delete([]uint64{1, 1}); !errors.Is(err, ErrBadInput) {
		t.Errorf("duplicate delete: %v", err)
	}
	// Nothing of the failed batches is stored; id 1 is intact.
	if g, err := ix.Get(1); err != nil || !slices.Equal(g, good) {
		t.Fatalf("Get(1) = %v, %v", g, err)
	}
	if ix.Len() != 1 || ix.Contains(2) || ix.Contains(4) {
		t.Fatalf("failed batches left data: Len %d", ix.Len())
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestCreateEmptyGrowByUpserts(t *testing.T) {
	const dim = 12
	for _, c := range []struct {
		m Metric
		q Quant
	}{{L2, QuantNone}, {Cosine, QuantNone}, {InnerProduct, QuantNone}, {L2, QuantRaBitQ}, {Cosine, QuantRaBitQ}, {InnerProduct, QuantRaBitQ}} {
		m := c.m
		t.Run(m.String()+"/"+c.q.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ix")
			if _, err := Create(dir, dim, &Options{Metric: m, PostingCap: 32, Quant: c.q}); err != nil {
				t.Fatal(err)
			}
			ix, err := Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := ix.Search(make([]float32, dim), 5, nil); m != Cosine && (err != nil || len(res) != 0) {
				t.Fatalf("empty index search = %v, %v", res, err)
			}
			rng := rand.New(rand.NewPCG(5, 5))
			var vecs [][]float32
			for b := 0; b < 20; b++ {
				ids := make([]uint64, 25)
				vs := make([][]float32, 25)
				for i := range ids {
					ids[i] = uint64(b*25 + i)
					vs[i] = randVec(rng, dim)
				}
				vecs = append(vecs, vs...)
				if err := ix.Upsert(ids, vs); err != nil {
					t.Fatal(err)
				}
			}
			if err := ix.Check(); err != nil {
				t.Fatal(err)
			}
			ix.Close()
			ix, err = Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			ix.PauseMaintenance() // verify on a quiet index
			if ix.Len() != 500 {
				t.Fatalf("Len = %d", ix.Len())
			}
			for id := 0; id < 500; id += 37 {
				if m == InnerProduct {
					// The top inner product need not be the vector itself:
					// ask for all of them.
					if !returns(t, ix, uint64(id), vecs[id], 500) {
						t.Fatalf("vector %d not found", id)
					}
					continue
				}
				res, err := ix.Search(vecs[id], 1, exhaustive)
				if err != nil || len(res) != 1 || res[0].ID != uint64(id) {
					t.Fatalf("search for vector %d = %v, %v", id, res, err)
				}
			}
			if err := ix.Drain(); err != nil {
				t.Fatal(err)
			}
			if err := ix.Check(); err != nil {
				t.Fatal(err)
			}
			// Splits (before or after the reopen) grew the one head of an
			// empty index and kept every posting within the cap.
			st := ix.Stats()
			if st.Heads < 500/32 {
				t.Fatalf("500 vectors, cap 32: %d heads", st.Heads)
			}
			err = ix.ScanPostings(func(p *PostingInfo) error {
				id := p.ID
				if len(p.IDs) > 32 {
					t.Errorf("posting %d holds %d copies, cap 32", id, len(p.IDs))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d heads, %d splits, %d merges, %d folds, %d reassigned", m, st.Heads, st.Splits, st.Merges, st.Folds, st.Reassigned)
		})
	}
}

// TestConcurrentUpdates runs upserts, deletes, searches, Stats and maintenance
// together (run it with -race); afterwards every vector's last write is
// what the index holds.
func TestConcurrentUpdates(t *testing.T) {
	const dim, n = 8, 2000
	data := clustered(n, dim, 10, 7, 7)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05, PostingCap: 40, NoSync: true})
	const writers, rounds, span = 3, 60, 500
	var wg sync.WaitGroup
	final := make([]map[uint64][]float32, writers) // per writer: its ids' last vectors (nil = deleted)
	for w := 0; w < writers; w++ {
		final[w] = map[uint64][]float32{}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			base := uint64(n + w*span) // writers own disjoint ids
			for r := 0; r < rounds; r++ {
				ids := make([]uint64, 0, 8)
				var vs [][]float32
				for len(ids) < 8 {
					id := base + uint64(rng.IntN(span))
					if !slices.Contains(ids, id) {
						ids = append(ids, id)
						vs = append(vs, randVec(rng, dim))
					}
				}
				if r%4 == 3 {
					if _, err := ix.Delete(ids[:3]); err != nil {
						t.Error(err)
						return
					}
					for _, id := range ids[:3] {
						final[w][id] = nil
					}
					continue
				}
				if err := ix.Upsert(ids, vs); err != nil {
					t.Error(err)
					return
				}
				for i, id := range ids {
					final[w][id] = vs[i]
				}
			}
		}(w)
	}
	stop := make(chan struct{})
	var sg sync.WaitGroup
	for s := 0; s < 2; s++ {
		sg.Add(1)
		go func(s int) {
			defer sg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 11))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := ix.Search(randVec(rng, dim), 10, nil); err != nil {
					t.Error(err)
					return
				}
				// Stats reads the tree that maintenance edits (a
				// gRPC GetStats does this beside searches).
				if st := ix.Stats(); st.Heads < 1 {
					t.Errorf("Stats: %d heads", st.Heads)
					return
				}
			}
		}(s)
	}
	wg.Wait()
	close(stop)
	sg.Wait()
	// Check needs a quiet index.
	ix.PauseMaintenance()
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
	for w := range final {
		for id, v := range final[w] {
			if v == nil {
				if ix.Contains(id) {
					t.Fatalf("deleted id %d still there", id)
				}
				continue
			}
			if !findsExactly(t, ix, id, v) {
				t.Fatalf("id %d: last upsert not found", id)
			}
		}
	}
}

// TestSearchDuringMaintenance searches for vectors nobody touches while
// writers force splits, merges and reassigns around them: no search may
// miss one (publish.go's protocol). Without the grace period a search
// routed by the old tree reads a merged posting after it is gone.
func TestSearchDuringMaintenance(t *testing.T) {
	for _, q := range []Quant{QuantNone, QuantRaBitQ} {
		t.Run(q.String(), func(t *testing.T) { testSearchDuringMaintenance(t, q) })
	}
}

func testSearchDuringMaintenance(t *testing.T, quant Quant) {
	const dim, n = 8, 3000
	data := clustered(n, dim, 30, 5, 5)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05, PostingCap: 64, NoSync: true, Quant: quant})
	// Every 30th built vector is stable; the others are deleted, which
	// empties postings into merges, while new vectors split others.
	var stable []uint64
	for id := uint64(0); id < n; id += 30 {
		stable = append(stable, id)
	}
	// Searches pause between routing and reading, as a slow disk would
	// make them, so that maintenance publishes while they are in flight.
	testHookRouted = func() { time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond) }
	defer func() { testHookRouted = nil }()
	stop := make(chan struct{})
	var misses sync.Map
	var sg sync.WaitGroup
	for s := 0; s < 2; s++ {
		sg.Add(1)
		go func(s int) {
			defer sg.Done()
			for i := s; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := stable[i%len(stable)]
				res, err := ix.Search(data[id*dim:(id+1)*dim], 3, exhaustive)
				if err != nil {
					t.Error(err)
					return
				}
				if !slices.ContainsFunc(res, func(r Result) bool { return r.ID == id }) {
					misses.Store(id, res)
				}
			}
		}(s)
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		sg.Wait()
	}()
	rng := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 30; round++ {
		var del []uint64
		for id := uint64(round); id < n; id += 30 {
			if id%30 != 0 {
				del = append(del, id)
			}
		}
		if len(del) > 0 {
			if _, err := ix.Delete(del); err != nil {
				t.Fatal(err)
			}
		}
		ids := make([]uint64, 40)
		vs := make([][]float32, 40)
		for i := range ids {
			ids[i] = uint64(n + round*40 + i)
			// Near a few built vectors: those postings overflow and split.
			src := 1 + 30*rng.IntN(4)
			vs[i] = slices.Clone(data[src*dim : (src+1)*dim])
			for j := range vs[i] {
				vs[i][j] += float32(rng.NormFloat64()) * 0.2
			}
		}
		if err := ix.Upsert(ids, vs); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	sg.Wait()
	st := ix.Stats()
	t.Logf("%d splits, %d merges, %d reinserted, %d reassigned, %d heads, %d swept", st.Splits, st.Merges, st.Reinserted, st.Reassigned, st.Heads, ix.maint.swept.Load())
	if st.Splits == 0 || st.Merges == 0 {
		t.Fatalf("workload did no splits (%d) or no merges (%d)", st.Splits, st.Merges)
	}
	misses.Range(func(k, v any) bool {
		t.Errorf("a search during maintenance missed stable id %d: got %v", k, v)
		return true
	})
	ix.PauseMaintenance()
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestSweepCollectsDeleted deletes half the vectors and no upsert touches
// their postings: Drain's sweep must still drop the stale copies (every
// posting ends with under a quarter stale) and merge emptied postings.
func TestSweepCollectsDeleted(t *testing.T) {
	const dim, n = 8, 2000
	data := clustered(n, dim, 10, 3, 3)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05})
	ix.PauseMaintenance()
	// Delete whole clusters' worth: every id below n/2, so some postings
	// empty entirely.
	var del []uint64
	for id := uint64(0); id < n/2; id++ {
		del = append(del, id)
	}
	if _, err := ix.Delete(del); err != nil {
		t.Fatal(err)
	}
	stale := func() (stale, total, worst int) {
		err := ix.ScanPostings(func(p *PostingInfo) error {
			s := 0
			for i, v := range p.IDs {
				if !ix.vers.live(v, p.Versions[i]) {
					s++
				}
			}
			stale += s
			total += len(p.IDs)
			if s*sweepShare >= len(p.IDs) && s > 0 {
				worst++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	s0, t0, w0 := stale()
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	s1, t1, w1 := stale()
	t.Logf("stale copies %d of %d (%d postings ≥ 1/%d stale) → %d of %d (%d); %d merges", s0, t0, w0, sweepShare, s1, t1, w1, ix.Stats().Merges)
	if w0 == 0 || w1 != 0 {
		t.Fatalf("postings a quarter or more stale: %d before the sweep, %d after; want >0 and 0", w0, w1)
	}
	// The rewrites left the build's segment mostly dead: Drain compacted
	// it, and no sealed segment is left under half live.
	if ix.maint.compacted.Load() == 0 {
		t.Error("no segment compaction after the sweep")
	}
	if _, found, err := ix.store.CompactSegment(compactLive, compactBytes); err != nil || found {
		t.Errorf("after Drain, CompactSegment still finds a segment under %v live (err %v)", compactLive, err)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
	for id := uint64(n / 2); id < n; id += 37 {
		if !findsExactly(t, ix, id, data[id*dim:(id+1)*dim]) {
			t.Fatalf("id %d lost by the sweep", id)
		}
	}
}
