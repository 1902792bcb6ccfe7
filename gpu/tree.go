package gpu

import "fmt"

// check validates a tree's arrays against each other.
func (t *Tree) check() error {
	nodes := len(t.ChildCount)
	switch {
	case t.Metric != L2 && t.Metric != InnerProduct:
		return fmt.Errorf("%w: tree routing metric %v, want l2 or ip", ErrBadInput, t.Metric)
	case nodes == 0:
		return fmt.Errorf("%w: empty tree", ErrBadInput)
	case t.Dim <= 0 || len(t.Centroids) != nodes*t.Dim:
		return fmt.Errorf("%w: %d centroid floats for %d nodes of dim %d", ErrBadInput, len(t.Centroids), nodes, t.Dim)
	case len(t.ChildStart) != nodes || len(t.LeafID) != nodes:
		return fmt.Errorf("%w: tree arrays of %d, %d and %d nodes", ErrBadInput, len(t.ChildStart), nodes, len(t.LeafID))
	}
	for i := 0; i < nodes; i++ {
		s, c := int(t.ChildStart[i]), int(t.ChildCount[i])
		if c < 0 || (c > 0 && (s < 0 || s+c > nodes)) {
			return fmt.Errorf("%w: node %d has children %d..%d of %d nodes", ErrBadInput, i, s, s+c, nodes)
		}
	}
	return nil
}

// checkSearch validates TreeIndex.Search's arguments and returns the
// number of queries.
func checkSearch(dim int, queries []float32, n, beam int, leaves []int32, dists []float32) (int, error) {
	nq, err := checkShape("queries", queries, dim)
	if err != nil {
		return 0, err
	}
	if n < 1 || len(leaves) != nq*n || len(dists) != nq*n {
		return 0, fmt.Errorf("%w: n %d with %d leaves and %d dists for %d queries", ErrBadInput, n, len(leaves), len(dists), nq)
	}
	return nq, nil
}
