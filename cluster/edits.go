package cluster

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Edit records. Maintenance changes a tree by SplitLeaf and RemoveLeaf,
// which are deterministic, so a tree file plus the records of the edits
// made since it was written give the tree back (package index keeps them
// in its update log and replays them at Open).
const (
	editSplit  = 1
	editRemove = 2
	// maxLeafGap bounds how far past the tree's leaf ids a replayed split
	// may place its new leaf. Leaf arrays are dense up to the largest id,
	// and an index allocates posting ids densely (heads and tenants'
	// shortlists share one counter), so a record farther out is corrupt:
	// replaying it would allocate gigabytes.
	maxLeafGap = 1 << 24
)

// EncodeSplit records SplitLeaf(p, q, c1, c2): kind 1, p u32, q u32, c1
// and c2 as f32, little-endian.
func EncodeSplit(p, q uint32, c1, c2 []float32) []byte {
	b := make([]byte, 0, 9+8*len(c1))
	b = append(b, editSplit)
	b = binary.LittleEndian.AppendUint32(b, p)
	b = binary.LittleEndian.AppendUint32(b, q)
	for _, c := range [][]float32{c1, c2} {
		for _, f := range c {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	}
	return b
}

// EncodeRemove records RemoveLeaf(p): kind 2, p u32.
func EncodeRemove(p uint32) []byte {
	return binary.LittleEndian.AppendUint32([]byte{editRemove}, p)
}

// Apply replays one edit record (EncodeSplit, EncodeRemove) on t.
func (t *Tree) Apply(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("empty tree record")
	}
	dim := t.Dim
	switch {
	case len(b) == 9+8*dim && b[0] == editSplit:
		p := binary.LittleEndian.Uint32(b[1:])
		q := binary.LittleEndian.Uint32(b[5:])
		if uint64(q) >= uint64(len(t.LeafNode))+maxLeafGap {
			return fmt.Errorf("tree record splits leaf %d into %d, %d past the tree's %d leaf ids: %w", p, q, uint64(q)-uint64(len(t.LeafNode)), len(t.LeafNode), ErrLeafRange)
		}
		c := make([]float32, 2*dim)
		for i := range c {
			c[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[9+4*i:]))
		}
		return t.SplitLeaf(p, q, c[:dim], c[dim:])
	case len(b) == 5 && b[0] == editRemove:
		return t.RemoveLeaf(binary.LittleEndian.Uint32(b[1:]))
	}
	return fmt.Errorf("tree record of %d bytes, kind %d", len(b), b[0])
}
