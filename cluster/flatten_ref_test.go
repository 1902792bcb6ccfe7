package cluster

import "github.com/shoaldb/shoal/internal/vec"

// The first layout code, kept as the reference flattenTree must match
// byte for byte (TestFlattenTreeMatchesFlatten).

// flatten lays the pointer tree out breadth-first and numbers the leaves
// depth-first, simply.
func flatten(root *node, dim int, metric vec.Metric) *Tree {
	t := &Tree{Dim: dim, Metric: metric}
	queue := []*node{root}
	index := map[*node]int32{root: 0}
	for q := 0; q < len(queue); q++ {
		nd := queue[q]
		t.Centroids = append(t.Centroids, nd.centroid...)
		t.ChildStart = append(t.ChildStart, int32(len(queue)))
		t.ChildCount = append(t.ChildCount, int32(len(nd.children)))
		for _, c := range nd.children {
			index[c] = int32(len(queue))
			queue = append(queue, c)
		}
	}
	t.LeafID = make([]int32, len(queue))
	t.Parent = make([]int32, len(queue))
	for i := range t.LeafID {
		t.LeafID[i] = -1
		t.Parent[i] = -1
	}
	for i := range queue {
		for c := t.ChildStart[i]; c < t.ChildStart[i]+t.ChildCount[i]; c++ {
			t.Parent[c] = int32(i)
		}
	}
	var dfs func(nd *node)
	dfs = func(nd *node) {
		if len(nd.children) == 0 {
			i := index[nd]
			t.LeafID[i] = int32(len(t.LeafNode))
			t.LeafNode = append(t.LeafNode, i)
			t.LeafSize = append(t.LeafSize, int32(nd.size))
			return
		}
		for _, c := range nd.children {
			dfs(c)
		}
	}
	dfs(root)
	t.live = len(t.LeafNode)
	return t
}
