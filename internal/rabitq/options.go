package rabitq

import (
	"fmt"

	"github.com/shoaldb/shoal/internal/vec"
)

// DefaultEps0 is ε0, the confidence parameter of the RaBitQ error bound:
// the bound fails with probability at most about 2·exp(−c0·ε0²) (RaBitQ
// Thm 3.2). 1.9 is the value the paper's experiments and RaBitQ-Library
// use.
const DefaultEps0 = 1.9

// DefaultQueryZ is how many standard deviations of the query-quantization
// error the bound allows for (design note §1.3).
const DefaultQueryZ = 3

// RotationKind selects the rotation a Quantizer applies.
type RotationKind uint8

const (
	// RotationFht is the fast Hadamard/Kac rotation (FhtRotator), the
	// default.
	RotationFht RotationKind = iota
	// RotationDense is a Haar-random dense matrix (DenseRotator), for
	// experiments that measure what the fast rotation costs in accuracy.
	RotationDense
)

// Options configure a Quantizer. The zero value of every field but Dim is
// a sane default; call EnsureDefaults then Validate (New does both).
type Options struct {
	// Dim is D, the dimension of the vectors encoded. Required.
	Dim int
	// Bits is B, the bits per dimension of a code, 1..8. 1 is RaBitQ's
	// sign code; 2..8 are extended RaBitQ codes. Default 1.
	Bits int
	// QueryBits is Bq, the bits per dimension the rotated query is
	// quantized to for the popcount kernels, 1..8. Default 4 for 1-bit
	// codes (RaBitQ §3.3.1: 4 bits suffice) and 8 for multi-bit codes,
	// whose code error is so much smaller that a 4-bit query's rounding
	// error would dominate the bound (4–5× the code term in our tests).
	QueryBits int
	// Metric is the distance the factors estimate: vec.L2 (squared
	// Euclidean, the default), vec.InnerProduct (−⟨o,q⟩) or vec.Cosine
	// (−⟨o,q⟩ of vectors the caller has normalised).
	Metric vec.Metric
	// Seed fixes the rotation and the query dither; the same seed gives
	// the same codes on every platform.
	Seed uint64
	// Rotation selects the rotation; default RotationFht.
	Rotation RotationKind
	// Eps0 is ε0 of the error bound; default DefaultEps0. Larger values
	// give wider, safer bounds.
	Eps0 float64
	// ExactScale makes multi-bit codes search the best scale for every
	// vector (extended RaBitQ §3.2, O(D′·2^B·B) per vector). By default
	// one scale per dimension and bits, measured once on Gaussian vectors,
	// is used for all (the fast variant: O(D′) per vector, a slightly
	// wider bound).
	ExactScale bool
	// QueryZ is the number of standard deviations of query-quantization
	// error added to the bound; default DefaultQueryZ.
	QueryZ float64
}

// EnsureDefaults fills the zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Bits == 0 {
		o.Bits = 1
	}
	if o.QueryBits == 0 {
		o.QueryBits = 4
		if o.Bits > 1 {
			o.QueryBits = 8
		}
	}
	if o.Metric == 0 {
		o.Metric = vec.L2
	}
	if o.Eps0 == 0 {
		o.Eps0 = DefaultEps0
	}
	if o.QueryZ == 0 {
		o.QueryZ = DefaultQueryZ
	}
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	switch {
	case o.Dim < 1 || o.Dim > MaxDim:
		return fmt.Errorf("%w: Dim %d not in [1, %d]", ErrBadOptions, o.Dim, MaxDim)
	case o.Bits < 1 || o.Bits > 8:
		return fmt.Errorf("%w: Bits %d not in [1, 8]", ErrBadOptions, o.Bits)
	case o.QueryBits < 1 || o.QueryBits > 8:
		return fmt.Errorf("%w: QueryBits %d not in [1, 8]", ErrBadOptions, o.QueryBits)
	case o.Metric != vec.L2 && o.Metric != vec.InnerProduct && o.Metric != vec.Cosine:
		return fmt.Errorf("%w: Metric %v", ErrBadOptions, o.Metric)
	case o.Rotation != RotationFht && o.Rotation != RotationDense:
		return fmt.Errorf("%w: Rotation %d", ErrBadOptions, o.Rotation)
	case !(o.Eps0 > 0) || o.Eps0 > 1e6:
		return fmt.Errorf("%w: Eps0 %v not in (0, 1e6]", ErrBadOptions, o.Eps0)
	case !(o.QueryZ >= 0) || o.QueryZ > 1e6:
		return fmt.Errorf("%w: QueryZ %v not in [0, 1e6]", ErrBadOptions, o.QueryZ)
	}
	return nil
}

// Quantizer holds what every code of an index shares: the rotation, the
// bits and the metric. It is immutable and safe for concurrent use; the
// per-goroutine workspaces are Encoder and Query.
type Quantizer struct {
	opts  Options
	rot   Rotator
	dpad  int
	words int     // D′/64, uint64 words per code plane
	scale float64 // t0 of the fixed-scale encoding (fixedScale)
}

// New returns a Quantizer for opts (defaults filled in).
func New(opts Options) (*Quantizer, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var rot Rotator
	var err error
	if opts.Rotation == RotationDense {
		rot, err = NewDenseRotator(opts.Dim, opts.Seed)
	} else {
		rot, err = NewFhtRotator(opts.Dim, opts.Seed)
	}
	if err != nil {
		return nil, err
	}
	dpad := rot.PaddedDim()
	z := &Quantizer{opts: opts, rot: rot, dpad: dpad, words: dpad / 64}
	if opts.Bits > 1 && !opts.ExactScale {
		z.scale = fixedScale(dpad, opts.Bits-1)
	}
	return z, nil
}

// Options returns the options with defaults filled in.
func (z *Quantizer) Options() Options { return z.opts }

// Dim returns D.
func (z *Quantizer) Dim() int { return z.opts.Dim }

// PaddedDim returns D′, the length of rotated vectors.
func (z *Quantizer) PaddedDim() int { return z.dpad }

// Rotator returns the rotation.
func (z *Quantizer) Rotator() Rotator { return z.rot }

// Rotate writes the rotated, padded form of v (length D) into dst (length
// D′). Encoding centers and data vectors go through it once each.
func (z *Quantizer) Rotate(dst, v []float32) error {
	if len(v) != z.opts.Dim || len(dst) != z.dpad {
		return fmt.Errorf("%w: Rotate %d→%d, want %d→%d", ErrLength, len(v), len(dst), z.opts.Dim, z.dpad)
	}
	z.rot.Rotate(dst, v)
	return nil
}

// CodeSize returns the bytes of one encoded vector: Bits·D′/8 bytes of
// code planes and FactorBytes of factors.
func (z *Quantizer) CodeSize() int { return CodeSize(z.dpad, z.opts.Bits) }

// CodeSize returns the bytes of one code of B bits in padded dimension
// dpad (a multiple of 64).
func CodeSize(dpad, bits int) int { return bits*dpad/8 + FactorBytes }
