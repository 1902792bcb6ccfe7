package vec

import "math"

// Float16 components are IEEE-754 binary16 values held as their bit
// patterns in uint16s: 1 sign bit, 5 exponent bits (bias 15) and 10
// fraction bits. Finite halves span ±65504; below 2^-14 they are subnormal,
// down to 2^-24. Every half widens to float32 exactly, so the conversion
// and the kernels lose nothing on the way up; only narrowing rounds.
//
// The conversions are plain Go: they run at ingest, once per component,
// where their cost is small beside reading and clustering the data. They
// return the same bits as the F16C instructions (VCVTPS2PH with
// round-to-nearest-even, and VCVTPH2PS) for every input, NaNs included.

// Float16bits returns the binary16 encoding of f rounded to the nearest
// half, ties to even. Magnitudes of 65520 and more (halfway between the
// largest half, 65504, and the 65536 the format cannot hold) become ±Inf;
// those of 2^-25 and less become ±0, keeping the sign. A NaN stays a NaN of
// the same sign, quieted, with the top 9 bits of its payload.
func Float16bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	// e is the biased half exponent that f's own exponent maps to.
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// A half subnormal counts units of 2^-24. f is m·2^(exp-150)
		// with the implicit bit in m, that is m·2^(e-14) units, so the
		// units are m shifted right by 14-e, rounded. Float32 subnormals
		// (exp 0) and anything shifted by more than 24 bits lie below
		// half a unit and round to zero.
		shift := 14 - e
		if exp == 0 || shift > 24 {
			return sign
		}
		return sign | roundShift(mant|0x800000, uint(shift))
	}
	// Normal: keep the top 10 fraction bits and round on the other 13. A
	// carry out of the fraction bumps the exponent, which is the right
	// answer, up to and including rounding 65520 and above to Inf.
	return sign | (uint16(e)<<10 + roundShift(mant, 13))
}

// roundShift returns m >> s rounded to nearest, ties to even, for
// 1 <= s <= 24 and results that fit in 16 bits.
func roundShift(m uint32, s uint) uint16 {
	q := m >> s
	rem := m & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	return uint16(q)
}

// Float16frombits returns the float32 value of the binary16 encoding h,
// which is always exact. A NaN keeps its sign and payload and comes out
// quiet, as VCVTPH2PS makes it.
func Float16frombits(h uint16) float32 {
	// Shifting the exponent and fraction into place and rebiasing the
	// exponent from 15 to 127 widens a normal half. Inf and NaN need the
	// all-ones exponent instead, which is a second rebias; zeros and
	// subnormals (fraction units of 2^-24) are converted as integers and
	// scaled, which float32 holds exactly. The function is small enough
	// to inline into the generic kernels.
	x := uint32(h)
	b := x&0x7fff<<13 + (127-15)<<23
	switch x & 0x7c00 {
	case 0:
		b = math.Float32bits(float32(x&0x3ff) * 0x1p-24)
	case 0x7c00:
		b += (127 - 15) << 23
		if x&0x3ff != 0 {
			b |= 1 << 22
		}
	}
	return math.Float32frombits(b | x&0x8000<<16)
}

// F32ToF16 sets dst[i] to Float16bits(src[i]) for every i. It panics if
// their lengths differ.
func F32ToF16(dst []uint16, src []float32) {
	if len(dst) != len(src) {
		panicLengths("F32ToF16", len(dst), len(src))
	}
	for i, f := range src {
		dst[i] = Float16bits(f)
	}
}

// F16ToF32 sets dst[i] to Float16frombits(src[i]) for every i. It panics
// if their lengths differ.
func F16ToF32(dst []float32, src []uint16) {
	if len(dst) != len(src) {
		panicLengths("F16ToF32", len(dst), len(src))
	}
	for i, h := range src {
		dst[i] = Float16frombits(h)
	}
}
