package vec

import "math"

// Norm2F32 returns the squared Euclidean norm of v, computed with the
// fastest available dot-product kernel.
func Norm2F32(v []float32) float32 {
	return dotF32Impl(v, v)
}

// Normalize scales v in place to unit Euclidean length, as the Cosine
// metric requires at ingest. It returns false, leaving v unchanged, when
// the norm is zero (there is no direction to keep) or not finite (v holds a
// NaN or Inf; reject such vectors with CheckFinite first).
//
// Normalize sums in float64 rather than using Norm2F32: ingest is not a hot
// path, and float32 squares would underflow to zero for components below
// about 1e-23 and overflow to Inf above about 1e19, both of which are
// legitimate, normalisable inputs.
func Normalize(v []float32) bool {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return false
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return true
}
