//go:build amd64 && !noasm

package vec

import "golang.org/x/sys/cpu"

// hasAVX2FMA reports whether the assembly kernels can run here: the float
// kernels need FMA3, the integer ones AVX2. x/sys/cpu also checks that the
// OS saves the YMM registers.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// hasF16C reports whether the float16 kernels can run as well: they widen
// halves with VCVTPH2PS. Every AVX2 CPU we know of has F16C, but a
// hypervisor may hide it, and then the float16 kernels alone fall back to
// Go.
var hasF16C = hasAVX2FMA && cpu.X86.HasF16C

func init() {
	if !hasAVX2FMA {
		useGeneric()
		return
	}
	l2SquaredF32Impl = l2SquaredF32AVX2
	dotF32Impl = dotF32AVX2
	l2SquaredU8Impl = l2SquaredU8AVX2
	dotU8Impl = dotU8AVX2
	l2SquaredI8Impl = l2SquaredI8AVX2
	dotI8Impl = dotI8AVX2
	l2SquaredF32BatchImpl = l2SquaredF32BatchAVX2
	dotF32BatchImpl = dotF32BatchAVX2
	// Impl keeps reporting "avx2+fma" without F16C: it names the kernels
	// the common float32 and integer paths run.
	if hasF16C {
		l2SquaredF16Impl = l2SquaredF16AVX2
		dotF16Impl = dotF16AVX2
	} else {
		l2SquaredF16Impl = l2SquaredF16Generic
		dotF16Impl = dotF16Generic
	}
	implName = "avx2+fma"
}

// The assembly trusts its callers on lengths: len(a) == len(b) for pairs
// and len(data) == len(q)*len(out) for batches. The exported wrappers in
// distance.go check both.

// l2SquaredF32AVX2 is implemented in distance_f32_amd64.s.
//
//go:noescape
func l2SquaredF32AVX2(a, b []float32) float32

// dotF32AVX2 is implemented in distance_f32_amd64.s.
//
//go:noescape
func dotF32AVX2(a, b []float32) float32

// l2SquaredF32BatchAVX2 is implemented in distance_f32_amd64.s.
//
//go:noescape
func l2SquaredF32BatchAVX2(q, data, out []float32)

// dotF32BatchAVX2 is implemented in distance_f32_amd64.s.
//
//go:noescape
func dotF32BatchAVX2(q, data, out []float32)

// l2SquaredU8AVX2 is implemented in distance_int_amd64.s.
//
//go:noescape
func l2SquaredU8AVX2(a, b []uint8) float32

// dotU8AVX2 is implemented in distance_int_amd64.s.
//
//go:noescape
func dotU8AVX2(a, b []uint8) float32

// l2SquaredI8AVX2 is implemented in distance_int_amd64.s.
//
//go:noescape
func l2SquaredI8AVX2(a, b []int8) float32

// dotI8AVX2 is implemented in distance_int_amd64.s.
//
//go:noescape
func dotI8AVX2(a, b []int8) float32

// l2SquaredF16AVX2 is implemented in distance_f16_amd64.s.
//
//go:noescape
func l2SquaredF16AVX2(q []float32, v []uint16) float32

// dotF16AVX2 is implemented in distance_f16_amd64.s.
//
//go:noescape
func dotF16AVX2(q []float32, v []uint16) float32
