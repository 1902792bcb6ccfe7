package index

import "encoding/binary"

// delta is the tail of one posting: the copies appended by upserts since
// the posting was last rewritten. The tails are the in-memory face of the
// update log; each copy is also a Pebble record ('a' keys, see update.go),
// so they survive a crash and are rebuilt at Open.
//
// A *delta is immutable once published. The writer appends by building a
// new header over the same backing arrays (appending past the old length,
// which readers of the old header never look at) and publishing it under
// the index's route lock.
type delta struct {
	ids  []uint64
	vers []uint8
	seqs []uint64 // update-log sequence of each copy, increasing
	vecs []byte   // rows in the index's element type
}

// idsOrNil returns d's ids, nil for a nil d.
func (d *delta) idsOrNil() []uint64 {
	if d == nil {
		return nil
	}
	return d.ids
}

func (d *delta) len() int {
	if d == nil {
		return 0
	}
	return len(d.ids)
}

// bytes returns the memory the tail's rows hold.
func (d *delta) bytes() int {
	if d == nil {
		return 0
	}
	return len(d.vecs) + 17*len(d.ids)
}

// with returns d plus one copy. d may be nil.
func (d *delta) with(id uint64, ver uint8, seq uint64, row []byte) *delta {
	var n delta
	if d != nil {
		n = *d
	}
	n.ids = append(n.ids, id)
	n.vers = append(n.vers, ver)
	n.seqs = append(n.seqs, seq)
	n.vecs = append(n.vecs, row...)
	return &n
}

// after returns the copies of d with sequence above seq, in fresh arrays
// (nil if none): what remains of a tail once a rewrite folded the rest.
func (d *delta) after(seq uint64, rowBytes int) *delta {
	if d == nil {
		return nil
	}
	var n *delta
	for i, s := range d.seqs {
		if s > seq {
			n = n.with(d.ids[i], d.vers[i], s, d.vecs[i*rowBytes:(i+1)*rowBytes])
		}
	}
	return n
}

// Update-log records (kinds in package internal/keys, layouts in
// docs/format.md): 'a' posting, seq → a copy in a posting's tail; 'r' id
// → an id's state, once it was updated; 'v' id → an upserted vector.
// Big-endian numbers keep a posting's tail contiguous and in sequence
// order.

func appendValue(id uint64, ver uint8, row []byte) []byte {
	v := make([]byte, 9+len(row))
	binary.LittleEndian.PutUint64(v, id)
	v[8] = ver
	copy(v[9:], row)
	return v
}
