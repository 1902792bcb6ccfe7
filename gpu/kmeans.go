package gpu

import (
	"fmt"
)

// segments describes validated Points arguments.
type segments struct {
	n     int // positions (len(idx))
	nseg  int // segments
	cents int // centroid slots
}

// checkSegments validates the segment layout shared by Points.Assign and
// Points.Sums against a point set of rows rows.
func checkSegments(rows int, idx, pseg, cseg []int32) (segments, error) {
	s := segments{n: len(idx), nseg: len(pseg) - 1}
	if len(pseg) < 1 || len(pseg) != len(cseg) {
		return s, fmt.Errorf("%w: %d point and %d centroid segment bounds", ErrBadInput, len(pseg), len(cseg))
	}
	if pseg[0] != 0 || cseg[0] != 0 || int(pseg[s.nseg]) != s.n {
		return s, fmt.Errorf("%w: segments must start at 0 and cover all %d positions", ErrBadInput, s.n)
	}
	for i := 0; i < s.nseg; i++ {
		if pseg[i+1] < pseg[i] || cseg[i+1] < cseg[i] {
			return s, fmt.Errorf("%w: segment %d bounds decrease", ErrBadInput, i)
		}
		if pseg[i+1] > pseg[i] && cseg[i+1] == cseg[i] {
			return s, fmt.Errorf("%w: segment %d has points but no centroid", ErrBadInput, i)
		}
	}
	s.cents = int(cseg[s.nseg])
	for i, r := range idx {
		if r < 0 || int(r) >= rows {
			return s, fmt.Errorf("%w: idx[%d] = %d, have %d rows", ErrBadInput, i, r, rows)
		}
	}
	return s, nil
}

// checkAssign validates Assign's output and penalty slices.
func checkAssign(s segments, dim int, centroids []float32, penalty []float64, labels []int32, dists []float32) error {
	switch {
	case len(centroids) != s.cents*dim:
		return fmt.Errorf("%w: %d centroid floats, want %d×%d", ErrBadInput, len(centroids), s.cents, dim)
	case penalty != nil && len(penalty) != s.cents:
		return fmt.Errorf("%w: %d penalties for %d centroids", ErrBadInput, len(penalty), s.cents)
	case len(labels) != s.n || len(dists) != s.n:
		return fmt.Errorf("%w: %d labels and %d dists for %d points", ErrBadInput, len(labels), len(dists), s.n)
	}
	return nil
}

// checkSums validates Sums' label and output slices.
func checkSums(s segments, dim int, labels, cseg []int32, sums []float64, counts []int) error {
	switch {
	case len(labels) != s.n:
		return fmt.Errorf("%w: %d labels for %d points", ErrBadInput, len(labels), s.n)
	case len(sums) != s.cents*dim || len(counts) != s.cents:
		return fmt.Errorf("%w: %d sums and %d counts for %d centroids of dim %d", ErrBadInput, len(sums), len(counts), s.cents, dim)
	}
	return nil
}

// checkLabels reports a label outside its segment's centroids.
func checkLabels(s segments, pseg, cseg, labels []int32) error {
	for g := 0; g < s.nseg; g++ {
		k := cseg[g+1] - cseg[g]
		for i := pseg[g]; i < pseg[g+1]; i++ {
			if l := labels[i]; l < 0 || l >= k {
				return fmt.Errorf("%w: label %d at position %d, segment %d has %d centroids", ErrBadInput, l, i, g, k)
			}
		}
	}
	return nil
}
