package gpu

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks shared by the backends (Benchmark<Op><Size><Impl>); the CUDA
// ones are in cuda_test.go and skip without a device.

func benchTopK(b *testing.B, be Backend, n, m, dim, k int) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, y := randRows(rng, n, dim, 0), randRows(rng, m, dim, 0)
	ids, dists := make([]int32, n*k), make([]float32, n*k)
	b.SetBytes(int64(n) * int64(m) * 4)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := be.TopK(L2, x, y, dim, k, ids, dists); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2*float64(n)*float64(m)*float64(dim)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func benchAssign(b *testing.B, be Backend, n, dim, k int) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := randRows(rng, n, dim, 0)
	pts, err := be.LoadPoints(data, dim)
	if err != nil {
		b.Fatal(err)
	}
	defer pts.Close()
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	cents := data[:k*dim]
	labels, dists := make([]int32, n), make([]float32, n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := pts.Assign(idx, []int32{0, int32(n)}, cents, []int32{0, int32(k)}, nil, labels, dists); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpoints/s")
}

func benchTree(b *testing.B, be Backend, nq, dim, n, beam int) {
	rng := rand.New(rand.NewPCG(5, 6))
	tr := randTree(rng, dim, 4, 32, L2)
	ti, err := be.LoadTree(tr)
	if err != nil {
		b.Fatal(err)
	}
	defer ti.Close()
	q := randRows(rng, nq, dim, 0)
	leaves, dists := make([]int32, nq*n), make([]float32, nq*n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ti.Search(q, n, beam, leaves, dists); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(nq)*float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

func BenchmarkTreeSearch8kx128CPU(b *testing.B) { benchTree(b, CPU(), 8192, 128, 64, 128) }
