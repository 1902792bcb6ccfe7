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
// bits.OnesCount64 compiles to POPCNT on amd64 (behind a CPU check at
// GOAMD64=v1). The query planes are plane-major: qp[k·words + w].
func dotCodeGeneric(planes []byte, nbits, words int, qp []uint64, bq int) (ip, pc uint64) {
	if nbits == 1 && bq == 4 {
		return dot1x4Generic(planes[:words*8], qp[:words], qp[words:2*words], qp[2*words:3*words], qp[3*words:4*words])
	}
	for p := range nbits {
		shift := uint(nbits - 1 - p)
		plane := planes[p*words*8 : (p+1)*words*8]
		var pip, ppc uint64
		for w := range words {
			cw := binary.LittleEndian.Uint64(plane[w*8:])
			ppc += uint64(bits.OnesCount64(cw))
			for k := range bq {
				pip += uint64(bits.OnesCount64(cw&qp[k*words+w])) << uint(k)
			}
		}
		ip += pip << shift
		pc += ppc << shift
	}
	return ip, pc
}

// dot1x4Generic is dotCodeGeneric for the default 1-bit code and 4-bit
// query, given the four query planes, with the plane loop unrolled.
func dot1x4Generic(plane []byte, q0, q1, q2, q3 []uint64) (ip, pc uint64) {
	n := len(plane) / 8
	q0, q1, q2, q3 = q0[:n], q1[:n], q2[:n], q3[:n]
	var s0, s1, s2, s3, c uint64
	for w := range n {
		cw := binary.LittleEndian.Uint64(plane[w*8:])
		c += uint64(bits.OnesCount64(cw))
		s0 += uint64(bits.OnesCount64(cw & q0[w]))
		s1 += uint64(bits.OnesCount64(cw & q1[w]))
		s2 += uint64(bits.OnesCount64(cw & q2[w]))
		s3 += uint64(bits.OnesCount64(cw & q3[w]))
	}
	return s0 + s1<<1 + s2<<2 + s3<<3, c
}
