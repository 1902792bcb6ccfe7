package rabitq

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// DenseRotator is a Haar-random orthonormal D′×D′ matrix in float64: the
// rotation RaBitQ's analysis assumes (RaBitQ §3.1.2), obtained by
// Gram–Schmidt on a Gaussian matrix. It costs D′² memory and D′² work per
// vector, so indexes use FhtRotator; this one is the reference the tests
// and offline experiments measure the fast rotation against.
type DenseRotator struct {
	d, dpad int
	m       []float64 // row-major, rows orthonormal
}

var _ Rotator = (*DenseRotator)(nil)

// NewDenseRotator returns a Haar-random rotation for dimension d, seeded.
// Building it takes O(D′³) time.
func NewDenseRotator(d int, seed uint64) (*DenseRotator, error) {
	if d < 1 || d > MaxDim {
		return nil, fmt.Errorf("%w: %d", ErrBadDim, d)
	}
	n := PaddedDim(d)
	rng := rand.New(rand.NewPCG(seed, 0x7261626974712d64)) // "rabitq-d"
	m := make([]float64, n*n)
	for i := range m {
		m[i] = rng.NormFloat64()
	}
	// Modified Gram–Schmidt, applied twice per row ("twice is enough",
	// Giraud et al.) so rows stay orthogonal to float64 precision. The
	// rows of a Gaussian matrix orthonormalised in order are Haar.
	for i := range n {
		row := m[i*n : (i+1)*n]
		for range 2 {
			for j := range i {
				prev := m[j*n : (j+1)*n]
				var dot float64
				for k := range row {
					dot += row[k] * prev[k]
				}
				for k := range row {
					row[k] -= dot * prev[k]
				}
			}
		}
		var norm float64
		for _, v := range row {
			norm += v * v
		}
		norm = math.Sqrt(norm)
		for k := range row {
			row[k] /= norm
		}
	}
	return &DenseRotator{d: d, dpad: n, m: m}, nil
}

// Dim implements Rotator.
func (r *DenseRotator) Dim() int { return r.d }

// PaddedDim implements Rotator.
func (r *DenseRotator) PaddedDim() int { return r.dpad }

// Rotate implements Rotator; the products are summed in float64.
func (r *DenseRotator) Rotate(dst, src []float32) {
	if len(src) != r.d || len(dst) != r.dpad {
		panic(fmt.Sprintf("rabitq: Rotate lengths %d→%d, want %d→%d", len(src), len(dst), r.d, r.dpad))
	}
	for i := range dst {
		row := r.m[i*r.dpad : i*r.dpad+r.d]
		var s float64
		for k, v := range src {
			s += row[k] * float64(v)
		}
		dst[i] = float32(s)
	}
}
