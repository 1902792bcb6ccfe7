package vec

import "testing"

// The benchmarks call every kernel through a function value, as the
// exported entry points do, so Ref, Generic and AVX2 pay the same call
// overhead and none can be inlined into the loop. SetBytes counts both
// operands, so MB/s is the memory the kernel streams through.

var sink float32

//go:noinline
func benchF32(b *testing.B, dim int, fn func(a, b []float32) float32) {
	r := newRand(b.Name())
	x, y := randF32(r, dim), randF32(r, dim)
	b.SetBytes(int64(2 * 4 * dim))
	b.ReportAllocs()
	var s float32
	for b.Loop() {
		s += fn(x, y)
	}
	sink = s
}

//go:noinline
func benchU8(b *testing.B, dim int, fn func(a, b []uint8) float32) {
	r := newRand(b.Name())
	x, y := randU8(r, dim), randU8(r, dim)
	b.SetBytes(int64(2 * dim))
	b.ReportAllocs()
	var s float32
	for b.Loop() {
		s += fn(x, y)
	}
	sink = s
}

//go:noinline
func benchF16(b *testing.B, dim int, fn func(q []float32, v []uint16) float32) {
	r := newRand(b.Name())
	x, y := randF32(r, dim), randF16(r, dim)
	b.SetBytes(int64((4 + 2) * dim))
	b.ReportAllocs()
	var s float32
	for b.Loop() {
		s += fn(x, y)
	}
	sink = s
}

// batchRows is a posting-list-sized batch: large enough that per-call costs
// vanish, small enough (512 KiB at dim 128) to stay in L2 cache.
const batchRows = 1024

//go:noinline
func benchF32Batch(b *testing.B, dim int, fn func(q, data, out []float32)) {
	r := newRand(b.Name())
	q, data := randF32(r, dim), randF32(r, dim*batchRows)
	out := make([]float32, batchRows)
	b.SetBytes(int64(4 * dim * batchRows))
	b.ReportAllocs()
	for b.Loop() {
		fn(q, data, out)
	}
	sink = out[0]
}

func BenchmarkL2SquaredF32_96_Ref(b *testing.B)      { benchF32(b, 96, l2SquaredF32Ref) }
func BenchmarkL2SquaredF32_96_Generic(b *testing.B)  { benchF32(b, 96, l2SquaredF32Generic) }
func BenchmarkL2SquaredF32_100_Ref(b *testing.B)     { benchF32(b, 100, l2SquaredF32Ref) }
func BenchmarkL2SquaredF32_100_Generic(b *testing.B) { benchF32(b, 100, l2SquaredF32Generic) }
func BenchmarkL2SquaredF32_128_Ref(b *testing.B)     { benchF32(b, 128, l2SquaredF32Ref) }
func BenchmarkL2SquaredF32_128_Generic(b *testing.B) { benchF32(b, 128, l2SquaredF32Generic) }
func BenchmarkL2SquaredF32_784_Ref(b *testing.B)     { benchF32(b, 784, l2SquaredF32Ref) }
func BenchmarkL2SquaredF32_784_Generic(b *testing.B) { benchF32(b, 784, l2SquaredF32Generic) }

func BenchmarkDotF32_96_Ref(b *testing.B)      { benchF32(b, 96, dotF32Ref) }
func BenchmarkDotF32_96_Generic(b *testing.B)  { benchF32(b, 96, dotF32Generic) }
func BenchmarkDotF32_100_Ref(b *testing.B)     { benchF32(b, 100, dotF32Ref) }
func BenchmarkDotF32_100_Generic(b *testing.B) { benchF32(b, 100, dotF32Generic) }
func BenchmarkDotF32_128_Ref(b *testing.B)     { benchF32(b, 128, dotF32Ref) }
func BenchmarkDotF32_128_Generic(b *testing.B) { benchF32(b, 128, dotF32Generic) }
func BenchmarkDotF32_784_Ref(b *testing.B)     { benchF32(b, 784, dotF32Ref) }
func BenchmarkDotF32_784_Generic(b *testing.B) { benchF32(b, 784, dotF32Generic) }

func BenchmarkL2SquaredF16_100_Ref(b *testing.B)     { benchF16(b, 100, l2SquaredF16Ref) }
func BenchmarkL2SquaredF16_100_Generic(b *testing.B) { benchF16(b, 100, l2SquaredF16Generic) }
func BenchmarkL2SquaredF16_128_Ref(b *testing.B)     { benchF16(b, 128, l2SquaredF16Ref) }
func BenchmarkL2SquaredF16_128_Generic(b *testing.B) { benchF16(b, 128, l2SquaredF16Generic) }
func BenchmarkL2SquaredF16_784_Ref(b *testing.B)     { benchF16(b, 784, l2SquaredF16Ref) }
func BenchmarkL2SquaredF16_784_Generic(b *testing.B) { benchF16(b, 784, l2SquaredF16Generic) }

func BenchmarkDotF16_100_Ref(b *testing.B)     { benchF16(b, 100, dotF16Ref) }
func BenchmarkDotF16_100_Generic(b *testing.B) { benchF16(b, 100, dotF16Generic) }
func BenchmarkDotF16_128_Ref(b *testing.B)     { benchF16(b, 128, dotF16Ref) }
func BenchmarkDotF16_128_Generic(b *testing.B) { benchF16(b, 128, dotF16Generic) }
func BenchmarkDotF16_784_Ref(b *testing.B)     { benchF16(b, 784, dotF16Ref) }
func BenchmarkDotF16_784_Generic(b *testing.B) { benchF16(b, 784, dotF16Generic) }

func BenchmarkL2SquaredU8_96_Ref(b *testing.B)      { benchU8(b, 96, l2SquaredU8Ref) }
func BenchmarkL2SquaredU8_96_Generic(b *testing.B)  { benchU8(b, 96, l2SquaredU8Generic) }
func BenchmarkL2SquaredU8_100_Ref(b *testing.B)     { benchU8(b, 100, l2SquaredU8Ref) }
func BenchmarkL2SquaredU8_100_Generic(b *testing.B) { benchU8(b, 100, l2SquaredU8Generic) }
func BenchmarkL2SquaredU8_128_Ref(b *testing.B)     { benchU8(b, 128, l2SquaredU8Ref) }
func BenchmarkL2SquaredU8_128_Generic(b *testing.B) { benchU8(b, 128, l2SquaredU8Generic) }
func BenchmarkL2SquaredU8_784_Ref(b *testing.B)     { benchU8(b, 784, l2SquaredU8Ref) }
func BenchmarkL2SquaredU8_784_Generic(b *testing.B) { benchU8(b, 784, l2SquaredU8Generic) }

func BenchmarkL2SquaredF32Batch_128_Ref(b *testing.B) { benchF32Batch(b, 128, l2SquaredF32BatchRef) }
func BenchmarkL2SquaredF32Batch_128_Generic(b *testing.B) {
	benchF32Batch(b, 128, l2SquaredF32BatchGeneric)
}
func BenchmarkDotF32Batch_128_Ref(b *testing.B)     { benchF32Batch(b, 128, dotF32BatchRef) }
func BenchmarkDotF32Batch_128_Generic(b *testing.B) { benchF32Batch(b, 128, dotF32BatchGeneric) }

// The float16 conversions run at ingest, once per stored component.
func BenchmarkF32ToF16_128(b *testing.B) {
	src, dst := randF32(newRand(b.Name()), 128), make([]uint16, 128)
	b.SetBytes(4 * 128)
	b.ReportAllocs()
	for b.Loop() {
		F32ToF16(dst, src)
	}
}

func BenchmarkF16ToF32_128(b *testing.B) {
	src, dst := randF16(newRand(b.Name()), 128), make([]float32, 128)
	b.SetBytes(2 * 128)
	b.ReportAllocs()
	for b.Loop() {
		F16ToF32(dst, src)
	}
}

// BenchmarkL2SquaredF32_128_Exported measures the public entry point, i.e.
// the chosen kernel plus the length check and indirect call in front of it.
func BenchmarkL2SquaredF32_128_Exported(b *testing.B) { benchF32(b, 128, L2SquaredF32) }

// BenchmarkL2SquaredF16_128_Exported is L2SquaredF32_128_Exported for
// float16 storage.
func BenchmarkL2SquaredF16_128_Exported(b *testing.B) { benchF16(b, 128, L2SquaredF16) }
