package rabitq

import (
	"encoding/binary"
	"math/bits"
)

// dotCodeGeneric computes Σ_i u_i·q̄_i and Σ_i u_i by popcounts over
// uint64 words (RaBitQ §3.3.2): with u = Σ_p 2^(B−1−p)·u⁽ᵖ⁾ and
// q̄ = Σ_k 2^k·q̄⁽ᵏ⁾ as bit planes,
//
//	Σ u_i q̄_i = Σ_p Σ_k 2^(B−1−p+k) · popcount(u⁽ᵖ⁾ ∧ q̄⁽ᵏ⁾).
//
// bits.OnesCount64 compiles to POPCNT on amd64. The query planes are
// word-major so that one code word meets its Bq query words in a row.
func dotCodeGeneric(planes []byte, nbits, words int, qp []uint64, bq int) (ip, pc uint64) {
	if nbits == 1 && bq == 4 {
		return dot1x4Generic(planes[:words*8], qp[:words*4])
	}
	for p := range nbits {
		shift := uint(nbits - 1 - p)
		plane := planes[p*words*8 : (p+1)*words*8]
		var pip, ppc uint64
		for w := range words {
			cw := binary.LittleEndian.Uint64(plane[w*8:])
			ppc += uint64(bits.OnesCount64(cw))
			q := qp[w*bq : (w+1)*bq]
			for k, qw := range q {
				pip += uint64(bits.OnesCount64(cw&qw)) << uint(k)
			}
		}
		ip += pip << shift
		pc += ppc << shift
	}
	return ip, pc
}

// dot1x4Generic is dotCodeGeneric for the default 1-bit code and 4-bit
// query, with the query-plane loop unrolled.
func dot1x4Generic(plane []byte, qp []uint64) (ip, pc uint64) {
	var s0, s1, s2, s3, c uint64
	for len(plane) >= 8 && len(qp) >= 4 {
		cw := binary.LittleEndian.Uint64(plane)
		c += uint64(bits.OnesCount64(cw))
		s0 += uint64(bits.OnesCount64(cw & qp[0]))
		s1 += uint64(bits.OnesCount64(cw & qp[1]))
		s2 += uint64(bits.OnesCount64(cw & qp[2]))
		s3 += uint64(bits.OnesCount64(cw & qp[3]))
		plane, qp = plane[8:], qp[4:]
	}
	return s0 + s1<<1 + s2<<2 + s3<<3, c
}
