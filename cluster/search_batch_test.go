package cluster

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/shoaldb/shoal/internal/topk"
	"github.com/shoaldb/shoal/internal/vec"
)

// sameCandidates reports where got and want differ: a leaf, or a distance
// compared bit for bit, or "" if they agree.
func sameCandidates(got, want []Candidate) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d candidates, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Leaf != want[i].Leaf || math.Float32bits(got[i].Dist) != math.Float32bits(want[i].Dist) {
			return fmt.Sprintf("candidate %d is leaf %d at %v, want leaf %d at %v", i, got[i].Leaf, got[i].Dist, want[i].Leaf, want[i].Dist)
		}
	}
	return ""
}

// checkBatch checks that SearchBatch over qs returns Search's result for
// every query, for each (n, beam) in params.
func checkBatch(t *testing.T, tr *Tree, qs []float32, params [][2]int, bws *BatchWorkspace) {
	t.Helper()
	var ws Workspace
	nq := len(qs) / tr.Dim
	for _, p := range params {
		n, beam := p[0], p[1]
		got := tr.SearchBatch(qs, n, beam, bws)
		if len(got) != nq {
			t.Fatalf("n %d beam %d: SearchBatch returned %d results for %d queries", n, beam, len(got), nq)
		}
		for i := range nq {
			want := tr.Search(qs[i*tr.Dim:(i+1)*tr.Dim], n, beam, &ws)
			if diff := sameCandidates(got[i], want); diff != "" {
				t.Fatalf("n %d beam %d, query %d of %d: SearchBatch differs from Search: %s", n, beam, i, nq, diff)
			}
		}
	}
}

// randomQueries returns nq queries of dim: half near the data's centres
// (blobs), half uniform in a box around them, so that some queries share
// the beam's nodes and some do not.
func randomQueries(nq, dim int, seed uint64) []float32 {
	q := blobs(nq, dim, 8, seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	for i := nq / 2 * dim; i < len(q); i++ {
		q[i] = float32(rng.Float64()*60 - 30)
	}
	return q
}

var batchParams = [][2]int{
	{1, 1}, {1, 8}, {5, 2}, {16, 4}, {10, 40}, {64, 128}, {32, 0}, {0, 10}, {1000, 1000},
}

func TestSearchBatchMatchesSearch(t *testing.T) {
	var bws BatchWorkspace // shared by all the trees: it must adapt
	for _, tc := range []struct {
		n, dim, leaves, k int
	}{
		{1, 8, 1, 4}, // a root that is a leaf
		{2000, 7, 150, 4},
		{3000, 16, 300, 32},
		{20000, 33, 2000, 32},
		{500, 5, 60, 64},
	} {
		for _, m := range []vec.Metric{vec.L2, vec.InnerProduct} {
			t.Run(fmt.Sprintf("%v/%dx%d/leaves%d/k%d", m, tc.n, tc.dim, tc.leaves, tc.k), func(t *testing.T) {
				tr := mustBuild(t, tc.n, tc.dim, tc.leaves, tc.k, uint64(tc.n), m)
				for _, nq := range []int{0, 1, 3, 257, 600} {
					checkBatch(t, tr, randomQueries(nq, tc.dim, uint64(nq)), batchParams, &bws)
				}
			})
		}
	}
}

// TestSearchBatchAfterEdits: on trees edited until they hold dead slots,
// holes in the leaf ids, deepened and emptied nodes, SearchBatch still
// returns Search's result.
func TestSearchBatchAfterEdits(t *testing.T) {
	const dim = 8
	for _, m := range []vec.Metric{vec.L2, vec.InnerProduct} {
		t.Run(m.String(), func(t *testing.T) {
			tr := mustBuild(t, 3000, dim, 150, 4, 31, m)
			want := modelOf(tr)
			qs := randomQueries(100, dim, 32)
			var bws BatchWorkspace
			checked := 0
			randomEdits(t, tr, want, 1500, 33, func(i int, e edit) {
				if i%50 != 0 {
					return
				}
				checkBatch(t, tr, qs, [][2]int{{1, 1}, {8, 3}, {16, 64}, {tr.LiveLeaves(), tr.NumNodes()}}, &bws)
				if tr.DeadNodes() > 0 {
					checked++
				}
			})
			if checked == 0 {
				t.Fatal("no check ran on a tree with dead slots")
			}
		})
	}
}

// TestSearchBatchTies: with every head at one point all leaves tie, and
// SearchBatch breaks the ties as Search does, by the smaller leaf id.
func TestSearchBatchTies(t *testing.T) {
	tr := mustBuild(t, 2000, 4, 200, 8, 23, vec.L2)
	for p := range tr.NumLeaves() {
		clear(tr.Head(p))
	}
	checkBatch(t, tr, randomQueries(20, 4, 24), [][2]int{{10, 10}, {10, tr.NumNodes()}, {300, 300}}, new(BatchWorkspace))
}

func TestSearchBatchDoesNotAllocate(t *testing.T) {
	tr := mustBuild(t, 5000, 16, 500, 32, 41, vec.L2)
	qs := randomQueries(64, 16, 42)
	var bws BatchWorkspace
	tr.SearchBatch(qs, 32, 64, &bws)
	if a := testing.AllocsPerRun(10, func() { tr.SearchBatch(qs, 32, 64, &bws) }); a != 0 {
		t.Fatalf("SearchBatch allocated %v times per call with a warm workspace, want 0", a)
	}
}

func TestSearchBatchPanicsOnRaggedQueries(t *testing.T) {
	tr := mustBuild(t, 500, 4, 20, 4, 43, vec.L2)
	defer func() {
		if recover() == nil {
			t.Fatal("SearchBatch of 7 values at dim 4 did not panic")
		}
	}()
	tr.SearchBatch(make([]float32, 7), 4, 8, new(BatchWorkspace))
}

// TestSearchBatchStampsWrap: when the workspace's level counter wraps,
// stamps left by earlier levels are not taken for current ones.
func TestSearchBatchStampsWrap(t *testing.T) {
	tr := mustBuild(t, 3000, 8, 300, 4, 44, vec.L2)
	qs := randomQueries(50, 8, 45)
	var bws BatchWorkspace
	checkBatch(t, tr, qs, [][2]int{{8, 16}}, &bws)
	bws.level = math.MaxUint32 - 2 // wraps during the next call
	for _, g := range []*byNode{&bws.early, &bws.late} {
		for i := range g.stamp {
			g.stamp[i] = uint32(i) % 4 // what levels 1-3 could have left
		}
	}
	checkBatch(t, tr, qs, [][2]int{{8, 16}, {8, 16}}, &bws)
}

func TestKthNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(46, 46))
	for _, n := range []int{1, 2, 7, 8, 9, 31, 128} {
		for _, k := range []int{1, 3, earlyNodes} {
			items := make([]topk.Item[float32, uint32], n)
			for i := range items {
				// Few distinct distances, so ties fall to the ids.
				items[i] = topk.Item[float32, uint32]{Dist: float32(rng.IntN(4)), ID: uint32(rng.IntN(1000))}
			}
			sorted := slices.Clone(items)
			slices.SortFunc(sorted, func(a, b topk.Item[float32, uint32]) int {
				return cmp.Or(cmp.Compare(a.Dist, b.Dist), cmp.Compare(a.ID, b.ID))
			})
			want := sorted[min(k, n)-1]
			if got := kthNearest(items, k); got != want {
				t.Fatalf("n %d k %d: kthNearest = %v, want %v (sorted %v)", n, k, got, want, sorted)
			}
		}
	}
}

// TestSearchBatchConcurrent: goroutines routing on one tree, each with its
// own workspace, get Search's results (run with -race: SearchBatch writes
// nothing shared).
func TestSearchBatchConcurrent(t *testing.T) {
	const goroutines, n, beam = 4, 16, 32
	tr := mustBuild(t, 5000, 16, 500, 32, 47, vec.L2)
	qs := randomQueries(200, 16, 48)
	got := make([][][]Candidate, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			var ws BatchWorkspace
			for range 3 {
				got[g] = tr.SearchBatch(qs, n, beam, &ws)
			}
		})
	}
	wg.Wait()
	var ws Workspace
	for i := range len(qs) / tr.Dim {
		want := tr.Search(qs[i*tr.Dim:(i+1)*tr.Dim], n, beam, &ws)
		for g := range goroutines {
			if diff := sameCandidates(got[g][i], want); diff != "" {
				t.Fatalf("goroutine %d, query %d: SearchBatch differs from Search: %s", g, i, diff)
			}
		}
	}
}
