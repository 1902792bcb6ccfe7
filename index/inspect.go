package index

import (
	"fmt"

	"github.com/shoaldb/shoal/posting"
)

// Inspection of an open index, for tools (shoal inspect, benchmarks). The
// types are index's own: the tree and the posting encoding below it stay
// implementation details.

// TreeStats describe the routing tree as it is now. Splits and merges
// leave dead node slots and leaf ids behind; the counts are of live ones.
type TreeStats struct {
	Depth   int
	Nodes   int // live nodes
	Heads   int // live leaves: the postings searches route to
	LeafIDs int // leaf ids ever used: posting ids of heads are below it
	// Fanout holds the child count of every live inner node; LeafSizes
	// the number of clustered points that fell in each live leaf at build
	// (0 for heads made by splits).
	Fanout    []int
	LeafSizes []int
	// Bytes is the memory the routing structure holds (centroids and
	// node tables).
	Bytes int64
}

// TreeStats returns the tree's counts and memory.
func (ix *Index) TreeStats() TreeStats {
	ix.rmu.RLock()
	defer ix.rmu.RUnlock()
	t := ix.tree
	st := TreeStats{
		Depth: t.Depth(), Nodes: t.NumNodes() - t.DeadNodes(), Heads: t.LiveLeaves(), LeafIDs: t.NumLeaves(),
		Bytes: int64(len(t.Centroids))*4 + int64(t.NumNodes())*12 + int64(t.NumLeaves())*8,
	}
	for i, c := range t.ChildCount {
		if c > 0 && t.LeafID[i] < 0 {
			st.Fanout = append(st.Fanout, int(c))
		}
	}
	for p, n := range t.LeafSize {
		if t.IsLeaf(uint32(p)) {
			st.LeafSizes = append(st.LeafSizes, int(n))
		}
	}
	return st
}

// IsHead reports whether posting id p is a live head of the tree (a
// stored posting that is none is a tenant's shortlist or garbage).
func (ix *Index) IsHead(p uint32) bool {
	ix.rmu.RLock()
	defer ix.rmu.RUnlock()
	return ix.tree.IsLeaf(p)
}

// PostingInfo is one stored posting, as ScanPostings reports it.
type PostingInfo struct {
	ID uint32
	// IDs and Versions are the copies it holds and the version each was
	// written at (IsCurrent tells a current copy from a stale one).
	IDs      []uint64
	Versions []uint8
	// VectorBytes is the size of its vectors, in the element type.
	VectorBytes int
}

// ScanPostings calls fn with every stored posting in id order; p and its
// slices are valid only during fn.
func (ix *Index) ScanPostings(fn func(p *PostingInfo) error) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	var dec posting.Posting
	var info PostingInfo
	return ix.store.Scan(func(id uint32, b []byte) error {
		if err := posting.Decode(b, &dec); err != nil {
			return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, id, err)
		}
		info = PostingInfo{ID: id, IDs: dec.IDs, Versions: dec.Versions, VectorBytes: len(dec.Vectors) + len(dec.Codes)}
		return fn(&info)
	})
}

// liveLeaves returns the number of live heads, read under the route
// lock: maintenance edits the tree in place under its write side.
func (ix *Index) liveLeaves() int {
	ix.rmu.RLock()
	defer ix.rmu.RUnlock()
	return ix.tree.LiveLeaves()
}

// numLeaves returns the number of leaf id slots (live or dead), read
// under the route lock.
func (ix *Index) numLeaves() int {
	ix.rmu.RLock()
	defer ix.rmu.RUnlock()
	return ix.tree.NumLeaves()
}
