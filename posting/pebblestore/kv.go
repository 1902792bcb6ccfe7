package pebblestore

import (
	"bytes"
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
	if err := s.healthErr(); err != nil {
		return nil, err
	}
	v, closer, err := s.db.Get(s.userKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("key %x: %w", key, posting.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("key %x: %w", key, pebbleErr(err))
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// ScanPrefix calls fn for every caller key starting with prefix, in key
// order, on a consistent snapshot. key and value are valid only while fn
// runs and must not be modified. It stops at fn's first error and returns
// it.
func (s *Store) ScanPrefix(prefix []byte, fn func(key, value []byte) error) error {
	if err := s.healthErr(); err != nil {
		return err
	}
	lower := s.userKey(prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return fmt.Errorf("pebblestore: scan %x: %w", prefix, pebbleErr(err))
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
		return fmt.Errorf("pebblestore: scan %x: %w", prefix, pebbleErr(err))
	}
	return nil
}

// GetSorted looks up caller keys, which must be in increasing order, with
// one iterator: a batch of nearby keys costs about one scan of the blocks
// that hold them instead of an index walk per key. It calls fn(i, value)
// for each keys[i] that is stored, in order, with value valid only while
// fn runs, and stops at fn's first error.
func (s *Store) GetSorted(keys [][]byte, fn func(i int, value []byte) error) error {
	if len(keys) == 0 {
		return nil
	}
	if err := s.healthErr(); err != nil {
		return err
	}
	lower := s.userKey(keys[0])
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(s.userKey(keys[len(keys)-1]))})
	if err != nil {
		return fmt.Errorf("pebblestore: get: %w", pebbleErr(err))
	}
	var k []byte
	for i, key := range keys {
		if i > 0 && bytes.Compare(keys[i-1], key) >= 0 {
			it.Close()
			return fmt.Errorf("pebblestore: get: keys %x and %x out of order", keys[i-1], key)
		}
		k = append(append(k[:0], s.ns...), prefixUser)
		k = append(k, key...)
		if !it.SeekGE(k) || !bytes.Equal(it.Key(), k) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			break // reported by Close
		}
		if err := fn(i, v); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("pebblestore: get: %w", pebbleErr(err))
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
	if err := s.healthErr(); err != nil {
		return err
	}
	if err := s.db.SyncWAL(); err != nil {
		return fmt.Errorf("pebblestore: sync WAL: %w", pebbleErr(err))
	}
	return s.health.fatalErr()
}
