// Package memstore is an in-memory posting.Store, for tests and for indexes
// small enough to live in RAM. It implements the whole interface with the
// semantics pebblestore has, except that nothing persists: a Store starts
// empty and its contents last as long as the process, so there is nothing
// to sync (SetMeta, Commit's sync, SyncWAL) and no reopening. A rewrite
// replaces a posting's bytes, so none are left dead and CompactSegment
// never finds work.
package memstore

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/shoaldb/shoal/posting"
)

// Store is an in-memory posting.Store. It is safe for concurrent use.
// Reads call their callbacks without holding a lock, so a callback may
// use the store.
type Store struct {
	mu struct {
		sync.RWMutex
		// postings, meta and records change only under the write lock, and
		// all of a batch's changes under one hold of it. Values and record
		// nodes are never modified once stored, only replaced, so readers
		// keep using what they found after unlocking.
		postings map[uint32][]byte
		meta     map[string][]byte
		records  *record // root of the caller records (records.go)
	}
}

var _ posting.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	s := &Store{}
	s.mu.postings = make(map[uint32][]byte)
	s.mu.meta = make(map[string][]byte)
	return s
}

// Read implements posting.Store.
func (s *Store) Read(id uint32, fn func([]byte) error) error {
	b, ok := s.get(id)
	if !ok {
		return fmt.Errorf("posting %d: %w", id, posting.ErrNotFound)
	}
	return fn(b)
}

// get returns posting id; the bytes are never modified after insertion.
func (s *Store) get(id uint32) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.mu.postings[id]
	return b, ok
}

// ReadBatch implements posting.Store.
func (s *Store) ReadBatch(ids []uint32, fn func(int, []byte) error) error {
	for i, id := range ids {
		b, ok := s.get(id)
		if !ok {
			continue
		}
		if err := fn(i, b); err != nil {
			return err
		}
	}
	return nil
}

// Scan implements posting.Store.
func (s *Store) Scan(fn func(uint32, []byte) error) error {
	s.mu.RLock()
	ids := make([]uint32, 0, len(s.mu.postings))
	for id := range s.mu.postings {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	slices.Sort(ids)
	for _, id := range ids {
		b, ok := s.get(id)
		if !ok {
			continue
		}
		if err := fn(id, b); err != nil {
			return err
		}
	}
	return nil
}

// NewBulkWriter implements posting.Store.
func (s *Store) NewBulkWriter() (posting.BulkWriter, error) {
	return &bulkWriter{s: s, last: -1}, nil
}

// GetMeta implements posting.Store.
func (s *Store) GetMeta(key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.mu.meta[key]
	if !ok {
		return nil, fmt.Errorf("meta %q: %w", key, posting.ErrNotFound)
	}
	return slices.Clone(v), nil
}

// SetMeta implements posting.Store.
func (s *Store) SetMeta(key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.meta[key] = slices.Clone(value)
	return nil
}

// SyncWAL implements posting.Store; nothing is ever waiting to be made
// durable.
func (s *Store) SyncWAL() error { return nil }

// CompactSegment implements posting.Store; a rewrite replaces a posting's
// bytes, so there is never anything to reclaim and no segment is found.
func (s *Store) CompactSegment(maxLive float64, maxBytes int64) (moved int64, found bool, err error) {
	return 0, false, nil
}

// DataFiles implements posting.Store; an in-memory store has no files.
func (s *Store) DataFiles() []string { return nil }

// Verify implements posting.Store; an in-memory store has no files.
func (s *Store) Verify(func(string) bool) ([]posting.Verified, error) { return nil, nil }

// Stats implements posting.Store; an in-memory store reads no disk.
func (s *Store) Stats() posting.Stats { return posting.Stats{} }

// Close implements posting.Store; an in-memory store has nothing to release.
func (s *Store) Close() error { return nil }

var errBulkDone = errors.New("memstore: bulk writer already finished")

type bulkWriter struct {
	s      *Store
	last   int64
	staged map[uint32][]byte
	done   bool
}

func (w *bulkWriter) Add(id uint32, encoded []byte) error {
	if w.done {
		return errBulkDone
	}
	if int64(id) <= w.last {
		return fmt.Errorf("memstore: bulk add of posting %d after %d: ids must increase", id, w.last)
	}
	if len(encoded) == 0 {
		return fmt.Errorf("memstore: posting %d is empty", id)
	}
	w.last = int64(id)
	if w.staged == nil {
		w.staged = make(map[uint32][]byte)
	}
	w.staged[id] = slices.Clone(encoded)
	return nil
}

func (w *bulkWriter) Commit() error {
	if w.done {
		return errBulkDone
	}
	w.done = true
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	for id, b := range w.staged {
		w.s.mu.postings[id] = b
	}
	w.staged = nil
	return nil
}

func (w *bulkWriter) Abort() {
	w.done = true
	w.staged = nil
}
