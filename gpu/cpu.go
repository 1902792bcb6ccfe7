package gpu

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/internal/vec"
)

var inf = float32(math.Inf(1))

// cpuBackend runs every kernel on the CPU with the SIMD kernels of
// internal/vec, spread over GOMAXPROCS goroutines. It is the reference the
// CUDA backend is tested against and its fallback for shapes the kernels
// do not take. It holds no resources; it is safe for concurrent use.
type cpuBackend struct {
	info    Info
	workers int
}

var _ Backend = (*cpuBackend)(nil)

// CPU returns the CPU backend.
func CPU() Backend { return newCPU("") }

func newCPU(reason string) *cpuBackend {
	return &cpuBackend{
		info:    Info{Kind: KindCPU, Name: "cpu: " + vec.Impl(), Reason: reason},
		workers: runtime.GOMAXPROCS(0),
	}
}

func (c *cpuBackend) Info() Info   { return c.info }
func (c *cpuBackend) Close() error { return nil }

// checkShape validates a row-major matrix and returns its row count.
func checkShape(name string, m []float32, dim int) (int, error) {
	if dim <= 0 || len(m)%dim != 0 {
		return 0, fmt.Errorf("%w: %s has %d floats, not a whole number of %d-dim rows", ErrBadInput, name, len(m), dim)
	}
	return len(m) / dim, nil
}

// checkPair checks the metric and the two matrices of a distance call and
// returns their row counts.
func checkPair(metric Metric, x, y []float32, dim int) (n, m int, err error) {
	if err := checkMetric(metric); err != nil {
		return 0, 0, err
	}
	if n, err = checkShape("x", x, dim); err != nil {
		return 0, 0, err
	}
	if m, err = checkShape("y", y, dim); err != nil {
		return 0, 0, err
	}
	return n, m, nil
}

// checkDistances checks the arguments of Backend.Distances and returns
// the row counts of x and y.
func checkDistances(metric Metric, x, y []float32, dim int, out []float32) (n, m int, err error) {
	if n, m, err = checkPair(metric, x, y, dim); err != nil {
		return 0, 0, err
	}
	if len(out) != n*m {
		return 0, 0, fmt.Errorf("%w: out has %d floats, want %d×%d", ErrBadInput, len(out), n, m)
	}
	return n, m, nil
}

func checkMetric(m Metric) error {
	if !m.Valid() {
		return fmt.Errorf("%w: metric %d", ErrBadInput, m)
	}
	return nil
}

// rowDistances sets out[j] to the distance from q to row j of y.
func rowDistances(metric Metric, q, y, out []float32) {
	if metric == L2 {
		vec.L2SquaredF32Batch(q, y, out)
		return
	}
	vec.DotF32Batch(q, y, out)
	if metric == Cosine {
		for j, d := range out {
			out[j] = 1 - d
		}
		return
	}
	for j, d := range out {
		out[j] = -d
	}
}

// parallel runs fn(lo, hi) over [0, n) in chunks of at least grain,
// on up to workers goroutines.
func parallel(n, grain, workers int, fn func(lo, hi int)) {
	if n <= grain || workers <= 1 {
		fn(0, n)
		return
	}
	chunk := max(grain, (n+4*workers-1)/(4*workers))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				fn(lo, min(lo+chunk, n))
			}
		}()
	}
	wg.Wait()
}

func (c *cpuBackend) Distances(metric Metric, x, y []float32, dim int, out []float32) error {
	n, m, err := checkDistances(metric, x, y, dim, out)
	if err != nil {
		return err
	}
	if m == 0 {
		return nil
	}
	parallel(n, max(1, 4096/m), c.workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			rowDistances(metric, x[i*dim:(i+1)*dim], y, out[i*m:(i+1)*m])
		}
	})
	return nil
}

// topKBlock is the number of rows of y whose distances TopK computes at
// once per query.
const topKBlock = 4096

func (c *cpuBackend) TopK(metric Metric, x, y []float32, dim, k int, ids []int32, dists []float32) error {
	n, m, err := checkTopK(metric, x, y, dim, k, ids, dists)
	if err != nil {
		return err
	}
	parallel(n, 1, c.workers, func(lo, hi int) {
		var h bounded
		buf := make([]float32, min(m, topKBlock))
		for i := lo; i < hi; i++ {
			q := x[i*dim : (i+1)*dim]
			h.Reset(k)
			for j0 := 0; j0 < m; j0 += topKBlock {
				j1 := min(j0+topKBlock, m)
				d := buf[:j1-j0]
				rowDistances(metric, q, y[j0*dim:j1*dim], d)
				for j, v := range d {
					if v == v && h.Admits(v) { // NaN never ranks
						h.Push(v, uint32(j0+j))
					}
				}
			}
			drain(&h, ids[i*k:(i+1)*k], dists[i*k:(i+1)*k])
		}
	})
	return nil
}

// checkTopK validates TopK's arguments and returns the row counts.
func checkTopK(metric Metric, x, y []float32, dim, k int, ids []int32, dists []float32) (n, m int, err error) {
	if n, m, err = checkPair(metric, x, y, dim); err != nil {
		return 0, 0, err
	}
	if m > math.MaxInt32 {
		return 0, 0, fmt.Errorf("%w: %d rows of y, at most %d", ErrBadInput, m, math.MaxInt32)
	}
	if k < 1 || len(ids) != n*k || len(dists) != n*k {
		return 0, 0, fmt.Errorf("%w: k %d with %d ids and %d dists for %d queries", ErrBadInput, k, len(ids), len(dists), n)
	}
	return n, m, nil
}
