package cluster

import (
	"math/rand/v2"
	"testing"
)

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

// routeBench is the tree and held-out queries of the routing benchmarks,
// built once per process: building takes a while.
var routeBench struct {
	tr *Tree
	qs []float32
}

// lowRank returns n points of dim near an r-dimensional subspace: a fixed
// random dim×r map of standard normal latent points, plus noise of scale
// noise. Real embeddings and descriptors have a low intrinsic dimension
// like this, and Build gives them trees as shallow as SIFT's; blobs of
// isotropic noise in 128 dimensions give far deeper ones.
func lowRank(n, dim, r int, noise float64, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 9))
	a := make([]float64, dim*r)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	out := make([]float32, n*dim)
	z := make([]float64, r)
	for i := range n {
		for j := range z {
			z[j] = rng.NormFloat64()
		}
		for d := range dim {
			s := 0.0
			for j, zj := range z {
				s += a[d*r+j] * zj
			}
			out[i*dim+d] = float32(s + noise*rng.NormFloat64())
		}
	}
	return out
}

// routeBenchSetup builds a tree of about 100k heads over 400k points of
// dim 128 (lowRank, 32 latent dimensions) with K = 32, and keeps 4096 more
// points as queries. Like the SIFT trees it has five levels below the
// root, and a query's beam of 128 scores about 5k centroids.
func routeBenchSetup(b *testing.B) (*Tree, []float32) {
	const leaves, dim, nq = 100_000, 128, 4096
	if routeBench.tr == nil {
		data := lowRank(4*leaves+nq, dim, 32, 0.5, 51)
		tr, err := Build(data[:4*leaves*dim], dim, Options{Leaves: leaves, Seed: 51})
		if err != nil {
			b.Fatal(err)
		}
		routeBench.tr, routeBench.qs = tr, data[4*leaves*dim:]
	}
	return routeBench.tr, routeBench.qs
}

// The routing of Build's assignment and of online upserts: n = 64
// candidates, beam 128, on a 100k-head tree; one Search per query against
// SearchBatch over batches of 1000.
const routeN, routeBeam, routeBatch = 64, 128, 1000

func BenchmarkRoute100kx128Search(b *testing.B) {
	tr, qs := routeBenchSetup(b)
	dim, nq := tr.Dim, len(qs)/tr.Dim
	var ws Workspace
	b.ResetTimer()
	for i := range b.N {
		qi := i % nq
		if got := tr.Search(qs[qi*dim:(qi+1)*dim], routeN, routeBeam, &ws); len(got) != routeN {
			b.Fatalf("Search returned %d leaves, want %d", len(got), routeN)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/query")
}

func BenchmarkRoute100kx128SearchBatch(b *testing.B) {
	tr, qs := routeBenchSetup(b)
	dim, nq := tr.Dim, len(qs)/tr.Dim
	var ws BatchWorkspace
	b.ResetTimer()
	for i := range b.N {
		lo := i * routeBatch % (nq - routeBatch + 1)
		got := tr.SearchBatch(qs[lo*dim:(lo+routeBatch)*dim], routeN, routeBeam, &ws)
		if len(got) != routeBatch || len(got[0]) != routeN {
			b.Fatalf("SearchBatch returned %d results, the first of %d leaves, want %d of %d", len(got), len(got[0]), routeBatch, routeN)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*routeBatch), "ns/query")
}
