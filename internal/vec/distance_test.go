package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// kernels is one implementation of every distance kernel, so that each can
// be held to the reference by the same tests.
type kernels struct {
	name            string
	l2SquaredF32    func(a, b []float32) float32
	dotF32          func(a, b []float32) float32
	l2SquaredU8     func(a, b []uint8) float32
	dotU8           func(a, b []uint8) float32
	l2SquaredI8     func(a, b []int8) float32
	dotI8           func(a, b []int8) float32
	l2SquaredF32Bat func(q, data, out []float32)
	dotF32Bat       func(q, data, out []float32)
	// The float16 kernels are nil where this CPU cannot run them (F16C
	// hidden beside AVX2+FMA).
	l2SquaredF16 func(q []float32, v []uint16) float32
	dotF16       func(q []float32, v []uint16) float32
}

var refKernels = kernels{
	name:            "Ref",
	l2SquaredF32:    l2SquaredF32Ref,
	dotF32:          dotF32Ref,
	l2SquaredU8:     l2SquaredU8Ref,
	dotU8:           dotU8Ref,
	l2SquaredI8:     l2SquaredI8Ref,
	dotI8:           dotI8Ref,
	l2SquaredF32Bat: l2SquaredF32BatchRef,
	dotF32Bat:       dotF32BatchRef,
	l2SquaredF16:    l2SquaredF16Ref,
	dotF16:          dotF16Ref,
}

var genericKernels = kernels{
	name:            "Generic",
	l2SquaredF32:    l2SquaredF32Generic,
	dotF32:          dotF32Generic,
	l2SquaredU8:     l2SquaredU8Generic,
	dotU8:           dotU8Generic,
	l2SquaredI8:     l2SquaredI8Generic,
	dotI8:           dotI8Generic,
	l2SquaredF32Bat: l2SquaredF32BatchGeneric,
	dotF32Bat:       dotF32BatchGeneric,
	l2SquaredF16:    l2SquaredF16Generic,
	dotF16:          dotF16Generic,
}

// exportedKernels goes through the public API, so that the tests also cover
// whatever init() chose and the length checks in front of it.
var exportedKernels = kernels{
	name:            "Exported",
	l2SquaredF32:    L2SquaredF32,
	dotF32:          DotF32,
	l2SquaredU8:     L2SquaredU8,
	dotU8:           DotU8,
	l2SquaredI8:     L2SquaredI8,
	dotI8:           DotI8,
	l2SquaredF32Bat: L2SquaredF32Batch,
	dotF32Bat:       DotF32Batch,
	l2SquaredF16:    L2SquaredF16,
	dotF16:          DotF16,
}

// implsUnderTest lists every implementation to compare with the reference:
// the generic loops, the exported entry points, and any assembly this
// build and CPU can run (archKernels, defined per build in
// distance_amd64_test.go and distance_noasm_test.go).
func implsUnderTest(t testing.TB) []kernels {
	impls := []kernels{genericKernels, exportedKernels}
	arch := archKernels()
	if len(arch) == 0 {
		t.Logf("no assembly kernels in this build or on this CPU (Impl() = %q)", Impl())
	}
	return append(impls, arch...)
}

// awkwardLengths straddle every unroll width and tail path of the kernels
// (8 and 32 floats, 16 and 64 bytes).
var awkwardLengths = []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65,
	96, 100, 127, 128, 129, 255, 256, 257, 784, 1023, 1025}

// newRand returns a generator seeded from the test's name, so every test
// sees its own fixed data.
func newRand(seed string) *rand.Rand {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(seed); i++ {
		h = (h ^ uint64(seed[i])) * 1099511628211
	}
	return rand.New(rand.NewPCG(h, 0x5eed))
}

func randF32(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

func randU8(r *rand.Rand, n int) []uint8 {
	v := make([]uint8, n)
	for i := range v {
		v[i] = uint8(r.Uint32())
	}
	return v
}

func randI8(r *rand.Rand, n int) []int8 {
	v := make([]int8, n)
	for i := range v {
		v[i] = int8(r.Uint32())
	}
	return v
}

// f32Tolerance is how far a float32 kernel may stray from the reference.
// Both sum the same terms in different orders, so the difference is bounded
// relative to the sum of the terms' magnitudes (for L2 that is the result
// itself; for dot products it keeps cancellation from tightening the bound).
func f32Tolerance(a, b []float32, l2 bool) float64 {
	var mag float64
	for i := range a {
		if l2 {
			d := float64(a[i]) - float64(b[i])
			mag += d * d
		} else {
			mag += math.Abs(float64(a[i]) * float64(b[i]))
		}
	}
	return 1e-5*mag + 1e-30
}

func TestF32KernelsMatchReference(t *testing.T) {
	for _, k := range implsUnderTest(t) {
		for _, n := range awkwardLengths {
			// Offsetting by one float also exercises unaligned loads.
			for _, offset := range []int{0, 1} {
				name := fmt.Sprintf("%s/n=%d/offset=%d", k.name, n, offset)
				r := newRand(name)
				a := randF32(r, n+offset)[offset:]
				b := randF32(r, n+offset)[offset:]
				for _, op := range []struct {
					name     string
					got, ref func(a, b []float32) float32
					l2       bool
				}{
					{"L2SquaredF32", k.l2SquaredF32, l2SquaredF32Ref, true},
					{"DotF32", k.dotF32, dotF32Ref, false},
				} {
					got, want := op.got(a, b), op.ref(a, b)
					if tol := f32Tolerance(a, b, op.l2); math.Abs(float64(got)-float64(want)) > tol {
						t.Errorf("%s %s = %v, want %v ± %g", name, op.name, got, want, tol)
					}
				}
			}
		}
	}
}

func TestF32KernelsScaleWithMagnitude(t *testing.T) {
	// Values far from 1 must not lose relative precision.
	for _, k := range implsUnderTest(t) {
		for _, scale := range []float32{1e-18, 1e-3, 1e3, 1e15} {
			r := newRand(fmt.Sprint(k.name, scale))
			a, b := randF32(r, 129), randF32(r, 129)
			for i := range a {
				a[i] *= scale
				b[i] *= scale
			}
			if got, want := k.l2SquaredF32(a, b), l2SquaredF32Ref(a, b); math.Abs(float64(got)-float64(want)) > f32Tolerance(a, b, true) {
				t.Errorf("%s scale %g: L2SquaredF32 = %v, want %v", k.name, scale, got, want)
			}
			if got, want := k.dotF32(a, b), dotF32Ref(a, b); math.Abs(float64(got)-float64(want)) > f32Tolerance(a, b, false) {
				t.Errorf("%s scale %g: DotF32 = %v, want %v", k.name, scale, got, want)
			}
		}
	}
}

func TestIntKernelsMatchReferenceExactly(t *testing.T) {
	for _, k := range implsUnderTest(t) {
		for _, n := range awkwardLengths {
			for _, offset := range []int{0, 1} {
				name := fmt.Sprintf("%s/n=%d/offset=%d", k.name, n, offset)
				r := newRand(name)
				ua, ub := randU8(r, n+offset)[offset:], randU8(r, n+offset)[offset:]
				ia, ib := randI8(r, n+offset)[offset:], randI8(r, n+offset)[offset:]
				checkIntExact(t, name, k, ua, ub, ia, ib)
			}
		}
	}
}

// TestIntKernelsExtremeValues uses the values that maximise every product
// and difference, at lengths where the sums pass 2^31 and 2^32 and the
// assembly's 65536-element blocks wrap.
func TestIntKernelsExtremeValues(t *testing.T) {
	fill := func(n int, u uint8) []uint8 {
		v := make([]uint8, n)
		for i := range v {
			v[i] = u
		}
		return v
	}
	filli := func(n int, x int8) []int8 {
		v := make([]int8, n)
		for i := range v {
			v[i] = x
		}
		return v
	}
	lengths := append([]int{}, awkwardLengths...)
	lengths = append(lengths, 33024, 33025, 65535, 65536, 65537, 66052, 131072+17, 200003)
	for _, k := range implsUnderTest(t) {
		for _, n := range lengths {
			for _, c := range []struct {
				name   string
				ua, ub uint8
				ia, ib int8
			}{
				{"min-max", 0, 255, -128, 127},
				{"max-min", 255, 0, 127, -128},
				{"max-max", 255, 255, -128, -128},
				{"max-max2", 255, 255, 127, 127},
				{"mixed", 1, 254, -1, 127},
			} {
				name := fmt.Sprintf("%s/n=%d/%s", k.name, n, c.name)
				checkIntExact(t, name, k, fill(n, c.ua), fill(n, c.ub), filli(n, c.ia), filli(n, c.ib))
			}
			// Alternating extremes so that neighbouring lanes differ.
			ua, ub := make([]uint8, n), make([]uint8, n)
			ia, ib := make([]int8, n), make([]int8, n)
			for i := 0; i < n; i++ {
				if i%3 == 0 {
					ua[i], ub[i], ia[i], ib[i] = 255, 0, -128, -128
				} else {
					ua[i], ub[i], ia[i], ib[i] = 0, 255, 127, -128
				}
			}
			checkIntExact(t, fmt.Sprintf("%s/n=%d/alternating", k.name, n), k, ua, ub, ia, ib)
		}
	}
}

func checkIntExact(t *testing.T, name string, k kernels, ua, ub []uint8, ia, ib []int8) {
	t.Helper()
	if got, want := k.l2SquaredU8(ua, ub), l2SquaredU8Ref(ua, ub); got != want {
		t.Errorf("%s L2SquaredU8 = %v, want exactly %v", name, got, want)
	}
	if got, want := k.dotU8(ua, ub), dotU8Ref(ua, ub); got != want {
		t.Errorf("%s DotU8 = %v, want exactly %v", name, got, want)
	}
	if got, want := k.l2SquaredI8(ia, ib), l2SquaredI8Ref(ia, ib); got != want {
		t.Errorf("%s L2SquaredI8 = %v, want exactly %v", name, got, want)
	}
	if got, want := k.dotI8(ia, ib), dotI8Ref(ia, ib); got != want {
		t.Errorf("%s DotI8 = %v, want exactly %v", name, got, want)
	}
}

func TestIntReferenceClosedForm(t *testing.T) {
	// The oracle itself, against sums worked out by hand.
	const n = 70000 // 65025*n > 2^32
	ua, ub := make([]uint8, n), make([]uint8, n)
	ia, ib := make([]int8, n), make([]int8, n)
	for i := range ua {
		ua[i], ub[i], ia[i], ib[i] = 255, 0, -128, 127
	}
	for _, c := range []struct {
		name      string
		got, want float32
	}{
		{"L2SquaredU8", l2SquaredU8Ref(ua, ub), float32(int64(65025) * n)},
		{"DotU8", dotU8Ref(ua, ua), float32(int64(65025) * n)},
		{"L2SquaredI8", l2SquaredI8Ref(ia, ib), float32(int64(65025) * n)},
		{"DotI8", dotI8Ref(ia, ib), float32(int64(-16256) * n)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestBatchKernelsMatchReference(t *testing.T) {
	for _, k := range implsUnderTest(t) {
		for _, dim := range awkwardLengths {
			for _, rows := range []int{0, 1, 2, 5, 17} {
				name := fmt.Sprintf("%s/dim=%d/rows=%d", k.name, dim, rows)
				r := newRand(name)
				q := randF32(r, dim)
				data := randF32(r, dim*rows)
				for _, op := range []struct {
					name     string
					got, ref func(q, data, out []float32)
					pair     func(a, b []float32) float32
					l2       bool
				}{
					{"L2SquaredF32Batch", k.l2SquaredF32Bat, l2SquaredF32BatchRef, l2SquaredF32Ref, true},
					{"DotF32Batch", k.dotF32Bat, dotF32BatchRef, dotF32Ref, false},
				} {
					// A sentinel past len(out) catches writes beyond it.
					const sentinel = float32(-12345)
					got := make([]float32, rows+1)
					got[rows] = sentinel
					want := make([]float32, rows)
					op.got(q, data, got[:rows])
					op.ref(q, data, want)
					for i := range want {
						row := data[i*dim : (i+1)*dim]
						if tol := f32Tolerance(q, row, op.l2); math.Abs(float64(got[i])-float64(want[i])) > tol {
							t.Errorf("%s %s: out[%d] = %v, want %v ± %g", name, op.name, i, got[i], want[i], tol)
						}
						if p := op.pair(q, row); want[i] != p {
							t.Fatalf("%s: reference batch out[%d] = %v disagrees with reference pair %v", name, i, want[i], p)
						}
					}
					if got[rows] != sentinel {
						t.Errorf("%s %s wrote past the end of out", name, op.name)
					}
				}
			}
		}
	}
}

func TestExportedKernelsPanicOnLengthMismatch(t *testing.T) {
	for _, c := range []struct {
		name string
		call func()
	}{
		{"L2SquaredF32", func() { L2SquaredF32(make([]float32, 3), make([]float32, 4)) }},
		{"DotF32", func() { DotF32(make([]float32, 4), make([]float32, 3)) }},
		{"L2SquaredU8", func() { L2SquaredU8(make([]uint8, 1), nil) }},
		{"DotU8", func() { DotU8(nil, make([]uint8, 1)) }},
		{"L2SquaredI8", func() { L2SquaredI8(make([]int8, 9), make([]int8, 8)) }},
		{"DotI8", func() { DotI8(make([]int8, 8), make([]int8, 9)) }},
		{"L2SquaredF32Batch", func() { L2SquaredF32Batch(make([]float32, 4), make([]float32, 7), make([]float32, 2)) }},
		{"DotF32Batch", func() { DotF32Batch(make([]float32, 4), make([]float32, 8), make([]float32, 3)) }},
		{"L2SquaredF16", func() { L2SquaredF16(make([]float32, 8), make([]uint16, 7)) }},
		{"DotF16", func() { DotF16(make([]float32, 7), make([]uint16, 8)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with mismatched lengths did not panic", c.name)
				}
			}()
			c.call()
		})
	}
}

func TestExportedKernelsDoNotAllocate(t *testing.T) {
	r := newRand(t.Name())
	a, b := randF32(r, 100), randF32(r, 100)
	ua, ub := randU8(r, 100), randU8(r, 100)
	ia, ib := randI8(r, 100), randI8(r, 100)
	data, out := randF32(r, 100*8), make([]float32, 8)
	h := randF16(r, 100)
	allocs := testing.AllocsPerRun(100, func() {
		L2SquaredF32(a, b)
		DotF32(a, b)
		Norm2F32(a)
		L2SquaredU8(ua, ub)
		DotU8(ua, ub)
		L2SquaredI8(ia, ib)
		DotI8(ia, ib)
		L2SquaredF32Batch(a, data, out)
		DotF32Batch(a, data, out)
		L2SquaredF16(a, h)
		DotF16(a, h)
	})
	if allocs != 0 {
		t.Errorf("kernels allocated %v times per run, want 0", allocs)
	}
}

func TestImplNamesTheChosenKernels(t *testing.T) {
	want := "generic"
	if len(archKernels()) > 0 {
		want = archImplName
	}
	if got := Impl(); got != want {
		t.Errorf("Impl() = %q, want %q", got, want)
	}
}
