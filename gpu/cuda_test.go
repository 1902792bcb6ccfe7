//go:build linux && cgo

package gpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// The CUDA tests run where a CUDA device is usable and skip, saying why,
// everywhere else (CI has no GPU). README.md ("GPU tests") says how to
// run them on a GPU machine from a binary built without CUDA.

// cudaTol: the GEMM form ‖x‖² − 2x·y + ‖y‖² in float32 loses a few ulps of
// the squared norms; the direct forms (k-means, tree search) less.
const cudaTol = 1e-5

var testCUDA struct {
	once sync.Once
	b    *cudaBackend
	err  error
}

// openTestCUDA returns the process's CUDA backend or skips the test.
func openTestCUDA(t testing.TB) *cudaBackend {
	testCUDA.once.Do(func() {
		b, err := Open(&Options{Mode: On})
		if err != nil {
			testCUDA.err = err
			return
		}
		testCUDA.b = b.(*cudaBackend)
	})
	if testCUDA.err != nil {
		if errors.Is(testCUDA.err, ErrNoDevice) {
			t.Skipf("no CUDA device: %v", testCUDA.err)
		}
		t.Fatal(testCUDA.err)
	}
	return testCUDA.b
}

func TestCUDABackend(t *testing.T) {
	b := openTestCUDA(t)
	t.Logf("%s", b.Info().Name)
	testBackend(t, b, cudaTol)
}

// TestCUDAOwnGEMM runs the flat kernels with cuBLAS switched off, so that
// both distance-tile paths are checked where cuBLAS is installed.
func TestCUDAOwnGEMM(t *testing.T) {
	b := openTestCUDA(t)
	if b.blas == nil {
		t.Skip("no cuBLAS: TestCUDABackend already ran the own kernel")
	}
	saved := b.blas
	b.blas = nil
	defer func() { b.blas = saved }()
	t.Run("Distances", func(t *testing.T) { testDistances(t, b, cudaTol) })
	t.Run("TopK", func(t *testing.T) { testTopK(t, b, cudaTol) })
	t.Run("TopKDuplicates", func(t *testing.T) { testTopKDuplicates(t, b) })
}

// nearTie reports whether d sits within e of one of its neighbours in a
// sorted list: where two backends may legitimately order differently.
func nearTie(ds []float32, r int, e float64) bool {
	return (r > 0 && float64(ds[r]-ds[r-1]) <= e) || (r+1 < len(ds) && float64(ds[r+1]-ds[r]) <= e)
}

// TestCUDAMatchesCPU compares the two backends directly on larger inputs:
// identical answers except between candidates within float rounding.
func TestCUDAMatchesCPU(t *testing.T) {
	b := openTestCUDA(t)
	cpu := CPU()
	rng := rand.New(rand.NewPCG(11, 11))

	t.Run("TopK", func(t *testing.T) {
		n, m, dim, k := 2000, 50000, 128, 64
		x, y := randRows(rng, n, dim, 0), randRows(rng, m, dim, 0)
		gi, gd := make([]int32, n*k), make([]float32, n*k)
		ci, cd := make([]int32, n*k), make([]float32, n*k)
		if err := b.TopK(L2, x, y, dim, k, gi, gd); err != nil {
			t.Fatal(err)
		}
		if err := cpu.TopK(L2, x, y, dim, k, ci, cd); err != nil {
			t.Fatal(err)
		}
		diff := 0
		for i := range gi {
			e := 1e-5 * float64(cd[i])
			if math.Abs(float64(gd[i]-cd[i])) > e+1e-3 {
				t.Fatalf("query %d rank %d: GPU distance %v, CPU %v", i/k, i%k, gd[i], cd[i])
			}
			if gi[i] != ci[i] {
				if !nearTie(cd[i/k*k:(i/k+1)*k], i%k, 2e-5*float64(cd[i])+1e-3) {
					t.Fatalf("query %d rank %d: GPU id %d, CPU id %d, not a tie (%v)", i/k, i%k, gi[i], ci[i], cd[i])
				}
				diff++
			}
		}
		t.Logf("%d of %d ranks differ, all near-ties", diff, n*k)
	})

	t.Run("Assign", func(t *testing.T) {
		p := newKMeansProblem(rng, 200000, 128, 300, 40)
		gp, err := b.LoadPoints(p.data, p.dim)
		if err != nil {
			t.Fatal(err)
		}
		defer gp.Close()
		cp, _ := cpu.LoadPoints(p.data, p.dim)
		gl, gd := make([]int32, len(p.idx)), make([]float32, len(p.idx))
		if err := gp.Assign(p.idx, p.pseg, p.cents, p.cseg, p.pen, gl, gd); err != nil {
			t.Fatal(err)
		}
		if err := cp.Assign(p.idx, p.pseg, p.cents, p.cseg, p.pen, p.labels, p.dists); err != nil {
			t.Fatal(err)
		}
		diff := 0
		for i := range gl {
			if gl[i] != p.labels[i] {
				// Only a near-tie may differ: compare penalised costs.
				s := segOf(p.pseg, i)
				c0 := int(p.cseg[s])
				x := p.data[int(p.idx[i])*p.dim : int(p.idx[i]+1)*p.dim]
				cg := refDist(L2, x, p.cents[(c0+int(gl[i]))*p.dim:(c0+int(gl[i])+1)*p.dim]) + p.pen[c0+int(gl[i])]
				cc := refDist(L2, x, p.cents[(c0+int(p.labels[i]))*p.dim:(c0+int(p.labels[i])+1)*p.dim]) + p.pen[c0+int(p.labels[i])]
				if math.Abs(cg-cc) > 1e-5*cc+1e-4 {
					t.Fatalf("point %d: GPU label %d (cost %v), CPU label %d (cost %v)", i, gl[i], cg, p.labels[i], cc)
				}
				diff++
			}
			if math.Abs(float64(gd[i]-p.dists[i])) > 1e-5*float64(p.dists[i])+1e-4 && gl[i] == p.labels[i] {
				t.Fatalf("point %d: GPU distance %v, CPU %v", i, gd[i], p.dists[i])
			}
		}
		t.Logf("%d of %d labels differ, all near-ties", diff, len(gl))
		// Sums from the same labels are the same bits.
		gs, gc := make([]float64, len(p.sums)), make([]int, len(p.counts))
		if err := gp.Sums(p.idx, p.pseg, p.labels, p.cseg, gs, gc); err != nil {
			t.Fatal(err)
		}
		if err := cp.Sums(p.idx, p.pseg, p.labels, p.cseg, p.sums, p.counts); err != nil {
			t.Fatal(err)
		}
		for i := range gs {
			if math.Float64bits(gs[i]) != math.Float64bits(p.sums[i]) {
				t.Fatalf("sum %d: GPU %v, CPU %v: want the same bits", i, gs[i], p.sums[i])
			}
		}
	})

	// Few large clusters take kmeans_sums_wide (mean size >= wideMembers);
	// dim 100 leaves a partial 32-dimension chunk.
	t.Run("SumsWide", func(t *testing.T) {
		for _, dim := range []int{100, 128} {
			p := newKMeansProblem(rng, 100000, dim, 2, 8)
			for i := range p.labels {
				s := segOf(p.pseg, i)
				p.labels[i] = int32(rng.IntN(int(p.cseg[s+1] - p.cseg[s])))
			}
			if len(p.idx) < wideMembers*len(p.counts) {
				t.Fatalf("%d points in %d clusters: too few for the wide kernel", len(p.idx), len(p.counts))
			}
			gp, err := b.LoadPoints(p.data, dim)
			if err != nil {
				t.Fatal(err)
			}
			cp, _ := cpu.LoadPoints(p.data, dim)
			gs, gc := make([]float64, len(p.sums)), make([]int, len(p.counts))
			if err := gp.Sums(p.idx, p.pseg, p.labels, p.cseg, gs, gc); err != nil {
				t.Fatal(err)
			}
			if err := cp.Sums(p.idx, p.pseg, p.labels, p.cseg, p.sums, p.counts); err != nil {
				t.Fatal(err)
			}
			for i := range gs {
				if math.Float64bits(gs[i]) != math.Float64bits(p.sums[i]) {
					t.Fatalf("dim %d sum %d: GPU %v, CPU %v: want the same bits", dim, i, gs[i], p.sums[i])
				}
			}
			for i := range gc {
				if gc[i] != p.counts[i] {
					t.Fatalf("dim %d count %d: GPU %d, CPU %d", dim, i, gc[i], p.counts[i])
				}
			}
			gp.Close()
		}
	})

	t.Run("TreeSearch", func(t *testing.T) {
		tr := randTree(rng, 128, 3, 32, L2)
		gt, err := b.LoadTree(tr)
		if err != nil {
			t.Fatal(err)
		}
		defer gt.Close()
		ct, _ := cpu.LoadTree(tr)
		nq, n, beam := 20000, 64, 128
		q := randRows(rng, nq, 128, 0)
		gl, gd := make([]int32, nq*n), make([]float32, nq*n)
		cl, cd := make([]int32, nq*n), make([]float32, nq*n)
		if err := gt.Search(q, n, beam, gl, gd); err != nil {
			t.Fatal(err)
		}
		if err := ct.Search(q, n, beam, cl, cd); err != nil {
			t.Fatal(err)
		}
		diff, queries := 0, 0
		for i := 0; i < nq; i++ {
			qd := 0
			for r := i * n; r < (i+1)*n; r++ {
				if gl[r] != cl[r] || math.Abs(float64(gd[r]-cd[r])) > 1e-5*float64(cd[r])+1e-4 {
					qd++
				}
			}
			if qd > 0 {
				queries++
				diff += qd
			}
		}
		// A near-tie at a beam boundary can change which sub-trees are
		// searched, so a few queries may differ in more than a swap.
		if queries > nq/200 {
			t.Fatalf("%d of %d queries differ (%d ranks): more than near-ties explain", queries, nq, diff)
		}
		t.Logf("%d of %d queries differ (%d ranks)", queries, nq, diff)
	})
}

func segOf(pseg []int32, i int) int {
	s := 0
	for s+1 < len(pseg) && int(pseg[s+1]) <= i {
		s++
	}
	return s
}

// TestCUDAThroughput measures the distance kernels' device throughput
// against cuBLAS SGEMM on the same shapes (docs/gpu.md). It runs only with
// SHOAL_GPU_BENCH=1.
func TestCUDAThroughput(t *testing.T) {
	if os.Getenv("SHOAL_GPU_BENCH") != "1" {
		t.Skip("set SHOAL_GPU_BENCH=1 to measure")
	}
	b := openTestCUDA(t)
	t.Logf("%s", b.Info().Name)
	for _, sh := range []struct{ n, m, dim int }{{4096, 65536, 128}, {16384, 16384, 128}, {8192, 131072, 96}, {65536, 1024, 128}} {
		own, err := b.timeGEMM(sh.n, sh.m, sh.dim, 20, false)
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("GEMM %6dx%6dx%4d  own dist_gemm %8.3f ms %8.0f GFLOP/s", sh.n, sh.m, sh.dim, own.MedianMs, own.GFLOPS)
		if b.blas != nil {
			bl, err := b.timeGEMM(sh.n, sh.m, sh.dim, 20, true)
			if err != nil {
				t.Fatal(err)
			}
			line += fmt.Sprintf("  cuBLAS SGEMM %8.3f ms %8.0f GFLOP/s  own/cuBLAS %.2f", bl.MedianMs, bl.GFLOPS, own.GFLOPS/bl.GFLOPS)
		}
		t.Log(line)
	}
}

// TestCUDASpeed compares end-to-end calls (host to host) with the CPU
// backend on this machine. It runs only with SHOAL_GPU_BENCH=1.
func TestCUDASpeed(t *testing.T) {
	if os.Getenv("SHOAL_GPU_BENCH") != "1" {
		t.Skip("set SHOAL_GPU_BENCH=1 to measure")
	}
	b := openTestCUDA(t)
	cpu := CPU()
	rng := rand.New(rand.NewPCG(21, 21))
	timeIt := func(f func() error) float64 {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		return time.Since(start).Seconds()
	}
	// median3 times three calls after a warm-up one.
	median3 := func(f func() error) float64 {
		timeIt(f)
		ts := []float64{timeIt(f), timeIt(f), timeIt(f)}
		slices.Sort(ts)
		return ts[1]
	}
	{
		n, m, dim, k := 10000, 1000000, 128, 64
		x, y := randRows(rng, n, dim, 0), randRows(rng, m, dim, 0)
		ids, ds := make([]int32, n*k), make([]float32, n*k)
		timeIt(func() error { return b.TopK(L2, x[:1000*dim], y[:10000*dim], dim, k, ids[:1000*k], ds[:1000*k]) }) // warm-up
		g := timeIt(func() error { return b.TopK(L2, x, y, dim, k, ids, ds) })
		c := timeIt(func() error { return cpu.TopK(L2, x[:n/10*dim], y, dim, k, ids[:n/10*k], ds[:n/10*k]) }) * 10
		t.Logf("TopK %d×%d×%d k=%d: GPU %.3fs (%.0f GFLOP/s incl. transfers), CPU %.1fs (from a tenth) → %.0f×", n, m, dim, k, g, 2*float64(n)*float64(m)*float64(dim)/g/1e9, c, c/g)
	}
	for _, segs := range []int{1, 1024} {
		n, dim, k := 1000000, 128, 32
		p := newKMeansProblem(rng, n, dim, segs, k)
		if segs == 1 {
			// The root of a build: one node, k centroids.
			p.cents, p.pen, p.cseg = slices.Clone(p.data[:k*dim]), make([]float64, k), []int32{0, int32(k)}
			p.sums, p.counts = make([]float64, k*dim), make([]int, k)
		}
		gp, err := b.LoadPoints(p.data, dim)
		if err != nil {
			t.Fatal(err)
		}
		cp, _ := cpu.LoadPoints(p.data, dim)
		gl, gd := make([]int32, len(p.idx)), make([]float32, len(p.idx))
		ga := median3(func() error { return gp.Assign(p.idx, p.pseg, p.cents, p.cseg, p.pen, gl, gd) })
		ca := median3(func() error { return cp.Assign(p.idx, p.pseg, p.cents, p.cseg, p.pen, p.labels, p.dists) })
		gs := median3(func() error { return gp.Sums(p.idx, p.pseg, gl, p.cseg, p.sums, p.counts) })
		cs := median3(func() error { return cp.Sums(p.idx, p.pseg, gl, p.cseg, p.sums, p.counts) })
		t.Logf("k-means step, %d points × ≤%d centroids × %d in %d segments: Assign GPU %.4fs CPU %.3fs (%.1f×); Sums GPU %.4fs CPU %.3fs (%.1f×)",
			n, k, dim, segs, ga, ca, ca/ga, gs, cs, cs/gs)
		gp.Close()
	}
	{
		tr := randTree(rng, 128, 4, 32, L2)
		gt, err := b.LoadTree(tr)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := cpu.LoadTree(tr)
		nq, n, beam := 200000, 64, 128
		q := randRows(rng, nq, 128, 0)
		l, d := make([]int32, nq*n), make([]float32, nq*n)
		gt.Search(q[:1000*128], n, beam, l[:1000*n], d[:1000*n])
		g := timeIt(func() error { return gt.Search(q, n, beam, l, d) })
		c := timeIt(func() error { return ct.Search(q[:nq/10*128], n, beam, l[:nq/10*n], d[:nq/10*n]) }) * 10
		t.Logf("tree search, %d leaves, %d queries, n %d beam %d: GPU %.3fs (%.0f q/s), CPU %.2fs (from a tenth) → %.0f×", countLeaves(tr), nq, n, beam, g, float64(nq)/g, c, c/g)
		gt.Close()
	}
}

func countLeaves(t *Tree) int {
	n := 0
	for _, l := range t.LeafID {
		if l >= 0 {
			n++
		}
	}
	return n
}

func BenchmarkTopK1kx100kx128CUDA(b *testing.B) {
	benchTopK(b, openTestCUDA(b), 1000, 100000, 128, 64)
}
func BenchmarkAssign200kx32x128CUDA(b *testing.B) { benchAssign(b, openTestCUDA(b), 200000, 128, 32) }
func BenchmarkTreeSearch8kx128CUDA(b *testing.B) {
	benchTree(b, openTestCUDA(b), 8192, 128, 64, 128)
}
