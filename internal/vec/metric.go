package vec

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownMetric is returned, wrapped, by ParseMetric for a name it does
// not know.
var ErrUnknownMetric = errors.New("shoal: unknown metric")

// Metric selects how the distance between two vectors is measured. Every
// metric is arranged so that a smaller distance means closer. The values are
// stored on disk, so existing ones must never be renumbered.
type Metric uint8

const (
	// L2 is the squared Euclidean distance; the square root is skipped
	// because it does not change the order of results.
	L2 Metric = 1
	// InnerProduct is the negated dot product, so that the largest dot
	// product is the smallest distance.
	InnerProduct Metric = 2
	// Cosine is the negated dot product of vectors normalised at ingest
	// (see Normalize), which orders results as cosine similarity does
	// without dividing by the norms on every comparison.
	Cosine Metric = 3
)

// String returns the canonical name ("l2", "ip", "cosine"), which
// ParseMetric accepts; an invalid value prints as "Metric(N)".
func (m Metric) String() string {
	switch m {
	case L2:
		return "l2"
	case InnerProduct:
		return "ip"
	case Cosine:
		return "cosine"
	}
	return fmt.Sprintf("Metric(%d)", uint8(m))
}

// Valid reports whether m is one of the defined metrics.
func (m Metric) Valid() bool {
	return m == L2 || m == InnerProduct || m == Cosine
}

// ParseMetric returns the Metric named by s, ignoring case. It accepts
// "l2" or "euclidean"; "ip", "dot" or "inner_product"; and "cosine" or
// "angular". Anything else yields an error wrapping ErrUnknownMetric.
func ParseMetric(s string) (Metric, error) {
	switch strings.ToLower(s) {
	case "l2", "euclidean":
		return L2, nil
	case "ip", "dot", "inner_product":
		return InnerProduct, nil
	case "cosine", "angular":
		return Cosine, nil
	}
	return 0, fmt.Errorf("%q: %w", s, ErrUnknownMetric)
}
