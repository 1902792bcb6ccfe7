//go:build amd64 && !noasm

package vec

import "testing"

// archImplName is what Impl reports when archKernels is in use.
const archImplName = "avx2+fma"

var avx2Kernels = kernels{
	name:            "AVX2",
	l2SquaredF32:    l2SquaredF32AVX2,
	dotF32:          dotF32AVX2,
	l2SquaredU8:     l2SquaredU8AVX2,
	dotU8:           dotU8AVX2,
	l2SquaredI8:     l2SquaredI8AVX2,
	dotI8:           dotI8AVX2,
	l2SquaredF32Bat: l2SquaredF32BatchAVX2,
	dotF32Bat:       dotF32BatchAVX2,
	l2SquaredF16:    l2SquaredF16AVX2,
	dotF16:          dotF16AVX2,
}

// archKernels returns the assembly kernels to test, if this CPU runs them.
func archKernels() []kernels {
	if !hasAVX2FMA {
		return nil
	}
	k := avx2Kernels
	if !hasF16C {
		k.l2SquaredF16, k.dotF16 = nil, nil
	}
	return []kernels{k}
}

func skipWithoutAVX2(b *testing.B) {
	if !hasAVX2FMA {
		b.Skip("CPU lacks AVX2+FMA")
	}
}

func BenchmarkL2SquaredF32_96_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchF32(b, 96, l2SquaredF32AVX2)
}

func BenchmarkL2SquaredF32_100_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchF32(b, 100, l2SquaredF32AVX2)
}

func BenchmarkL2SquaredF32_128_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchF32(b, 128, l2SquaredF32AVX2)
}

func BenchmarkL2SquaredF32_784_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchF32(b, 784, l2SquaredF32AVX2)
}

func BenchmarkDotF32_96_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchF32(b, 96, dotF32AVX2)
}

func BenchmarkDotF32_100_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchF32(b, 100, dotF32AVX2)
}

func BenchmarkDotF32_128_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchF32(b, 128, dotF32AVX2)
}

func BenchmarkDotF32_784_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchF32(b, 784, dotF32AVX2)
}

func skipWithoutF16C(b *testing.B) {
	if !hasF16C {
		b.Skip("CPU lacks AVX2+FMA+F16C")
	}
}

func BenchmarkL2SquaredF16_100_AVX2(b *testing.B) {
	skipWithoutF16C(b)
	benchF16(b, 100, l2SquaredF16AVX2)
}

func BenchmarkL2SquaredF16_128_AVX2(b *testing.B) {
	skipWithoutF16C(b)
	benchF16(b, 128, l2SquaredF16AVX2)
}

func BenchmarkL2SquaredF16_784_AVX2(b *testing.B) {
	skipWithoutF16C(b)
	benchF16(b, 784, l2SquaredF16AVX2)
}

func BenchmarkDotF16_100_AVX2(b *testing.B) {
	skipWithoutF16C(b)
	benchF16(b, 100, dotF16AVX2)
}

func BenchmarkDotF16_128_AVX2(b *testing.B) {
	skipWithoutF16C(b)
	benchF16(b, 128, dotF16AVX2)
}

func BenchmarkDotF16_784_AVX2(b *testing.B) {
	skipWithoutF16C(b)
	benchF16(b, 784, dotF16AVX2)
}

func BenchmarkL2SquaredU8_96_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchU8(b, 96, l2SquaredU8AVX2)
}

func BenchmarkL2SquaredU8_100_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchU8(b, 100, l2SquaredU8AVX2)
}

func BenchmarkL2SquaredU8_128_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchU8(b, 128, l2SquaredU8AVX2)
}

func BenchmarkL2SquaredU8_784_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchU8(b, 784, l2SquaredU8AVX2)
}

func BenchmarkL2SquaredF32Batch_128_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchF32Batch(b, 128, l2SquaredF32BatchAVX2)
}

func BenchmarkDotF32Batch_128_AVX2(b *testing.B) {
	skipWithoutAVX2(b)
	benchF32Batch(b, 128, dotF32BatchAVX2)
}
