package cluster

import (
	"fmt"
	"slices"

	"github.com/shoaldb/shoal/internal/topk"
)

// Batched routing. Search walks one query down the tree and scores the
// children blocks its beam meets; on a tree of ~100k heads that is ~8k
// centroids (4 MB at dim 128) per query, almost all from memory, so one
// query's routing is bound by memory bandwidth, not arithmetic. Queries
// routed together mostly meet the same blocks: the top levels are shared
// by all of them, and queries near each other share the lower ones too.
// SearchBatch therefore walks a tile of queries down level by level and,
// at each level, scores every expanded block against all the queries that
// expanded it back to back, while the block (32 rows, 16 KB at dim 128) is
// in L1: each block is read from memory once per tile and level instead
// of once per query.
//
// The result is exactly Search's for every query. Each query scores the
// same blocks with the same kernel (scoreRange), so its distances are the
// same bits; each query has its own heaps, and topk.Heap keeps the k
// smallest items under its (distance, id) total order whatever the push
// order, so grouping the expansions by node changes no set kept and no
// tie.

// BatchWorkspace holds SearchBatch's scratch memory so that routing batch
// after batch does not allocate: heaps for one tile of queries (about
// batchTile × (2·beam + n) entries), an int32 pair per tree node, and the
// results (nq × n candidates). A BatchWorkspace is not safe for concurrent
// use; keep one per goroutine. It may be used with different trees in
// turn.
type BatchWorkspace struct {
	// frontier, next and leaves are the per-query heaps of Search's
	// Workspace: inner nodes by node index, leaves by leaf id.
	frontier, next, leaves []topk.Heap[float32, uint32]

	// The expansions of one level: expansion e is query[e] scoring the
	// children of a node. early holds each query's earlyNodes nearest
	// frontier nodes, late the rest, both grouped by node.
	early, late byNode
	link, query []int32
	level       uint32

	dists []float32
	cands []Candidate
	out   [][]Candidate
}

// SearchBatch routes the queries stored one after another in qs (len(qs)
// must be a multiple of t.Dim) and returns, for query i, out[i]: exactly
// what t.Search(query i, n, beam, ·) returns — the same leaves, in the
// same order, at the same distances bit for bit. It goes faster than a
// Search per query from a few dozen queries on, because each level's
// children blocks are read once for all the queries that expand them;
// queries are routed in tiles of batchTile, so any nq is fine and larger
// ones gain nothing more.
//
// The result aliases ws and is valid until the next call with ws. Like
// Search, SearchBatch only reads the tree and may run concurrently with
// other readers, each goroutine with its own BatchWorkspace.
func (t *Tree) SearchBatch(qs []float32, n, beam int, ws *BatchWorkspace) [][]Candidate {
	dim := t.Dim
	if dim <= 0 || len(qs)%dim != 0 {
		panic(fmt.Sprintf("cluster: SearchBatch: %d query values are not a whole number of %d-dimensional queries", len(qs), dim))
	}
	nq := len(qs) / dim
	ws.out = slices.Grow(ws.out[:0], nq)[:nq]
	if n <= 0 || t.NumNodes() == 0 {
		for i := range ws.out {
			ws.out[i] = ws.cands[:0:0]
		}
		return ws.out
	}
	beam = max(beam, n)
	ws.cands = slices.Grow(ws.cands[:0], nq*n)
	for lo := 0; lo < nq; lo += batchTile {
		hi := min(lo+batchTile, nq)
		t.searchTile(qs[lo*dim:hi*dim], hi-lo, n, beam, ws)
		for i := range hi - lo {
			first := len(ws.cands)
			for _, c := range ws.leaves[i].Drain() {
				ws.cands = append(ws.cands, Candidate{Leaf: c.ID, Dist: c.Dist})
			}
			ws.out[lo+i] = ws.cands[first:len(ws.cands):len(ws.cands)]
		}
	}
	return ws.out
}

// batchTile is the most queries SearchBatch routes together. The blocks
// of a level are shared by all the queries of a tile, but each query's
// heaps and vector (about 2 KB at beam 128, dim 128) are touched once per
// block it expands; past a few hundred queries they no longer fit in L2
// beside the block and cost more than sharing blocks among more queries
// saves. On BenchmarkRoute100kx128SearchBatch's tree, routing a whole
// batch as one tile took the least CPU time per query from about 125 to
// 500 queries, 1.3× that at 1000 and 2× at 4000.
const batchTile = 256

// searchTile routes the nq queries of qs, leaving query i's leaves in
// ws.leaves[i].
func (t *Tree) searchTile(qs []float32, nq, n, beam int, ws *BatchWorkspace) {
	ws.reset(nq, t.NumNodes())
	for i := range nq {
		ws.frontier[i].Reset(beam)
		ws.leaves[i].Reset(n)
		if t.ChildCount[0] == 0 {
			ws.leaves[i].Push(0, uint32(t.LeafID[0]))
		} else {
			ws.frontier[i].Push(0, 0)
		}
	}
	for ws.group(nq, beam) {
		t.expand(qs, &ws.early, ws)
		t.expand(qs, &ws.late, ws)
		ws.frontier, ws.next = ws.next, ws.frontier
	}
}

// expand scores the children of the nodes in g for the queries that
// expand them, one node at a time, and offers them to those queries'
// heaps.
func (t *Tree) expand(qs []float32, g *byNode, ws *BatchWorkspace) {
	dim := t.Dim
	for _, node := range g.nodes {
		start, cnt := int(t.ChildStart[node]), int(t.ChildCount[node])
		if cap(ws.dists) < cnt {
			ws.dists = make([]float32, cnt)
		}
		d := ws.dists[:cnt]
		for e := g.first[node]; e >= 0; e = ws.link[e] {
			qi := int(ws.query[e])
			t.scoreRange(qs[qi*dim:(qi+1)*dim], start, cnt, d)
			leaves, next := &ws.leaves[qi], &ws.next[qi]
			for j, dist := range d {
				child := start + j
				if leaf := t.LeafID[child]; leaf >= 0 {
					if leaves.Admits(dist) {
						leaves.Push(dist, uint32(leaf))
					}
				} else if next.Admits(dist) {
					next.Push(dist, uint32(child))
				}
			}
		}
	}
}

// reset sizes ws for nq queries on a tree of nodes node slots.
func (ws *BatchWorkspace) reset(nq, nodes int) {
	if len(ws.frontier) < nq {
		ws.frontier = slices.Grow(ws.frontier, nq-len(ws.frontier))[:nq]
		ws.next = slices.Grow(ws.next, nq-len(ws.next))[:nq]
		ws.leaves = slices.Grow(ws.leaves, nq-len(ws.leaves))[:nq]
	}
	ws.early.grow(nodes)
	ws.late.grow(nodes)
}

// earlyNodes is how many of its nearest frontier nodes each query expands
// in a first sweep over the level's blocks, before the rest. A heap push
// costs a sift; a candidate that misses costs one comparison. Children of
// near nodes tend to be near, so a heap filled from them first turns most
// of the level's later candidates away: on BenchmarkRoute100kx128's tree
// 8 early nodes cut the heap pushes per query from 1408 to 830 (4: 901;
// expanding all nodes nearest first: 667). A block expanded early by some
// queries and late by others is read twice, which takes back much of the
// gain: routing took about 3% less CPU time than in one sweep.
const earlyNodes = 8

// group lists the expansions of the level about to be scored, those of
// the frontier heaps of the tile's nq queries, grouped by node, and
// empties the next heaps to receive the level's inner nodes. It reports
// whether there is anything to expand.
func (ws *BatchWorkspace) group(nq, beam int) bool {
	ws.level++
	if ws.level == 0 {
		// The stamps wrapped: clear them so no old stamp looks current.
		clear(ws.early.stamp)
		clear(ws.late.stamp)
		ws.level = 1
	}
	ws.early.nodes, ws.late.nodes = ws.early.nodes[:0], ws.late.nodes[:0]
	ws.link, ws.query = ws.link[:0], ws.query[:0]
	// Queries go in from the last, so each node's list, which comes out
	// newest first, runs in query order.
	for qi := nq - 1; qi >= 0; qi-- {
		ws.next[qi].Reset(beam)
		items := ws.frontier[qi].Items()
		if len(items) == 0 {
			continue
		}
		cut := kthNearest(items, earlyNodes)
		for _, f := range items {
			g := &ws.late
			if !cut.Less(f) {
				g = &ws.early
			}
			g.add(f.ID, int32(len(ws.link)), ws.level, &ws.link)
			ws.query = append(ws.query, int32(qi))
		}
	}
	slices.Sort(ws.early.nodes)
	slices.Sort(ws.late.nodes)
	return len(ws.early.nodes) > 0
}

// kthNearest returns the k-th item of items in Item.Less order, or the
// last if there are fewer than k; items must not be empty.
func kthNearest(items []topk.Item[float32, uint32], k int) topk.Item[float32, uint32] {
	var best [earlyNodes]topk.Item[float32, uint32] // sorted, best[:m]
	k = min(k, len(items), earlyNodes)
	m := 0
	for _, it := range items {
		if m == k && !it.Less(best[m-1]) {
			continue
		}
		i := min(m, k-1) // insert it, dropping best[k-1] if full
		for ; i > 0 && it.Less(best[i-1]); i-- {
			best[i] = best[i-1]
		}
		best[i] = it
		m = min(m+1, k)
	}
	return best[k-1]
}

// byNode groups expansions by the node they expand: node i's are first[i],
// link[first[i]], ... (-1 ends the list), valid while stamp[i] is the
// workspace's level. The stamps spare clearing the per-node arrays between
// levels and calls.
type byNode struct {
	stamp []uint32
	first []int32
	// nodes lists the nodes with expansions, sorted before the sweep so
	// that nearby blocks are scored one after another.
	nodes []int32
}

// grow sizes g for a tree of n node slots.
func (g *byNode) grow(n int) {
	if len(g.stamp) < n {
		// New slots get stamp 0, which no level uses.
		g.stamp = append(g.stamp, make([]uint32, n-len(g.stamp))...)
		g.first = append(g.first, make([]int32, n-len(g.first))...)
	}
}

// add puts expansion e (the next index of *link) on node's list.
func (g *byNode) add(node uint32, e int32, level uint32, link *[]int32) {
	head := int32(-1)
	if g.stamp[node] == level {
		head = g.first[node]
	} else {
		g.stamp[node] = level
		g.nodes = append(g.nodes, int32(node))
	}
	g.first[node] = e
	*link = append(*link, head)
}
