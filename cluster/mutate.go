package cluster

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Online edits of the tree, for SPFresh's LIRE (Xu et al., SOSP 2023): a
// posting that grows too long is split in two by balanced 2-means
// (TwoMeans) and its leaf with it (SplitLeaf); a posting that shrinks too
// far is merged into its neighbours and its leaf removed (RemoveLeaf); a
// head can follow its posting (SetHead). Inner centroids are not updated:
// they route to whole sub-trees and drift slowly.
//
// An edit touches one block of siblings (RemoveLeaf one per level it
// empties), O(MaxChildren·(Dim+MaxChildren)) work, never the whole tree;
// dead slots it leaves are reused by later edits, so the arrays stay near
// their high-water mark. Edits are deterministic; their results
// depend only on the arrays of the tree they start from, so a tree that is
// saved, loaded and given the same edits ends byte-identical to one that
// was given them in memory.

// Errors returned by the edits.
var (
	ErrNoLeaf            = errors.New("cluster: no such leaf")
	ErrLeafInUse         = errors.New("cluster: leaf id in use")
	ErrLastLeaf          = errors.New("cluster: cannot remove the last leaf")
	ErrLeafRange         = errors.New("cluster: leaf id out of range")
	ErrDimensionMismatch = errors.New("cluster: dimension mismatch")
)

// SplitLeaf gives leaf p the head c1 and adds a new leaf newID with head c2
// next to it: as a sibling of p when p's parent has fewer than MaxChildren
// children, otherwise (or when p is the root) by turning p's node into an
// inner node, whose centroid stays p's old head, with the two children p
// (c1) and newID (c2).
//
// A new sibling is appended to the parent's block of children when the
// slot after it is free; otherwise the block moves to the best-fitting run
// of dead slots (or the end of the arrays) with the new child appended,
// and its old slots die. newID must not be a live leaf and must be below
// math.MaxInt32; LeafNode and LeafSize grow to newID+1 if needed, so pick
// free or fresh ids, not arbitrary ones. c1 and c2 are copied.
func (t *Tree) SplitLeaf(p, newID uint32, c1, c2 []float32) error {
	switch {
	case !t.IsLeaf(p):
		return fmt.Errorf("split leaf %d: %w", p, ErrNoLeaf)
	case t.IsLeaf(newID):
		return fmt.Errorf("split leaf %d: new leaf %d: %w", p, newID, ErrLeafInUse)
	case newID >= math.MaxInt32:
		return fmt.Errorf("split leaf %d: new leaf %d: %w", p, newID, ErrLeafRange)
	case len(c1) != t.Dim || len(c2) != t.Dim:
		return fmt.Errorf("split leaf %d: centroids of %d and %d floats, want %d: %w", p, len(c1), len(c2), t.Dim, ErrDimensionMismatch)
	}
	// The edit may move or reuse the slots c1 and c2 alias.
	c1, c2 = slices.Clone(c1), slices.Clone(c2)
	for int(newID) >= len(t.LeafNode) {
		t.LeafNode = append(t.LeafNode, -1)
		t.LeafSize = append(t.LeafSize, 0)
	}
	x := t.LeafNode[p]
	var y int32 // newID's node
	if par := t.Parent[x]; par >= 0 && t.ChildCount[par] < MaxChildren {
		y = t.growBlock(par)
		x = t.LeafNode[p] // the block may have moved
		t.Parent[y] = par
	} else {
		// x keeps its centroid, p's old head, to route to both.
		b := t.allocNodes(2)
		t.LeafID[x], t.ChildStart[x], t.ChildCount[x] = -1, b, 2
		t.LeafID[b], t.Parent[b], t.Parent[b+1] = int32(p), x, x
		t.LeafNode[p] = b
		x, y = b, b+1
	}
	copy(t.Centroid(int(x)), c1)
	copy(t.Centroid(int(y)), c2)
	t.LeafID[y] = int32(newID)
	t.LeafNode[newID] = y
	t.LeafSize[newID] = 0
	t.live++
	return nil
}

// growBlock adds a slot at the end of par's block of children and returns
// it, moving the block if the slot after it is taken.
func (t *Tree) growBlock(par int32) int32 {
	s, c := t.ChildStart[par], t.ChildCount[par]
	if t.claimAfter(s + c) {
		t.ChildCount[par]++
		return s + c
	}
	b := t.allocNodes(c + 1)
	for j := range c {
		t.moveNode(s+j, b+j)
	}
	t.ChildStart[par], t.ChildCount[par] = b, c+1
	t.freeNodes(s, c)
	return b + c
}

// RemoveLeaf deletes leaf p; its id becomes free. An inner node left with
// no children is removed from its parent in turn (one left with a single
// child stays: it still routes correctly). The last sibling of the block
// takes the freed slot, so blocks stay contiguous. Removing the last leaf
// of the tree is an error.
func (t *Tree) RemoveLeaf(p uint32) error {
	switch {
	case !t.IsLeaf(p):
		return fmt.Errorf("remove leaf %d: %w", p, ErrNoLeaf)
	case t.live == 1:
		return fmt.Errorf("remove leaf %d: %w", p, ErrLastLeaf)
	}
	x := t.LeafNode[p]
	t.LeafNode[p], t.LeafSize[p] = -1, 0
	t.live--
	for {
		par := t.Parent[x]
		if par < 0 {
			// Only the root has no parent, and the root empties only when
			// every leaf is gone.
			panic(fmt.Sprintf("cluster: removing leaf %d emptied the root", p))
		}
		last := t.ChildStart[par] + t.ChildCount[par] - 1
		if x != last {
			t.moveNode(last, x)
		}
		t.ChildCount[par]--
		if t.ChildCount[par] == 0 {
			t.ChildStart[par] = 0
		}
		t.freeNodes(last, 1)
		if t.ChildCount[par] > 0 {
			return nil
		}
		x = par
	}
}

// SetHead moves leaf p's head to c (copied).
func (t *Tree) SetHead(p uint32, c []float32) error {
	switch {
	case !t.IsLeaf(p):
		return fmt.Errorf("set head of leaf %d: %w", p, ErrNoLeaf)
	case len(c) != t.Dim:
		return fmt.Errorf("set head of leaf %d: centroid of %d floats, want %d: %w", p, len(c), t.Dim, ErrDimensionMismatch)
	}
	copy(t.Head(int(p)), c)
	return nil
}

// Compact returns an equivalent tree without dead slots: the same leaf ids
// (holes included), the same children in the same order, so the same
// Search result for every query. Nodes are renumbered breadth-first, as
// Build numbers them; Compact of a tree fresh from Build is identical to
// it. t is not modified.
func (t *Tree) Compact() *Tree {
	n := t.NumNodes() - t.dead
	c := &Tree{
		Dim:        t.Dim,
		Metric:     t.Metric,
		Centroids:  make([]float32, 0, n*t.Dim),
		ChildStart: make([]int32, 0, n),
		ChildCount: make([]int32, 0, n),
		LeafID:     make([]int32, 0, n),
		Parent:     make([]int32, 0, n),
		LeafNode:   slices.Clone(t.LeafNode),
		LeafSize:   slices.Clone(t.LeafSize),
		live:       t.live,
	}
	queue := make([]int32, 1, n) // old indices, in new order
	c.Parent = append(c.Parent, -1)
	for q := 0; q < len(queue); q++ {
		i := queue[q]
		c.Centroids = append(c.Centroids, t.Centroid(int(i))...)
		c.ChildStart = append(c.ChildStart, int32(len(queue)))
		c.ChildCount = append(c.ChildCount, t.ChildCount[i])
		c.LeafID = append(c.LeafID, t.LeafID[i])
		if p := t.LeafID[i]; p >= 0 {
			c.LeafNode[p] = int32(q)
		}
		for ch := t.ChildStart[i]; ch < t.ChildStart[i]+t.ChildCount[i]; ch++ {
			queue = append(queue, ch)
			c.Parent = append(c.Parent, int32(q))
		}
	}
	if len(queue) != n {
		panic(fmt.Sprintf("cluster: %d nodes reachable, want %d live", len(queue), n))
	}
	return c
}
