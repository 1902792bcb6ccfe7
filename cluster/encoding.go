package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/shoaldb/shoal/internal/vec"
)

// Tree encoding, version 1 (little-endian):
//
//	0   4          magic "SHCT"
//	4   4          version (1)
//	8   4          dim
//	12  4          metric (vec.Metric)
//	16  4          nodes N
//	20  4          leaves L
//	24  4·N·dim    centroids (float32)
//	…   4·N        ChildStart (int32)
//	…   4·N        ChildCount (int32)
//	…   4·L        LeafNode (int32)
//	…   4·L        LeafSize (int32)
//	end 4          CRC-32C of every byte before it
//
// LeafID is derived from LeafNode. Unmarshal checks every index, so a
// corrupt tree is an error, never a panic or an out-of-range read later.

const treeVersion = 1

var treeMagic = [4]byte{'S', 'H', 'C', 'T'}

// ErrCorrupt reports an encoded tree that does not decode.
var ErrCorrupt = errors.New("cluster: corrupt tree")

// Marshal encodes t.
func (t *Tree) Marshal() []byte {
	n, l := t.NumNodes(), t.NumLeaves()
	size := 24 + 4*n*t.Dim + 8*n + 8*l + 4
	b := make([]byte, 0, size)
	b = append(b, treeMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, treeVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(t.Dim))
	b = binary.LittleEndian.AppendUint32(b, uint32(t.Metric))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, uint32(l))
	for _, v := range t.Centroids {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	for _, s := range [][]int32{t.ChildStart, t.ChildCount, t.LeafNode, t.LeafSize} {
		for _, v := range s {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Unmarshal decodes a tree encoded by Marshal.
func Unmarshal(b []byte) (*Tree, error) {
	if len(b) < 28 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	body := len(b) - 4
	if got, want := crc32.Checksum(b[:body], castagnoli), binary.LittleEndian.Uint32(b[body:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	if [4]byte(b[:4]) != treeMagic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, b[:4])
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != treeVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, v)
	}
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
	dim, metric, n, l := int(u32(8)), vec.Metric(u32(12)), int(u32(16)), int(u32(20))
	if dim <= 0 || n <= 0 || l <= 0 || l > n || !metric.Valid() || dim > 1<<20 {
		return nil, fmt.Errorf("%w: dim %d metric %d nodes %d leaves %d", ErrCorrupt, dim, metric, n, l)
	}
	if want := 24 + 4*(n*dim+2*n+2*l) + 4; uint64(len(b)) != uint64(want) || n > len(b) {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, len(b), want)
	}
	t := &Tree{Dim: dim, Metric: metric}
	off := 24
	t.Centroids = make([]float32, n*dim)
	for i := range t.Centroids {
		t.Centroids[i] = math.Float32frombits(u32(off))
		off += 4
	}
	ints := func(k int) []int32 {
		s := make([]int32, k)
		for i := range s {
			s[i] = int32(u32(off))
			off += 4
		}
		return s
	}
	t.ChildStart, t.ChildCount, t.LeafNode, t.LeafSize = ints(n), ints(n), ints(l), ints(l)
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

// check verifies the structure: children in range and after their parent
// (so there are no cycles), every node but the root has one parent, leaves
// and leaf ids agree.
func (t *Tree) check() error {
	n := t.NumNodes()
	parents := make([]int, n)
	for i := 0; i < n; i++ {
		s, c := int(t.ChildStart[i]), int(t.ChildCount[i])
		if c < 0 || (c > 0 && (s <= i || s+c > n)) {
			return fmt.Errorf("%w: node %d has children [%d,%d) of %d nodes", ErrCorrupt, i, s, s+c, n)
		}
		for j := s; j < s+c; j++ {
			parents[j]++
		}
	}
	for i := 1; i < n; i++ {
		if parents[i] != 1 {
			return fmt.Errorf("%w: node %d has %d parents", ErrCorrupt, i, parents[i])
		}
	}
	t.LeafID = make([]int32, n)
	for i := range t.LeafID {
		t.LeafID[i] = -1
	}
	for p, nd := range t.LeafNode {
		if nd < 0 || int(nd) >= n || t.ChildCount[nd] != 0 || t.LeafID[nd] != -1 {
			return fmt.Errorf("%w: leaf %d at node %d", ErrCorrupt, p, nd)
		}
		t.LeafID[nd] = int32(p)
	}
	for i := 0; i < n; i++ {
		if t.ChildCount[i] == 0 && t.LeafID[i] < 0 {
			return fmt.Errorf("%w: node %d has no children and is no leaf", ErrCorrupt, i)
		}
	}
	return nil
}
