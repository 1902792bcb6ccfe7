package cluster

import "fmt"

// Graft returns one tree made of top with each of its leaves p replaced by
// the tree subs[p]: the root of subs[p] takes the place of leaf p (a
// one-leaf sub-tree leaves p a leaf, with the sub-tree's centroid), and
// its nodes and leaves follow. subs[p] nil keeps leaf p as it is.
//
// A partitioned build (package index/internal/build) clusters a sample
// into top's leaves, the partitions, then clusters each partition's own
// points into a sub-tree; Graft assembles the routing tree. The result is
// numbered as Build numbers its trees (nodes breadth-first, leaves
// depth-first, so a partition's heads get consecutive ids). top and subs
// must be trees as Build makes them: without edits (no dead slots or free
// leaf ids), of one dimension and metric. They are not modified.
func Graft(top *Tree, subs []*Tree) (*Tree, error) {
	if top.dead > 0 || top.live != top.NumLeaves() {
		return nil, fmt.Errorf("cluster: graft onto an edited tree")
	}
	if len(subs) != top.NumLeaves() {
		return nil, fmt.Errorf("cluster: graft of %d sub-trees onto %d leaves", len(subs), top.NumLeaves())
	}
	for p, s := range subs {
		switch {
		case s == nil:
		case s.Dim != top.Dim || s.Metric != top.Metric:
			return nil, fmt.Errorf("cluster: sub-tree %d is %d-dim %v, top %d-dim %v", p, s.Dim, s.Metric, top.Dim, top.Metric)
		case s.dead > 0 || s.live != s.NumLeaves():
			return nil, fmt.Errorf("cluster: sub-tree %d is edited", p)
		}
	}
	var walk func(t *Tree, i int32) *node
	walk = func(t *Tree, i int32) *node {
		if p := t.LeafID[i]; t == top && p >= 0 && subs[p] != nil {
			return walk(subs[p], 0)
		}
		nd := &node{centroid: t.Centroid(int(i))}
		if p := t.LeafID[i]; p >= 0 {
			nd.size = int(t.LeafSize[p])
			return nd
		}
		nd.children = make([]*node, 0, t.ChildCount[i])
		for c := t.ChildStart[i]; c < t.ChildStart[i]+t.ChildCount[i]; c++ {
			nd.children = append(nd.children, walk(t, c))
		}
		return nd
	}
	return flattenTree(walk(top, 0), top.Dim, top.Metric, 1), nil
}
