package rabitq

import "encoding/binary"

// The reference scorers unpack every code into its integers u_i one
// coordinate at a time. They are the oracle the tests hold the kernels to,
// and the baseline the benchmarks measure against.

// unpackRef returns u_i of a code's planes (see Encode for the layout).
func unpackRef(planes []byte, bits, words int) []int {
	u := make([]int, words*64)
	for i := range u {
		w, bit := i/64, uint(i%64)
		for p := range bits {
			word := binary.LittleEndian.Uint64(planes[(p*words+w)*8:])
			u[i] |= int(word>>bit&1) << (bits - 1 - p)
		}
	}
	return u
}

// dotCodeRef computes Σ u_i·q̄_i and Σ u_i from the unpacked code and the
// query's quantized coordinates.
func dotCodeRef(planes []byte, bits, words int, qbar []uint8) (ip, pc uint64) {
	for i, u := range unpackRef(planes, bits, words) {
		ip += uint64(u) * uint64(qbar[i])
		pc += uint64(u)
	}
	return ip, pc
}

// yDotFloatRef computes ⟨y, q⟩ in float64 for a float query, with
// y_i = u_i − (2^B−1)/2: the value the kernels approximate through the
// quantized query.
func yDotFloatRef(planes []byte, bits, words int, q []float32) float64 {
	half := float64(int(1)<<bits-1) / 2
	var s float64
	for i, u := range unpackRef(planes, bits, words) {
		s += (float64(u) - half) * float64(q[i])
	}
	return s
}

// estimateRef is Estimate through dotCodeRef.
func (q *Query) estimateRef(code []byte, ctr Center) Estimate {
	z := q.z
	ip, pc := dotCodeRef(code[:len(code)-FactorBytes], z.opts.Bits, z.words, q.qbar)
	return q.finish(ip, pc, ReadFactors(code), ctr)
}

// estimateFloatRef estimates with the unquantized rotated query: no query
// quantization error, so the bound has no query term. Tests use it to
// separate the code's error from the query's.
func (q *Query) estimateFloatRef(code []byte, ctr Center) Estimate {
	z := q.z
	f := ReadFactors(code)
	d := float64(f.Add) + ctr.Add + float64(f.Rescale)*yDotFloatRef(code[:len(code)-FactorBytes], z.opts.Bits, z.words, q.rot)
	slack := z.opts.Eps0 * float64(f.Err) * ctr.Err
	return Estimate{Dist: float32(d), Lower: float32(d - slack), Upper: float32(d + slack)}
}
