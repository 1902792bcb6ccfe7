package cluster

import (
	"github.com/shoaldb/shoal/internal/vec"
)

// Candidate is a leaf (head) found by Search, with its routing distance.
type Candidate struct {
	Leaf uint32
	Dist float32
}

// Workspace holds Search's scratch memory so the hot path does not
// allocate. A Workspace is not safe for concurrent use; keep one per
// goroutine (e.g. in a sync.Pool).
type Workspace struct {
	frontier, next candHeap
	leaves         candHeap
	dists          []float32
	out            []Candidate
}

// Search returns the n leaves nearest to q, nearest first, by beam search
// down the tree: at every level the children of the beam nodes are scored
// (one batch kernel per node, children are contiguous) and the best beam
// inner nodes go on; leaves met at any level compete for the result.
// beam < n is raised to n. Only nodes reachable from the root are visited,
// so dead slots and removed leaves never come back. The result aliases ws
// and is valid until the next call with ws.
func (t *Tree) Search(q []float32, n, beam int, ws *Workspace) []Candidate {
	if n <= 0 || t.NumNodes() == 0 {
		return ws.out[:0]
	}
	beam = max(beam, n)
	ws.frontier.reset(beam)
	ws.leaves.reset(n)
	if t.ChildCount[0] == 0 {
		ws.leaves.push(Candidate{Leaf: uint32(t.LeafID[0])}, 0)
	} else {
		ws.frontier.push(Candidate{Leaf: 0}, 0) // Leaf holds a node index in frontier heaps
	}
	for ws.frontier.len() > 0 {
		ws.next.reset(beam)
		for _, c := range ws.frontier.items {
			nd := c.Leaf
			start, cnt := int(t.ChildStart[nd]), int(t.ChildCount[nd])
			if cap(ws.dists) < cnt {
				ws.dists = make([]float32, cnt)
			}
			d := ws.dists[:cnt]
			t.scoreRange(q, start, cnt, d)
			for j, dist := range d {
				child := start + j
				if leaf := t.LeafID[child]; leaf >= 0 {
					ws.leaves.push(Candidate{Leaf: uint32(leaf)}, dist)
				} else {
					ws.next.push(Candidate{Leaf: uint32(child)}, dist)
				}
			}
		}
		ws.frontier, ws.next = ws.next, ws.frontier
	}
	ws.out = ws.leaves.sorted(ws.out[:0])
	return ws.out
}

// scoreRange writes the routing distances from q to nodes [start, start+cnt).
func (t *Tree) scoreRange(q []float32, start, cnt int, out []float32) {
	rows := t.Centroids[start*t.Dim : (start+cnt)*t.Dim]
	if t.Metric == vec.InnerProduct {
		vec.DotF32Batch(q, rows, out)
		for i := range out {
			out[i] = -out[i]
		}
		return
	}
	vec.L2SquaredF32Batch(q, rows, out)
}

// Distance returns the routing distance from q to live leaf p's head.
func (t *Tree) Distance(q []float32, p int) float32 {
	h := t.Head(p)
	if t.Metric == vec.InnerProduct {
		return -vec.DotF32(q, h)
	}
	return vec.L2SquaredF32(q, h)
}

// candHeap is a bounded max-heap on Dist keeping the limit smallest
// candidates pushed.
type candHeap struct {
	items []Candidate
	limit int
}

func (h *candHeap) reset(limit int) {
	h.items = h.items[:0]
	h.limit = limit
}

func (h *candHeap) len() int { return len(h.items) }

func (h *candHeap) push(c Candidate, dist float32) {
	c.Dist = dist
	if len(h.items) < h.limit {
		h.items = append(h.items, c)
		h.up(len(h.items) - 1)
		return
	}
	if dist >= h.items[0].Dist {
		return
	}
	h.items[0] = c
	h.down(0)
}

func (h *candHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h.items[p].Dist >= h.items[i].Dist {
			return
		}
		h.items[p], h.items[i] = h.items[i], h.items[p]
		i = p
	}
}

func (h *candHeap) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		big := l
		if r := l + 1; r < n && h.items[r].Dist > h.items[l].Dist {
			big = r
		}
		if h.items[i].Dist >= h.items[big].Dist {
			return
		}
		h.items[i], h.items[big] = h.items[big], h.items[i]
		i = big
	}
}

// sorted empties the heap into dst in increasing distance (ties by leaf).
func (h *candHeap) sorted(dst []Candidate) []Candidate {
	n := len(h.items)
	start := len(dst)
	dst = append(dst, make([]Candidate, n)...)
	for i := n - 1; i >= 0; i-- {
		dst[start+i] = h.items[0]
		last := len(h.items) - 1
		h.items[0] = h.items[last]
		h.items = h.items[:last]
		h.down(0)
	}
	return dst
}
