package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randF16 returns n halves rounded from uniform values in [-1, 1).
func randF16(r *rand.Rand, n int) []uint16 {
	v := make([]uint16, n)
	F32ToF16(v, randF32(r, n))
	return v
}

// f16Lengths straddle the float16 kernels' 32- and 8-wide loops and every
// tail length of 0-7, then add typical embedding sizes.
func f16Lengths() []int {
	var ns []int
	for n := 0; n <= 67; n++ {
		ns = append(ns, n)
	}
	return append(ns, 96, 100, 127, 128, 129, 255, 256, 257, 784, 1000, 1023, 1025)
}

// widenF16 returns v widened to float32, for stating tolerances.
func widenF16(v []uint16) []float32 {
	w := make([]float32, len(v))
	F16ToF32(w, v)
	return w
}

func TestF16KernelsMatchReference(t *testing.T) {
	for _, k := range implsUnderTest(t) {
		if k.l2SquaredF16 == nil {
			t.Logf("%s: no float16 kernels on this CPU", k.name)
			continue
		}
		for _, n := range f16Lengths() {
			// Scale 1e-5 puts most halves among the subnormals (below
			// 2^-14); 1000 spreads them over the large exponents.
			for _, scale := range []float32{1, 1e-5, 1000} {
				// Offsetting by one component also exercises unaligned
				// loads.
				for _, offset := range []int{0, 1} {
					name := fmt.Sprintf("%s/n=%d/scale=%g/offset=%d", k.name, n, scale, offset)
					r := newRand(name)
					q, w := randF32(r, n+offset), randF32(r, n+offset)
					for i := range w {
						q[i] *= scale
						w[i] *= scale
					}
					v := make([]uint16, len(w))
					F32ToF16(v, w)
					q, v = q[offset:], v[offset:]
					wide := widenF16(v)
					for _, op := range []struct {
						name     string
						got, ref func(q []float32, v []uint16) float32
						l2       bool
					}{
						{"L2SquaredF16", k.l2SquaredF16, l2SquaredF16Ref, true},
						{"DotF16", k.dotF16, dotF16Ref, false},
					} {
						got, want := op.got(q, v), op.ref(q, v)
						if tol := f32Tolerance(q, wide, op.l2); math.Abs(float64(got)-float64(want)) > tol {
							t.Errorf("%s %s = %v, want %v ± %g", name, op.name, got, want, tol)
						}
					}
				}
			}
		}
	}
}

// TestF16KernelsWidenEveryHalfExactly puts each of the 65536 halves, in
// turn, in every lane of the 32-wide, 8-wide and tail paths, with zeros
// elsewhere, so that each kernel's result is a single term: h for the dot
// product with a one-hot query, h·h for the distance from the origin. Both
// are exact, or rounded once, in every implementation.
func TestF16KernelsWidenEveryHalfExactly(t *testing.T) {
	const n = 32 + 8 + 7
	zero := make([]float32, n)
	for _, k := range implsUnderTest(t) {
		if k.dotF16 == nil {
			continue
		}
		v := make([]uint16, n)
		oneHot := make([]float32, n)
		failures := 0
		for h := 0; h <= 0xffff && failures < 10; h++ {
			i := h % n
			v[i], oneHot[i] = uint16(h), 1
			f := Float16frombits(uint16(h))
			dot, l2 := k.dotF16(oneHot, v), k.l2SquaredF16(zero, v)
			v[i], oneHot[i] = 0, 0
			if math.IsNaN(float64(f)) {
				if !math.IsNaN(float64(dot)) || !math.IsNaN(float64(l2)) {
					t.Errorf("%s: half %#04x (NaN) in lane %d: DotF16 = %v, L2SquaredF16 = %v, want NaN", k.name, h, i, dot, l2)
					failures++
				}
				continue
			}
			if dot != f || l2 != f*f {
				t.Errorf("%s: half %#04x in lane %d: DotF16 = %v, L2SquaredF16 = %v, want %v and %v", k.name, h, i, dot, l2, f, f*f)
				failures++
			}
		}
	}
}
