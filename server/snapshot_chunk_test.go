package server

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
)

// TestChunkVersions: a version 2 chunk round-trips with its labels, and
// a version 1 chunk (no labels) still decodes, each vector unlabelled.
func TestChunkVersions(t *testing.T) {
	var c chunk
	c.reset(2)
	c.add(5, 1, []uint32{2}, []uint32{3, 9}, []float32{1, 2})
	c.add(7, 0, nil, nil, []float32{3, 4})
	var d chunk
	if err := d.decode(c.encode(), 2); err != nil {
		t.Fatalf("decode of a version 2 chunk: %v", err)
	}
	if !slices.Equal(d.ids, []uint64{5, 7}) || !slices.Equal(d.lcounts, []uint32{2, 0}) || !slices.Equal(d.labels, []uint32{3, 9}) ||
		!slices.Equal(d.granted, []uint32{2}) || !slices.Equal(d.values, []float32{1, 2, 3, 4}) {
		t.Fatalf("version 2 round trip: got %+v, want %+v", d, c)
	}

	// Version 1, by hand: magic, n, dim, ids, owners, grant counts,
	// grants, value planes.
	b := []byte(chunkMagicV1)
	for _, x := range []uint32{1, 2} {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	b = binary.LittleEndian.AppendUint64(b, 5)
	b = binary.LittleEndian.AppendUint32(b, 1) // owner
	b = binary.LittleEndian.AppendUint32(b, 1) // one grant
	b = binary.LittleEndian.AppendUint32(b, 2) // to tenant 2
	vals := []float32{1, 2}
	for p := range 4 {
		for _, v := range vals {
			b = append(b, byte(math.Float32bits(v)>>(8*p)))
		}
	}
	if err := d.decode(b, 2); err != nil {
		t.Fatalf("decode of a version 1 chunk: %v", err)
	}
	if !slices.Equal(d.ids, []uint64{5}) || !slices.Equal(d.lcounts, []uint32{0}) || len(d.labels) != 0 ||
		!slices.Equal(d.granted, []uint32{2}) || !slices.Equal(d.values, vals) {
		t.Fatalf("version 1 chunk decoded as %+v", d)
	}
	if err := d.decode(b[:len(b)-1], 2); err == nil {
		t.Fatal("a truncated version 1 chunk decoded")
	}
}

// FuzzChunkDecode: decode never panics on bad bytes, and what it
// accepts encodes back to a chunk that decodes the same.
func FuzzChunkDecode(f *testing.F) {
	var c chunk
	c.reset(2)
	c.add(5, 1, []uint32{2}, []uint32{3, 9}, []float32{1, 2})
	f.Add(c.encode())
	f.Add(append([]byte(chunkMagicV1), 0, 0, 0, 0, 2, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d, e chunk
		if d.decode(b, 2) != nil {
			return
		}
		if err := e.decode(d.encode(), 2); err != nil || !slices.Equal(d.ids, e.ids) || !slices.Equal(d.labels, e.labels) || !slices.Equal(d.lcounts, e.lcounts) {
			t.Fatalf("re-encoded chunk: %v, %+v vs %+v", err, e, d)
		}
	})
}
