package gpu

import (
	"slices"

	"github.com/shoaldb/shoal/internal/vec"
)

// cpuTree is the CPU backend's TreeIndex: package cluster's beam search
// over a copy of the tree. It is safe for concurrent use.
type cpuTree struct {
	t       Tree
	workers int
}

var _ TreeIndex = (*cpuTree)(nil)

func (c *cpuBackend) LoadTree(t *Tree) (TreeIndex, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	cp := *t
	cp.Centroids = slices.Clone(t.Centroids)
	cp.ChildStart = slices.Clone(t.ChildStart)
	cp.ChildCount = slices.Clone(t.ChildCount)
	cp.LeafID = slices.Clone(t.LeafID)
	return &cpuTree{t: cp, workers: c.workers}, nil
}

func (ct *cpuTree) Close() error { return nil }

func (ct *cpuTree) Search(queries []float32, n, beam int, leaves []int32, dists []float32) error {
	nq, err := checkSearch(ct.t.Dim, queries, n, beam, leaves, dists)
	if err != nil {
		return err
	}
	dim := ct.t.Dim
	parallel(nq, 16, ct.workers, func(lo, hi int) {
		var s treeSearcher
		for i := lo; i < hi; i++ {
			s.search(&ct.t, queries[i*dim:(i+1)*dim], n, beam, leaves[i*n:(i+1)*n], dists[i*n:(i+1)*n])
		}
	})
	return nil
}

// maxLevels bounds the levels a tree search descends, as the CUDA kernel
// does, so that a malformed tree with a cycle cannot loop forever.
const maxLevels = 4096

// treeSearcher holds one goroutine's scratch for beam searches.
type treeSearcher struct {
	frontier, next, found bounded
	d                     []float32
}

// search is cluster.Tree.Search: at every level the children of the beam
// frontier nodes are scored; leaves compete for the n nearest, inner nodes
// for the next frontier.
func (s *treeSearcher) search(t *Tree, q []float32, n, beam int, leaves []int32, dists []float32) {
	beam = max(beam, n)
	s.found.reset(n)
	s.frontier.reset(beam)
	if t.ChildCount[0] == 0 {
		s.found.push(pair{0, t.LeafID[0]})
	} else {
		s.frontier.push(pair{0, 0})
	}
	for level := 0; len(s.frontier.items) > 0 && level < maxLevels; level++ {
		s.next.reset(beam)
		for _, f := range s.frontier.items {
			start, cnt := int(t.ChildStart[f.id]), int(t.ChildCount[f.id])
			if cap(s.d) < cnt {
				s.d = make([]float32, cnt)
			}
			d := s.d[:cnt]
			rows := t.Centroids[start*t.Dim : (start+cnt)*t.Dim]
			if t.Metric == L2 {
				vec.L2SquaredF32Batch(q, rows, d)
			} else {
				vec.DotF32Batch(q, rows, d)
				for j := range d {
					d[j] = -d[j]
				}
			}
			for j, dist := range d {
				child := start + j
				if leaf := t.LeafID[child]; leaf >= 0 {
					s.found.push(pair{dist, leaf})
				} else {
					s.next.push(pair{dist, int32(child)})
				}
			}
		}
		s.frontier, s.next = s.next, s.frontier
	}
	s.found.drain(leaves, dists)
}
