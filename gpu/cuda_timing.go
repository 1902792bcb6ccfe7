//go:build linux && cgo

package gpu

/*
#include "cuda_driver.h"
*/
import "C"

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// gemmTiming is the device time of one distance tile computation, for
// the throughput figures of docs/gpu.md (see TestCUDAThroughput).
type gemmTiming struct {
	MedianMs float64
	GFLOPS   float64 // 2·n·m·dim / time
}

// timeGEMM times reps launches of the n×m×dim distance kernel (dist_gemm
// with the L2 epilogue, or cuBLAS SGEMM of the dot products when blas is
// set) on resident random data with CUDA events, after 3 warm-ups.
func (b *cudaBackend) timeGEMM(n, m, dim, reps int, blas bool) (gemmTiming, error) {
	if blas && b.blas == nil {
		return gemmTiming{}, fmt.Errorf("gpu: no cuBLAS")
	}
	leave, err := b.enter()
	if err != nil {
		return gemmTiming{}, err
	}
	defer leave()
	s := b.takeSlots(1)[0]
	defer b.giveSlots([]*slot{s})
	ld := ldFor(dim)
	rng := rand.New(rand.NewPCG(uint64(n), uint64(m)))
	var x, y devRows
	defer x.put(&b.pool)
	defer y.put(&b.pool)
	if err := s.loadRows(&x, randRows32(rng, n*dim), dim, ld, true); err != nil {
		return gemmTiming{}, err
	}
	if err := s.loadRows(&y, randRows32(rng, m*dim), dim, ld, true); err != nil {
		return gemmTiming{}, err
	}
	ldo := (m + 3) &^ 3
	out, err := b.pool.get(int64(n) * int64(ldo) * 4)
	if err != nil {
		return gemmTiming{}, err
	}
	defer b.pool.put(out)
	run := func() error {
		if blas {
			return s.dotsCuBLAS(x.data.ptr, n, y.data.ptr, m, ld, out.ptr, ldo)
		}
		return s.gemm(x.data.ptr, x.norms.ptr, n, y.data.ptr, y.norms.ptr, m, ld, 1, out.ptr, ldo)
	}
	var ev [2]C.CUevent
	for i := range ev {
		if r := C.sc_event_create(&ev[i]); r != 0 {
			return gemmTiming{}, cuErr(r, "cuEventCreate")
		}
		defer C.sc_event_destroy(ev[i])
	}
	for i := 0; i < 3; i++ {
		if err := run(); err != nil {
			return gemmTiming{}, err
		}
	}
	var times []float64
	for i := 0; i < reps; i++ {
		C.sc_event_record(ev[0], s.stream)
		if err := run(); err != nil {
			return gemmTiming{}, err
		}
		C.sc_event_record(ev[1], s.stream)
		if r := C.sc_event_sync(ev[1]); r != 0 {
			return gemmTiming{}, cuErr(r, "cuEventSynchronize")
		}
		var ms C.float
		C.sc_event_elapsed(&ms, ev[0], ev[1])
		times = append(times, float64(ms))
	}
	if err := s.sync(); err != nil {
		return gemmTiming{}, err
	}
	slices.Sort(times)
	med := times[len(times)/2]
	return gemmTiming{MedianMs: med, GFLOPS: 2 * float64(n) * float64(m) * float64(dim) / (med * 1e6)}, nil
}

func randRows32(rng *rand.Rand, n int) []float32 {
	m := make([]float32, n)
	for i := range m {
		m[i] = float32(rng.NormFloat64())
	}
	return m
}
