package synth

import (
	"fmt"
	"math"

	"github.com/shoaldb/shoal/internal/vecfile"
)

// Spec describes a synthetic data set: N base vectors and Queries query
// vectors of dimension Dim, drawn from one Gaussian mixture, and the exact
// K nearest base vectors of every query. Zero fields take the defaults
// that EnsureDefaults documents; the same spec always gives the same data.
//
// The model imitates real embeddings:
//   - the cluster centres and the clusters' spread live in a random
//     Rank-dimensional subspace (a random orthonormal basis of R^Dim), so
//     the intrinsic dimension is much lower than Dim;
//   - the Clusters centres are themselves grouped around √Clusters
//     super-centres, a two-level structure;
//   - cluster weights are log-normal, so cluster sizes differ by two to
//     three orders of magnitude;
//   - each cluster has its own covariance factor (a random Gaussian matrix
//     times a power-law spectrum scaled by a log-normal spread around
//     Spread), so clusters differ in size, shape and orientation;
//   - isotropic noise of standard deviation Noise is added in all Dim
//     dimensions, and every vector is shifted by one random global mean.
type Spec struct {
	// N is the number of base vectors. Required, at most 2³¹−1 (ids are
	// int32 in the ground-truth files).
	N int
	// Queries is the number of query vectors, drawn from the same
	// distribution as the base vectors but from different random streams.
	// Required.
	Queries int
	// Dim is the dimension. Default 128.
	Dim int
	// K is the number of neighbours per query in the ground truth.
	// Default 100; a K above N is reduced to N.
	K int
	// Seed selects the data set. 0 is a seed like any other.
	Seed uint64
	// Clusters is the number of Gaussian clusters. Default 1000.
	Clusters int
	// Rank is the dimension of the subspace the clusters live in.
	// Default 32; a Rank above Dim is reduced to Dim.
	Rank int
	// Noise is the standard deviation of the isotropic noise. Default
	// 0.15; a negative value means no noise.
	Noise float64
	// Spread is the median scale of a cluster's standard deviation (the
	// centres have unit scale). Default 2.
	Spread float64
	// Elem is the element type written: vecfile.Float32 (the default) or
	// vecfile.Uint8, SIFT-like bytes quantised from the same mixture (see
	// quantizer). The ground truth is exact for the values written.
	Elem vecfile.Elem
}

// EnsureDefaults fills unset fields with their defaults.
func (s *Spec) EnsureDefaults() {
	if s.Dim == 0 {
		s.Dim = 128
	}
	if s.K == 0 {
		s.K = 100
	}
	if s.K > s.N && s.N > 0 {
		s.K = s.N
	}
	if s.Clusters == 0 {
		s.Clusters = 1000
	}
	if s.Rank == 0 {
		s.Rank = 32
	}
	if s.Rank > s.Dim && s.Dim > 0 {
		s.Rank = s.Dim
	}
	if s.Noise == 0 {
		s.Noise = 0.15
	} else if s.Noise < 0 {
		s.Noise = 0
	}
	if s.Spread == 0 {
		s.Spread = 2
	}
	if s.Elem == 0 {
		s.Elem = vecfile.Float32
	}
}

// Validate reports a spec that cannot be generated. Call it after
// EnsureDefaults.
func (s *Spec) Validate() error {
	switch {
	case s.N < 1 || s.N > math.MaxInt32:
		return fmt.Errorf("gen: N %d, want 1..%d", s.N, math.MaxInt32)
	case s.Queries < 1 || s.Queries > math.MaxInt32:
		return fmt.Errorf("gen: Queries %d, want 1..%d", s.Queries, math.MaxInt32)
	case s.Dim < 1 || s.Dim > vecfile.MaxDim:
		return fmt.Errorf("gen: Dim %d, want 1..%d", s.Dim, vecfile.MaxDim)
	case s.K < 1:
		return fmt.Errorf("gen: K %d, want >= 1", s.K)
	case s.Clusters < 1:
		return fmt.Errorf("gen: Clusters %d, want >= 1", s.Clusters)
	case s.Rank < 1:
		return fmt.Errorf("gen: Rank %d, want >= 1", s.Rank)
	case !(s.Spread > 0) || math.IsInf(s.Spread, 0) || math.IsNaN(s.Noise) || math.IsInf(s.Noise, 0):
		return fmt.Errorf("gen: Spread %v must be > 0 and Noise %v finite", s.Spread, s.Noise)
	case s.Elem != vecfile.Float32 && s.Elem != vecfile.Uint8:
		return fmt.Errorf("gen: Elem %v, want float32 or uint8", s.Elem)
	}
	return nil
}
