package cluster

import (
	"sync"

	"github.com/shoaldb/shoal/internal/vec"
)

// flattenTree is flatten without its per-node costs, for trees of a
// million leaves: the node order is found first (breadth-first, as
// flatten), so the arrays are allocated once at their size (flatten grows
// Centroids by appending, a gigabyte of copying at a million nodes), the
// centroids are copied on workers goroutines, and leaves are numbered by
// walking the flat arrays instead of a map from nodes to indexes. The
// tree is flatten's, byte for byte (TestFlattenTreeMatchesFlatten).
func flattenTree(root *node, dim int, metric vec.Metric, workers int) *Tree {
	queue := []*node{root}
	for q := 0; q < len(queue); q++ {
		queue = append(queue, queue[q].children...)
	}
	n := len(queue)
	t := &Tree{
		Dim: dim, Metric: metric,
		Centroids:  make([]float32, n*dim),
		ChildStart: make([]int32, n),
		ChildCount: make([]int32, n),
		LeafID:     make([]int32, n),
		Parent:     make([]int32, n),
	}
	next := int32(1)
	leaves := 0
	for i, nd := range queue {
		t.ChildStart[i] = next
		t.ChildCount[i] = int32(len(nd.children))
		next += int32(len(nd.children))
		if len(nd.children) == 0 {
			leaves++
		}
	}
	const grain = 4096
	var wg sync.WaitGroup
	chunks := (n + grain - 1) / grain
	sem := make(chan struct{}, max(workers, 1))
	for c := 0; c < chunks; c++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				copy(t.Centroids[i*dim:(i+1)*dim], queue[i].centroid)
				t.LeafID[i] = -1
				t.Parent[i] = -1
			}
			<-sem
		}(c*grain, min((c+1)*grain, n))
	}
	wg.Wait()
	for i := range queue {
		for c := t.ChildStart[i]; c < t.ChildStart[i]+t.ChildCount[i]; c++ {
			t.Parent[c] = int32(i)
		}
	}
	t.LeafNode = make([]int32, 0, leaves)
	t.LeafSize = make([]int32, 0, leaves)
	var dfs func(i int32)
	dfs = func(i int32) {
		if t.ChildCount[i] == 0 {
			t.LeafID[i] = int32(len(t.LeafNode))
			t.LeafNode = append(t.LeafNode, i)
			t.LeafSize = append(t.LeafSize, int32(queue[i].size))
			return
		}
		for c := t.ChildStart[i]; c < t.ChildStart[i]+t.ChildCount[i]; c++ {
			dfs(c)
		}
	}
	dfs(0)
	t.live = len(t.LeafNode)
	return t
}
