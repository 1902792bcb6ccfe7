package memstore

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/shoaldb/shoal/posting"
)

// records returns the root of the caller records now: a snapshot that
// later changes leave as it is.
func (s *Store) records() *record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.records
}

// Get implements posting.Store.
func (s *Store) Get(key []byte) ([]byte, error) {
	r := s.records().get(string(key))
	if r == nil {
		return nil, fmt.Errorf("key %x: %w", key, posting.ErrNotFound)
	}
	return slices.Clone(r.value), nil
}

// GetSorted implements posting.Store.
func (s *Store) GetSorted(keys [][]byte, fn func(i int, value []byte) error) error {
	root := s.records()
	for i, key := range keys {
		if i > 0 && bytes.Compare(keys[i-1], key) >= 0 {
			return fmt.Errorf("memstore: get: keys %x and %x out of order", keys[i-1], key)
		}
		if r := root.get(string(key)); r != nil {
			if err := fn(i, r.value); err != nil {
				return err
			}
		}
	}
	return nil
}

// ScanPrefix implements posting.Store.
func (s *Store) ScanPrefix(prefix []byte, fn func(key, value []byte) error) error {
	p := string(prefix)
	var err error
	s.records().ascend(p, func(r *record) bool {
		if !strings.HasPrefix(r.key, p) {
			return false
		}
		err = fn([]byte(r.key), r.value)
		return err == nil
	})
	return err
}
