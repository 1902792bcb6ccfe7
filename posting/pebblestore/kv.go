package pebblestore

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shoaldb/shoal/posting"
)

// Caller keys: the layer above keeps its own records (update logs, vector
// states) in the store's Pebble database, under prefixUser, so that they
// can be committed atomically with posting rewrites (Batch) and can never
// collide with the store's own keys. Callers see their keys without the
// prefix.

const prefixUser = 'u'

// userKey returns the Pebble key of caller key key.
func (s *Store) userKey(key []byte) []byte {
	return s.key(prefixUser, key)
}

// Get returns a copy of the value of a caller key, or posting.ErrNotFound
// (wrapped).
func (s *Store) Get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(s.userKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("key %x: %w", key, posting.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("key %x: %w", key, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// ScanPrefix calls fn for every caller key starting with prefix, in key
// order, on a consistent snapshot. key and value are valid only while fn
// runs and must not be modified. It stops at fn's first error and returns
// it.
func (s *Store) ScanPrefix(prefix []byte, fn func(key, value []byte) error) error {
	lower := s.userKey(prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return fmt.Errorf("pebblestore: scan %x: %w", prefix, err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			break // reported by Close
		}
		if err := fn(it.Key()[len(s.ns)+1:], v); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("pebblestore: scan %x: %w", prefix, err)
	}
	return nil
}

// prefixEnd returns the least key above every key starting with p, which
// starts with a byte below 0xff.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	panic("pebblestore: prefix of 0xff bytes only")
}

// SyncWAL makes every change committed so far durable: it syncs Pebble's
// write-ahead log. Batches committed without sync share one SyncWAL
// (group commit).
func (s *Store) SyncWAL() error {
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: sync WAL: %w", err)
	}
	return nil
}
