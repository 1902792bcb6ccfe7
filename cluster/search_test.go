package cluster

import "testing"

// benchTrees caches the trees benchSearch builds: the benchmark function
// runs once per b.N tried, and building takes seconds.
var benchTrees = map[[2]int]*Tree{}

// benchSearch routes queries through a tree of about leaves heads of dim
// built on blobs, with index's defaults: n = NProbe 32, beam 128.
func benchSearch(b *testing.B, leaves, dim int) {
	const nq, n, beam = 256, 32, 128
	tr := benchTrees[[2]int{leaves, dim}]
	if tr == nil {
		var err error
		if tr, err = Build(blobs(4*leaves, dim, 64, 21), dim, Options{Leaves: leaves, Seed: 21}); err != nil {
			b.Fatal(err)
		}
		benchTrees[[2]int{leaves, dim}] = tr
	}
	q := blobs(nq, dim, 64, 22)
	var ws Workspace
	b.ResetTimer()
	for i := range b.N {
		qi := q[i%nq*dim : (i%nq+1)*dim]
		if got := tr.Search(qi, n, beam, &ws); len(got) != n {
			b.Fatalf("Search returned %d leaves, want %d", len(got), n)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

func BenchmarkSearch10kx16(b *testing.B)  { benchSearch(b, 10000, 16) }
func BenchmarkSearch10kx128(b *testing.B) { benchSearch(b, 10000, 128) }

// TestSearchTiesBySmallerLeaf: leaves at equal distances come back by
// leaf id, whatever order the beam meets them in.
func TestSearchTiesBySmallerLeaf(t *testing.T) {
	tr, err := Build(blobs(2000, 4, 10, 23), 4, Options{Leaves: 200, Seed: 23})
	if err != nil {
		t.Fatal(err)
	}
	for p := range tr.NumLeaves() {
		clear(tr.Head(p)) // every head at the origin: all leaves tie
	}
	var ws Workspace
	got := tr.Search([]float32{1, 2, 3, 4}, 10, tr.NumNodes(), &ws)
	for i, c := range got {
		if c.Leaf != uint32(i) || c.Dist != 30 {
			t.Fatalf("result %d is leaf %d at %v, want leaf %d at 30 (ties by smaller leaf id): %v", i, c.Leaf, c.Dist, i, got)
		}
	}
	if len(got) != 10 {
		t.Fatalf("Search returned %d leaves, want 10", len(got))
	}
}
