//go:build amd64 && !noasm

package rabitq

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasAVX2 reports whether dot1x4AVX2 can run; x/sys/cpu also checks that
// the OS saves the YMM registers.
var hasAVX2 = cpu.X86.HasAVX2

func init() {
	if hasAVX2 {
		dotCodeImpl = dotCodeAVX2
		implName = "avx2"
	}
}

// dot1x4AVX2 returns the sums of dot1x4Generic over chunks·4 words of a
// 1-bit code at code and the four query planes at qp, qp+stride, … .
//
//go:noescape
func dot1x4AVX2(code *byte, qp *uint64, stride, chunks int) (ip, pc uint64)

// dotCodeAVX2 runs the assembly on every code plane against each group of
// four query planes (queries of 4 or 8 bits) in whole 256-bit steps and
// leaves the remaining words, and every other shape, to the generic
// kernel.
func dotCodeAVX2(planes []byte, nbits, words int, qp []uint64, bq int) (ip, pc uint64) {
	if bq%4 != 0 || words < 4 {
		return dotCodeGeneric(planes, nbits, words, qp, bq)
	}
	return dotPlanesBy4(planes, nbits, words, qp, bq, dot1x4Plane)
}

// dot1x4Plane is dot1x4Words on the assembly.
func dot1x4Plane(planes []byte, qp []uint64, words int) (ip, pc uint64) {
	planes, qp = planes[:words*8], qp[:4*words]
	chunks := words / 4
	ip, pc = dot1x4AVX2(unsafe.SliceData(planes), unsafe.SliceData(qp), words*8, chunks)
	if done := chunks * 4; done < words {
		ti, tp := dot1x4Generic(planes[done*8:], qp[done:words], qp[words+done:2*words], qp[2*words+done:3*words], qp[3*words+done:4*words])
		ip += ti
		pc += tp
	}
	return ip, pc
}
