// Package tail keeps posting tails: the copies upserts (and maintenance's
// re-inserts) append to a posting after it was last rewritten, SPFresh's
// in-memory append buffer. Each copy is also a record in the index's
// update log ('a' posting, seq → id, version, row; package internal/keys),
// so tails survive a crash and are rebuilt at Open (Load); maintenance
// folds them into their postings and trims them (Set.Trim).
package tail

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
)

// Tail is the tail of one posting. A *Tail is immutable once published:
// With builds a new header over the same backing arrays (appending past
// the old length, which readers of the old header never look at). A nil
// *Tail is an empty tail.
type Tail struct {
	IDs  []uint64
	Vers []uint8
	Seqs []uint64 // update-log sequence of each copy, increasing
	Vecs []byte   // rows in the index's element type
}

// Len returns the number of copies.
func (t *Tail) Len() int {
	if t == nil {
		return 0
	}
	return len(t.IDs)
}

// Bytes returns the memory the tail's copies hold.
func (t *Tail) Bytes() int {
	if t == nil {
		return 0
	}
	return len(t.Vecs) + 17*len(t.IDs)
}

// Last returns the sequence of the last copy (0 for none).
func (t *Tail) Last() uint64 {
	if t.Len() == 0 {
		return 0
	}
	return t.Seqs[len(t.Seqs)-1]
}

// With returns t plus one copy. t may be nil.
func (t *Tail) With(id uint64, ver uint8, seq uint64, row []byte) *Tail {
	var n Tail
	if t != nil {
		n = *t
	}
	n.IDs = append(n.IDs, id)
	n.Vers = append(n.Vers, ver)
	n.Seqs = append(n.Seqs, seq)
	n.Vecs = append(n.Vecs, row...)
	return &n
}

// After returns the copies of t with sequence above seq, in fresh arrays
// (nil if none): what remains of a tail once a rewrite folded the rest.
func (t *Tail) After(seq uint64, rowBytes int) *Tail {
	if t == nil {
		return nil
	}
	var n *Tail
	for i, s := range t.Seqs {
		if s > seq {
			n = n.With(t.IDs[i], t.Vers[i], s, t.Vecs[i*rowBytes:(i+1)*rowBytes])
		}
	}
	return n
}

// Set holds the tails of an index's postings. It is not safe for
// concurrent use by itself: the index guards it with its route lock
// (searches read under the read side, writers change it under the write
// side). Bytes may be read at any time.
type Set struct {
	m     map[uint32]*Tail
	bytes atomic.Int64
}

// NewSet returns an empty Set.
func NewSet() *Set { return &Set{m: make(map[uint32]*Tail)} }

// Get returns the tail of posting p (nil for none).
func (s *Set) Get(p uint32) *Tail { return s.m[p] }

// Add appends one copy to the tail of posting p.
func (s *Set) Add(p uint32, id uint64, ver uint8, seq uint64, row []byte) {
	t := s.m[p]
	grown := -t.Bytes()
	t = t.With(id, ver, seq, row)
	s.m[p] = t
	s.bytes.Add(int64(grown + t.Bytes()))
}

// Trim drops the copies up to seq last from p's tail, once a committed
// rewrite holds them.
func (s *Set) Trim(p uint32, last uint64, rowBytes int) {
	cur := s.m[p]
	rest := cur.After(last, rowBytes)
	if rest == nil {
		delete(s.m, p)
	} else {
		s.m[p] = rest
	}
	s.bytes.Add(int64(rest.Bytes() - cur.Bytes()))
}

// Of appends the tails of ids (nil entries for none) to dst[:0].
func (s *Set) Of(ids []uint32, dst []*Tail) []*Tail {
	dst = dst[:0]
	if len(s.m) == 0 {
		return dst
	}
	for _, p := range ids {
		dst = append(dst, s.m[p])
	}
	return dst
}

// Each calls fn for every posting with a tail, in no order.
func (s *Set) Each(fn func(p uint32, t *Tail)) {
	for p, t := range s.m {
		fn(p, t)
	}
}

// Bytes returns the memory all tails hold.
func (s *Set) Bytes() int64 { return s.bytes.Load() }

// Value encodes the update-log record of one copy: id u64 LE, version u8,
// row.
func Value(id uint64, ver uint8, row []byte) []byte {
	v := make([]byte, 9+len(row))
	binary.LittleEndian.PutUint64(v, id)
	v[8] = ver
	copy(v[9:], row)
	return v
}

// Record is one decoded update-log record.
type Record struct {
	Posting uint32
	Seq     uint64
	ID      uint64
	Ver     uint8
	Row     []byte
}

// Decode decodes the update-log record k → v of rows of rowBytes bytes;
// a record of another shape is errs.Corrupt.
func Decode(k, v []byte, rowBytes int) (Record, error) {
	if len(k) != 13 || k[0] != byte(keys.Append) || len(v) != 9+rowBytes {
		return Record{}, fmt.Errorf("%w: append record %x of %d bytes", errs.Corrupt, k, len(v))
	}
	return Record{
		Posting: binary.BigEndian.Uint32(k[1:]), Seq: binary.BigEndian.Uint64(k[5:]),
		ID: binary.LittleEndian.Uint64(v), Ver: v[8], Row: v[9:],
	}, nil
}

// Load rebuilds a Set from the update log, which scan walks in key order
// (posting, then sequence). It returns the Set and the highest sequence
// found.
func Load(scan func(prefix []byte, fn func(k, v []byte) error) error, rowBytes int) (*Set, uint64, error) {
	s := NewSet()
	var top uint64
	err := scan(keys.Prefix(keys.Append), func(k, v []byte) error {
		r, err := Decode(k, v, rowBytes)
		if err != nil {
			return err
		}
		s.Add(r.Posting, r.ID, r.Ver, r.Seq, r.Row)
		top = max(top, r.Seq)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return s, top, nil
}

// CheckLog compares s with the update log that scan walks: every record
// must be the copy of s at its place, and every copy of s must have its
// record. It calls bad for each difference and for each tail of a posting
// isHead denies, and returns the scan's error. The caller keeps writers
// out.
func (s *Set) CheckLog(scan func(prefix []byte, fn func(k, v []byte) error) error, rowBytes int, isHead func(p uint32) bool, bad func(format string, args ...any)) error {
	logged := make(map[uint32]int)
	err := scan(keys.Prefix(keys.Append), func(k, v []byte) error {
		r, err := Decode(k, v, rowBytes)
		if err != nil {
			bad("%v", err)
			return nil
		}
		t, i := s.m[r.Posting], logged[r.Posting]
		logged[r.Posting]++
		switch {
		case t == nil || i >= t.Len():
			bad("append record posting %d seq %d is not in memory", r.Posting, r.Seq)
		case t.Seqs[i] != r.Seq || t.IDs[i] != r.ID || t.Vers[i] != r.Ver ||
			!bytes.Equal(t.Vecs[i*rowBytes:(i+1)*rowBytes], r.Row):
			bad("tail of posting %d differs from the log at seq %d", r.Posting, r.Seq)
		}
		if !isHead(r.Posting) {
			bad("tail of posting %d, which is no head of the tree", r.Posting)
		}
		return nil
	})
	for p, t := range s.m {
		if logged[p] != t.Len() {
			bad("tail of posting %d holds %d copies, the log %d", p, t.Len(), logged[p])
		}
	}
	return err
}
