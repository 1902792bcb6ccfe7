package rabitq

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// PaddedDim returns D′, the dimension codes live in: d rounded up to a
// multiple of 64 so that every code plane is a whole number of uint64
// words. The padding coordinates are zero before rotation; the rotation
// spreads every vector over all D′ coordinates.
func PaddedDim(d int) int {
	if d <= 0 {
		return 0
	}
	return (d + 63) / 64 * 64
}

// A Rotator applies a fixed orthonormal transform P of ℝ^D′ to vectors of
// ℝ^D zero-padded to D′. Because P is orthonormal, it keeps every norm,
// inner product and distance, so codes and queries can live in the rotated
// space; the randomness of P is what RaBitQ's error analysis rests on
// (RaBitQ §3.1.2). Implementations are immutable and safe for concurrent
// use.
type Rotator interface {
	// Dim returns D, the length Rotate accepts.
	Dim() int
	// PaddedDim returns D′, the length Rotate writes.
	PaddedDim() int
	// Rotate writes P·src into dst. src has length Dim() and dst length
	// PaddedDim(); they must not overlap.
	Rotate(dst, src []float32)
}

// kacRounds is how many rounds of (random signs, Walsh–Hadamard, Kac mix)
// the fast rotator applies. RaBitQ-Library's FhtKac rotator uses four; each
// round multiplies the mixing, and four keep the bound violation rate at
// the Haar level in our tests.
const kacRounds = 4

// FhtRotator is the fast rotation used for indexes: kacRounds rounds of
// random ±1 sign flips on all D′ coordinates, a normalised fast
// Walsh–Hadamard transform on a power-of-two block of L coordinates
// (L the largest power of two ≤ D′; the block sits at the start in even
// rounds and at the end in odd ones), and, when L < D′, a Kac-walk step
// that rotates coordinate i with i + D′/2 by 45°. Every step is
// orthonormal, so the product is; it costs O(D′ log D′) per vector and
// stores kacRounds·D′ signs. This is the scheme of RaBitQ-Library's
// FhtKacRotator (design note §1.6), written from its description.
type FhtRotator struct {
	d, dpad, block int
	// signs holds, per round, ±1/√L (the Hadamard scale folded in), and
	// in rounds where the block does not cover a coordinate, ±1.
	signs []float32
}

var _ Rotator = (*FhtRotator)(nil)

// NewFhtRotator returns the fast rotator for dimension d (≥ 1), with signs
// drawn from a generator seeded by seed: the same (d, seed) always gives
// the same transform, on every platform.
func NewFhtRotator(d int, seed uint64) (*FhtRotator, error) {
	if d < 1 || d > MaxDim {
		return nil, fmt.Errorf("%w: %d", ErrBadDim, d)
	}
	dpad := PaddedDim(d)
	block := 1 << (bits.Len(uint(dpad)) - 1)
	r := &FhtRotator{d: d, dpad: dpad, block: block, signs: make([]float32, kacRounds*dpad)}
	rng := rand.New(rand.NewPCG(seed, 0x7261626974712d72)) // "rabitq-r"
	scale := float32(1 / math.Sqrt(float64(block)))
	for round := range kacRounds {
		s := r.signs[round*dpad : (round+1)*dpad]
		lo := 0
		if round%2 == 1 {
			lo = dpad - block
		}
		for i := range s {
			v := float32(1)
			if rng.Uint64()&1 == 1 {
				v = -1
			}
			if i >= lo && i < lo+block {
				v *= scale
			}
			s[i] = v
		}
	}
	return r, nil
}

// Dim implements Rotator.
func (r *FhtRotator) Dim() int { return r.d }

// PaddedDim implements Rotator.
func (r *FhtRotator) PaddedDim() int { return r.dpad }

// Rotate implements Rotator. It does not allocate.
func (r *FhtRotator) Rotate(dst, src []float32) {
	if len(src) != r.d || len(dst) != r.dpad {
		panic(fmt.Sprintf("rabitq: Rotate lengths %d→%d, want %d→%d", len(src), len(dst), r.d, r.dpad))
	}
	copy(dst, src)
	clear(dst[r.d:])
	half := r.dpad / 2
	const invSqrt2 = float32(0.70710678118654752440)
	for round := range kacRounds {
		s := r.signs[round*r.dpad : (round+1)*r.dpad]
		for i, v := range s {
			dst[i] *= v
		}
		lo := 0
		if round%2 == 1 {
			lo = r.dpad - r.block
		}
		fwht(dst[lo : lo+r.block])
		if r.block == r.dpad {
			continue
		}
		a, b := dst[:half], dst[half:]
		for i := range a {
			x, y := a[i], b[i]
			a[i] = (x + y) * invSqrt2
			b[i] = (x - y) * invSqrt2
		}
	}
}

// fwht is the unnormalised fast Walsh–Hadamard transform, in place, on a
// power-of-two length; the caller folds in the 1/√len scale.
func fwht(x []float32) {
	n := len(x)
	h := 1
	if n >= 4 {
		// The first two levels fused, on blocks of four: the same
		// additions in the same order, without the loop overhead of
		// one- and two-element halves.
		for i := 0; i+4 <= n; i += 4 {
			b := x[i : i+4 : i+4]
			a0, a1 := b[0]+b[1], b[0]-b[1]
			a2, a3 := b[2]+b[3], b[2]-b[3]
			b[0], b[2] = a0+a2, a0-a2
			b[1], b[3] = a1+a3, a1-a3
		}
		h = 4
	}
	for ; h < n; h *= 2 {
		for i := 0; i < n; i += 2 * h {
			a := x[i : i+h]
			b := x[i+h : i+2*h]
			for j := range a {
				u, v := a[j], b[j]
				a[j] = u + v
				b[j] = u - v
			}
		}
	}
}
