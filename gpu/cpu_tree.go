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
	s.found.Reset(n)
	s.frontier.Reset(beam)
	if t.ChildCount[0] == 0 {
		s.found.Push(0, uint32(t.LeafID[0]))
	} else {
		s.frontier.Push(0, 0)
	}
	for level := 0; s.frontier.Len() > 0 && level < maxLevels; level++ {
		s.next.Reset(beam)
		for _, f := range s.frontier.Items() {
			start, cnt := int(t.ChildStart[f.ID]), int(t.ChildCount[f.ID])
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
					if s.found.Admits(dist) {
						s.found.Push(dist, uint32(leaf))
					}
				} else if s.next.Admits(dist) {
					s.next.Push(dist, uint32(child))
				}
			}
		}
		s.frontier, s.next = s.next, s.frontier
	}
	drain(&s.found, leaves, dists)
}
