package cluster

import (
	"fmt"
	"slices"
)

// Node slots. Edits free and claim node slots a few at a time; a freed slot
// is dead (no children, no leaf id, zero centroid, parent -1) and joins a
// run of dead slots that a later edit reuses, so dead slots do not pile up
// as the tree churns. Runs are kept maximal (adjacent runs are merged) and
// dead slots at the end of the arrays are cut off, so the runs are a
// function of the arrays alone: a tree read back from its encoding makes the
// same choices as the tree that wrote it.

// freeRuns indexes the maximal runs of dead slots.
type freeRuns struct {
	byStart map[int32]int32 // start → length
	byEnd   map[int32]int32 // end (exclusive) → start
	// bySize[min(length, MaxChildren+1)] lists the runs' starts, ascending.
	bySize [MaxChildren + 2][]int32
}

func sizeClass(n int32) int { return int(min(n, MaxChildren+1)) }

func (f *freeRuns) add(start, n int32) {
	if f.byStart == nil {
		f.byStart = map[int32]int32{}
		f.byEnd = map[int32]int32{}
	}
	f.byStart[start] = n
	f.byEnd[start+n] = start
	b := &f.bySize[sizeClass(n)]
	i, _ := slices.BinarySearch(*b, start)
	*b = slices.Insert(*b, i, start)
}

func (f *freeRuns) remove(start int32) (n int32) {
	n, ok := f.byStart[start]
	if !ok {
		panic(fmt.Sprintf("cluster: no free run at slot %d", start))
	}
	delete(f.byStart, start)
	delete(f.byEnd, start+n)
	b := &f.bySize[sizeClass(n)]
	i, _ := slices.BinarySearch(*b, start)
	*b = slices.Delete(*b, i, i+1)
	return n
}

// best returns the start of the smallest run of at least n slots (lowest
// start among equals; among runs longer than MaxChildren, the lowest
// start), or -1.
func (f *freeRuns) best(n int32) int32 {
	for c := sizeClass(n); c < len(f.bySize); c++ {
		for _, s := range f.bySize[c] {
			if f.byStart[s] >= n {
				return s
			}
		}
	}
	return -1
}

// allocNodes claims n consecutive dead slots, reusing the best-fitting free
// run or else growing the arrays, and returns the first. The slots are
// dead-clean until the caller fills them.
func (t *Tree) allocNodes(n int32) int32 {
	if s := t.free.best(n); s >= 0 {
		l := t.free.remove(s)
		if l > n {
			t.free.add(s+n, l-n)
		}
		t.dead -= int(n)
		return s
	}
	return t.appendNodes(n)
}

// appendNodes grows the arrays by n dead-clean slots and returns the first.
func (t *Tree) appendNodes(n int32) int32 {
	s := int32(t.NumNodes())
	t.Centroids = slices.Grow(t.Centroids, int(n)*t.Dim)
	t.Centroids = t.Centroids[:len(t.Centroids)+int(n)*t.Dim]
	clear(t.Centroids[int(s)*t.Dim:])
	for range n {
		t.ChildStart = append(t.ChildStart, 0)
		t.ChildCount = append(t.ChildCount, 0)
		t.LeafID = append(t.LeafID, -1)
		t.Parent = append(t.Parent, -1)
	}
	return s
}

// claimAfter claims the single slot i if it can be had without moving
// anything: i is the end of the arrays or the start of a free run.
func (t *Tree) claimAfter(i int32) bool {
	if int(i) == t.NumNodes() {
		t.appendNodes(1)
		return true
	}
	l, ok := t.free.byStart[i]
	if !ok {
		return false
	}
	t.free.remove(i)
	if l > 1 {
		t.free.add(i+1, l-1)
	}
	t.dead--
	return true
}

// freeNodes kills slots [s, s+n): clears them and merges them into the free
// runs, cutting dead slots off the end of the arrays.
func (t *Tree) freeNodes(s, n int32) {
	clear(t.Centroids[int(s)*t.Dim : int(s+n)*t.Dim])
	for i := s; i < s+n; i++ {
		t.ChildStart[i], t.ChildCount[i], t.LeafID[i], t.Parent[i] = 0, 0, -1, -1
	}
	t.dead += int(n)
	if ls, ok := t.free.byEnd[s]; ok {
		n += t.free.remove(ls)
		s = ls
	}
	if _, ok := t.free.byStart[s+n]; ok {
		n += t.free.remove(s + n)
	}
	if int(s+n) == t.NumNodes() {
		t.Centroids = t.Centroids[:int(s)*t.Dim]
		t.ChildStart = t.ChildStart[:s]
		t.ChildCount = t.ChildCount[:s]
		t.LeafID = t.LeafID[:s]
		t.Parent = t.Parent[:s]
		t.dead -= int(n)
		return
	}
	t.free.add(s, n)
}

// moveNode moves live node from to the claimed slot to, repointing the
// leaf id or children that refer to it. The parent's ChildStart is the
// caller's to fix; slot from is left as it was for the caller to free.
func (t *Tree) moveNode(from, to int32) {
	copy(t.Centroid(int(to)), t.Centroid(int(from)))
	t.ChildStart[to], t.ChildCount[to] = t.ChildStart[from], t.ChildCount[from]
	t.LeafID[to], t.Parent[to] = t.LeafID[from], t.Parent[from]
	if p := t.LeafID[to]; p >= 0 {
		t.LeafNode[p] = to
	}
	for c := t.ChildStart[to]; c < t.ChildStart[to]+t.ChildCount[to]; c++ {
		t.Parent[c] = to
	}
}

// rebuildFree lists the dead slots of a freshly decoded tree, whose live
// nodes are marked in live, as free runs.
func (t *Tree) rebuildFree(live []bool) {
	t.free = freeRuns{}
	t.dead = 0
	for i := 0; i < len(live); {
		if live[i] {
			i++
			continue
		}
		j := i
		for j < len(live) && !live[j] {
			j++
		}
		t.free.add(int32(i), int32(j-i))
		t.dead += j - i
		i = j
	}
}
