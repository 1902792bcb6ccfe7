package memstore

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/shoaldb/shoal/posting"
)

var errBatchDone = errors.New("memstore: batch already committed or closed")

// recordOverhead is what Batch.Len counts for a record besides its key
// and value bytes: a kind byte and two length bytes, about what an
// encoded record of a short key carries in a Pebble batch.
const recordOverhead = 3

// batch is a posting.Batch of a memstore Store. It keeps its changes, in
// order, until Commit applies them all under one hold of the store's
// lock: readers see all of a batch or none of it. It is not safe for
// concurrent use.
type batch struct {
	s    *Store
	ops  []op
	size int // Len
	done bool
}

// op is one staged change.
type op struct {
	kind  opKind
	key   string // or the start of a range
	end   string // the end of a range, unless open
	open  bool   // a range without an upper bound
	value []byte // of a record or a posting
	id    uint32 // of a posting
}

type opKind uint8

const (
	opSet opKind = iota
	opDelete
	opDeleteRange
	opPutPosting
	opDeletePosting
)

var _ posting.Batch = (*batch)(nil)

// NewBatch implements posting.Store.
func (s *Store) NewBatch() posting.Batch { return &batch{s: s} }

func (b *batch) mustOpen() {
	if b.done {
		panic(errBatchDone)
	}
}

// Set implements posting.Batch.
func (b *batch) Set(key, value []byte) {
	b.mustOpen()
	b.ops = append(b.ops, op{kind: opSet, key: string(key), value: slices.Clone(value)})
	b.size += len(key) + len(value) + recordOverhead
}

// Delete implements posting.Batch.
func (b *batch) Delete(key []byte) {
	b.mustOpen()
	b.ops = append(b.ops, op{kind: opDelete, key: string(key)})
	b.size += len(key) + recordOverhead
}

// DeleteOnce implements posting.Batch: Delete.
func (b *batch) DeleteOnce(key []byte) { b.Delete(key) }

// DeleteRange implements posting.Batch.
func (b *batch) DeleteRange(start, end []byte) {
	b.mustOpen()
	if end != nil && bytes.Compare(start, end) >= 0 {
		return
	}
	b.ops = append(b.ops, op{kind: opDeleteRange, key: string(start), end: string(end), open: end == nil})
	b.size += len(start) + len(end) + recordOverhead
}

// PutPosting implements posting.Batch.
func (b *batch) PutPosting(id uint32, encoded []byte) error {
	if b.done {
		return errBatchDone
	}
	if len(encoded) == 0 {
		return fmt.Errorf("memstore: posting %d is empty", id)
	}
	b.ops = append(b.ops, op{kind: opPutPosting, id: id, value: slices.Clone(encoded)})
	return nil
}

// DeletePosting implements posting.Batch.
func (b *batch) DeletePosting(id uint32) {
	b.mustOpen()
	b.ops = append(b.ops, op{kind: opDeletePosting, id: id})
}

// Len implements posting.Batch.
func (b *batch) Len() int { return b.size }

// Commit implements posting.Batch. Nothing persists, so sync changes
// nothing.
func (b *batch) Commit(sync bool) error {
	if b.done {
		return errBatchDone
	}
	defer b.Close()
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	root := s.mu.records
	for _, o := range b.ops {
		switch o.kind {
		case opSet:
			root = root.set(o.key, o.value)
		case opDelete:
			root = root.deleteRange(o.key, successor(o.key), false)
		case opDeleteRange:
			root = root.deleteRange(o.key, o.end, o.open)
		case opPutPosting:
			s.mu.postings[o.id] = o.value
		case opDeletePosting:
			delete(s.mu.postings, o.id)
		default:
			panic(fmt.Sprintf("memstore: batch op of unknown kind %d", o.kind))
		}
	}
	s.mu.records = root
	return nil
}

// Close implements posting.Batch.
func (b *batch) Close() {
	b.done = true
	b.ops = nil
	b.size = 0
}
