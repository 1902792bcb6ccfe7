package vec

import (
	"errors"
	"fmt"
	"math"
)

// ErrNotFinite is returned, wrapped with the offending index, by
// CheckFinite. A NaN or Inf component would poison every distance computed
// against the vector, so such vectors are refused at ingest.
var ErrNotFinite = errors.New("shoal: vector has NaN or Inf")

// CheckFinite returns nil if every component of v is finite, and otherwise
// an error wrapping ErrNotFinite that names the first NaN or Inf and its
// index.
func CheckFinite(v []float32) error {
	for i, x := range v {
		// An all-ones exponent is exactly the set of NaNs and infinities.
		if math.Float32bits(x)&0x7f800000 == 0x7f800000 {
			return fmt.Errorf("element %d is %v: %w", i, x, ErrNotFinite)
		}
	}
	return nil
}
