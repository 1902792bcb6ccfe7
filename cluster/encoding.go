package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"

	"github.com/shoaldb/shoal/internal/vec"
)

// Tree encoding, versions 1 and 2 (little-endian):
//
//	0   4          magic "SHCT"
//	4   4          version (1 or 2)
//	8   4          dim
//	12  4          metric (vec.Metric)
//	16  4          nodes N (slots, dead ones included)
//	20  4          leaves L (NumLeaves: free ids included)
//	24  4·N·dim    centroids (float32)
//	…   4·N        ChildStart (int32)
//	…   4·N        ChildCount (int32)
//	…   4·L        LeafNode (int32, -1 for a free id)
//	…   4·L        LeafSize (int32, 0 for a free id)
//	end 4          CRC-32C of every byte before it
//
// Version 1 is a dense tree, as Build makes it: every node reachable from
// the root and every leaf id live. Version 2 is a tree as edits leave it,
// written as it is: it may hold dead slots (unreachable, no children, no
// leaf id, ChildStart 0, zero centroid; never the last slot) and free leaf ids. WriteTo
// writes version 1 whenever the tree is dense, so readers that predate
// edits still read unedited trees, and refuse edited ones by version.
//
// LeafID and Parent are derived. ReadTree checks every index and that
// every node is reached from the root at most once (no cycles, no shared
// children), so a corrupt tree is an error, never a panic or an
// out-of-range read later.

const (
	treeVersionDense  = 1
	treeVersionEdited = 2
)

var treeMagic = [4]byte{'S', 'H', 'C', 'T'}

// ErrCorrupt reports an encoded tree that does not decode.
var ErrCorrupt = errors.New("cluster: corrupt tree")

// Marshal encodes t.
func (t *Tree) Marshal() []byte {
	var b bytes.Buffer
	if _, err := t.WriteTo(&b); err != nil {
		panic(fmt.Sprintf("cluster: Marshal: %v", err))
	}
	return b.Bytes()
}

// WriteTo writes the encoding of t to w, streaming.
func (t *Tree) WriteTo(w io.Writer) (int64, error) {
	cw := &crcWriter{w: bufio.NewWriterSize(w, 64<<10)}
	n, l := t.NumNodes(), t.NumLeaves()
	var hdr [24]byte
	copy(hdr[:], treeMagic[:])
	version := uint32(treeVersionDense)
	if t.dead > 0 || t.live != l {
		version = treeVersionEdited
	}
	binary.LittleEndian.PutUint32(hdr[4:], version)
	binary.LittleEndian.PutUint32(hdr[8:], uint32(t.Dim))
	binary.LittleEndian.PutUint32(hdr[12:], uint32(t.Metric))
	binary.LittleEndian.PutUint32(hdr[16:], uint32(n))
	binary.LittleEndian.PutUint32(hdr[20:], uint32(l))
	cw.write(hdr[:])
	var buf [4]byte
	for _, v := range t.Centroids {
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
		cw.write(buf[:])
	}
	for _, s := range [][]int32{t.ChildStart, t.ChildCount, t.LeafNode, t.LeafSize} {
		for _, v := range s {
			binary.LittleEndian.PutUint32(buf[:], uint32(v))
			cw.write(buf[:])
		}
	}
	binary.LittleEndian.PutUint32(buf[:], cw.crc)
	cw.write(buf[:])
	if cw.err == nil {
		cw.err = cw.w.(*bufio.Writer).Flush()
	}
	return cw.n, cw.err
}

type crcWriter struct {
	w   io.Writer
	crc uint32
	n   int64
	err error
}

func (c *crcWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	c.crc = crc32.Update(c.crc, castagnoli, p)
	var n int
	n, c.err = c.w.Write(p)
	c.n += int64(n)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Unmarshal decodes a tree encoded by Marshal.
func Unmarshal(b []byte) (*Tree, error) {
	t, err := ReadTree(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ReadTree decodes a tree of size bytes from r, streaming: it holds the
// decoded tree and a small buffer, never the encoding.
func ReadTree(r io.Reader, size int64) (*Tree, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var crc uint32
	read := func(p []byte) error {
		if _, err := io.ReadFull(br, p); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: truncated", ErrCorrupt)
			}
			return err
		}
		crc = crc32.Update(crc, castagnoli, p)
		return nil
	}
	var hdr [24]byte
	if size < 28 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, size)
	}
	if err := read(hdr[:]); err != nil {
		return nil, err
	}
	if [4]byte(hdr[:4]) != treeMagic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, hdr[:4])
	}
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(hdr[off:]) }
	version := u32(4)
	if version != treeVersionDense && version != treeVersionEdited {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, version)
	}
	dim, metric, n, l := int(u32(8)), vec.Metric(u32(12)), int(u32(16)), int(u32(20))
	if dim <= 0 || n <= 0 || l <= 0 || (version == treeVersionDense && l > n) || !metric.Valid() || dim > 1<<20 {
		return nil, fmt.Errorf("%w: dim %d metric %d nodes %d leaves %d", ErrCorrupt, dim, metric, n, l)
	}
	if want := 24 + 4*(int64(n)*int64(dim)+2*int64(n)+2*int64(l)) + 4; size != want {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, size, want)
	}
	t := &Tree{Dim: dim, Metric: metric, Centroids: make([]float32, n*dim)}
	var chunk [4096]byte
	for i := 0; i < len(t.Centroids); {
		k := min(len(chunk)/4, len(t.Centroids)-i)
		if err := read(chunk[:4*k]); err != nil {
			return nil, err
		}
		for j := 0; j < k; j++ {
			t.Centroids[i+j] = math.Float32frombits(binary.LittleEndian.Uint32(chunk[4*j:]))
		}
		i += k
	}
	ints := func(k int) ([]int32, error) {
		s := make([]int32, k)
		for i := range s {
			if err := read(chunk[:4]); err != nil {
				return nil, err
			}
			s[i] = int32(binary.LittleEndian.Uint32(chunk[:4]))
		}
		return s, nil
	}
	var err error
	if t.ChildStart, err = ints(n); err != nil {
		return nil, err
	}
	if t.ChildCount, err = ints(n); err != nil {
		return nil, err
	}
	if t.LeafNode, err = ints(l); err != nil {
		return nil, err
	}
	if t.LeafSize, err = ints(l); err != nil {
		return nil, err
	}
	want := crc
	if _, err := io.ReadFull(br, chunk[:4]); err != nil {
		return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	if got := binary.LittleEndian.Uint32(chunk[:4]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	if err := t.check(version == treeVersionDense); err != nil {
		return nil, err
	}
	return t, nil
}

// check verifies the structure and derives LeafID, Parent, the live leaf
// count and the free runs: every node is reached from the root at most
// once, children are in range, live leaves sit at reachable childless
// nodes, every reachable node is a leaf or has children, and unreachable
// (dead) slots are clean and not last. A dense tree has neither dead slots
// nor free leaf ids.
func (t *Tree) check(dense bool) error {
	n := t.NumNodes()
	live := make([]bool, n)
	t.Parent = make([]int32, n)
	t.LeafID = make([]int32, n)
	for i := range t.Parent {
		t.Parent[i], t.LeafID[i] = -1, -1
	}
	live[0] = true
	queue := []int32{0}
	for q := 0; q < len(queue); q++ {
		i := queue[q]
		s, c := int64(t.ChildStart[i]), int64(t.ChildCount[i])
		if c < 0 || (c > 0 && (s < 0 || s+c > int64(n))) {
			return fmt.Errorf("%w: node %d has children [%d,%d) of %d nodes", ErrCorrupt, i, s, s+c, n)
		}
		for j := int32(s); j < int32(s+c); j++ {
			if live[j] {
				return fmt.Errorf("%w: node %d is reached twice", ErrCorrupt, j)
			}
			live[j] = true
			t.Parent[j] = i
			queue = append(queue, j)
		}
	}
	t.live = 0
	for p, nd := range t.LeafNode {
		if nd == -1 && !dense {
			if t.LeafSize[p] != 0 {
				return fmt.Errorf("%w: free leaf id %d has size %d", ErrCorrupt, p, t.LeafSize[p])
			}
			continue
		}
		if nd < 0 || int(nd) >= n || !live[nd] || t.ChildCount[nd] != 0 || t.LeafID[nd] != -1 {
			return fmt.Errorf("%w: leaf %d at node %d", ErrCorrupt, p, nd)
		}
		t.LeafID[nd] = int32(p)
		t.live++
	}
	for i := 0; i < n; i++ {
		switch {
		case live[i] && t.ChildCount[i] == 0 && t.LeafID[i] < 0:
			return fmt.Errorf("%w: node %d has no children and is no leaf", ErrCorrupt, i)
		case !live[i] && (dense || i == n-1 || t.ChildCount[i] != 0 || t.ChildStart[i] != 0 ||
			slices.ContainsFunc(t.Centroid(i), func(v float32) bool { return v != 0 })):
			return fmt.Errorf("%w: node %d is not reached from the root", ErrCorrupt, i)
		}
	}
	t.rebuildFree(live)
	return nil
}
