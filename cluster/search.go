package cluster

import (
	"github.com/shoaldb/shoal/internal/topk"
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
	// frontier and next hold inner nodes by node index, leaves by leaf id.
	frontier, next, leaves topk.Heap[float32, uint32]
	dists                  []float32
	out                    []Candidate
}

// Search returns the n leaves nearest to q, nearest first, by beam search
// down the tree: at every level the children of the beam nodes are scored
// (one batch kernel per node, children are contiguous) and the best beam
// inner nodes go on; leaves met at any level compete for the result.
// Equal distances rank by the smaller leaf id (node index for inner
// nodes), as gpu's tree search does. beam < n is raised to n. Only nodes
// reachable from the root are visited, so dead slots and removed leaves
// never come back. The result aliases ws and is valid until the next call
// with ws.
func (t *Tree) Search(q []float32, n, beam int, ws *Workspace) []Candidate {
	if n <= 0 || t.NumNodes() == 0 {
		return ws.out[:0]
	}
	beam = max(beam, n)
	ws.frontier.Reset(beam)
	ws.leaves.Reset(n)
	if t.ChildCount[0] == 0 {
		ws.leaves.Push(0, uint32(t.LeafID[0]))
	} else {
		ws.frontier.Push(0, 0)
	}
	for ws.frontier.Len() > 0 {
		ws.next.Reset(beam)
		for _, f := range ws.frontier.Items() {
			start, cnt := int(t.ChildStart[f.ID]), int(t.ChildCount[f.ID])
			if cap(ws.dists) < cnt {
				ws.dists = make([]float32, cnt)
			}
			d := ws.dists[:cnt]
			t.scoreRange(q, start, cnt, d)
			for j, dist := range d {
				child := start + j
				if leaf := t.LeafID[child]; leaf >= 0 {
					if ws.leaves.Admits(dist) {
						ws.leaves.Push(dist, uint32(leaf))
					}
				} else if ws.next.Admits(dist) {
					ws.next.Push(dist, uint32(child))
				}
			}
		}
		ws.frontier, ws.next = ws.next, ws.frontier
	}
	ws.out = ws.out[:0]
	for _, c := range ws.leaves.Drain() {
		ws.out = append(ws.out, Candidate{Leaf: c.ID, Dist: c.Dist})
	}
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
