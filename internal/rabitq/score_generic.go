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
	switch bq {
	case 4:
		return dotPlanesBy4(planes, nbits, words, qp, bq, dot1x4Words)
	case 8:
		for p := range nbits {
			gip, gpc := dot1x8Generic(planes[p*words*8:(p+1)*words*8], qp[:8*words], words)
			ip += gip << uint(nbits-1-p)
			pc += gpc << uint(nbits-1-p)
		}
		return ip, pc
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

// dotPlanesBy4 computes dotCodeGeneric's sums for a query of a multiple
// of 4 bits with dot1x4, the sums of one code plane against four query
// planes (stride words apart): B·Bq/4 calls of an unrolled kernel instead
// of B·Bq popcounts in a loop with variable shifts.
func dotPlanesBy4(planes []byte, nbits, words int, qp []uint64, bq int, dot1x4 func(plane []byte, qp []uint64, words int) (ip, pc uint64)) (ip, pc uint64) {
	for p := range nbits {
		shift := uint(nbits - 1 - p)
		plane := planes[p*words*8 : (p+1)*words*8]
		var pip, ppc uint64
		for g := 0; g < bq; g += 4 {
			gip, gpc := dot1x4(plane, qp[g*words:(g+4)*words], words)
			pip += gip << uint(g)
			ppc = gpc
		}
		ip += pip << shift
		pc += ppc << shift
	}
	return ip, pc
}

// dot1x4Words is dot1x4Generic with the four query planes of qp, words
// apart.
func dot1x4Words(plane []byte, qp []uint64, words int) (ip, pc uint64) {
	return dot1x4Generic(plane, qp[:words], qp[words:2*words], qp[2*words:3*words], qp[3*words:4*words])
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

// dot1x8Generic is the sums of one code plane against the eight planes of
// an 8-bit query (qp, plane-major, words apart), unrolled.
func dot1x8Generic(plane []byte, qp []uint64, words int) (ip, pc uint64) {
	q0, q1, q2, q3 := qp[:words], qp[words:2*words], qp[2*words:3*words], qp[3*words:4*words]
	q4, q5, q6, q7 := qp[4*words:5*words], qp[5*words:6*words], qp[6*words:7*words], qp[7*words:8*words]
	plane = plane[:words*8]
	var s0, s1, s2, s3, s4, s5, s6, s7, c uint64
	for w := range words {
		cw := binary.LittleEndian.Uint64(plane[w*8:])
		c += uint64(bits.OnesCount64(cw))
		s0 += uint64(bits.OnesCount64(cw & q0[w]))
		s1 += uint64(bits.OnesCount64(cw & q1[w]))
		s2 += uint64(bits.OnesCount64(cw & q2[w]))
		s3 += uint64(bits.OnesCount64(cw & q3[w]))
		s4 += uint64(bits.OnesCount64(cw & q4[w]))
		s5 += uint64(bits.OnesCount64(cw & q5[w]))
		s6 += uint64(bits.OnesCount64(cw & q6[w]))
		s7 += uint64(bits.OnesCount64(cw & q7[w]))
	}
	return s0 + s1<<1 + s2<<2 + s3<<3 + s4<<4 + s5<<5 + s6<<6 + s7<<7, c
}
