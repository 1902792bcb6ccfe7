package index

import (
	"errors"
	"fmt"
	"os"

	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// SharedDB is one Pebble database that many indexes share, each in a
// namespace of its own (DESIGN.md: one Pebble instance per data
// directory, never one per collection or tenant). An index opened,
// created or built with Options.Shared keeps its Pebble records in the
// namespace of its directory, which must lie inside the SharedDB's
// directory and not inside another index's; its segment, tree and
// vectors files stay in its directory, as for an index of its own. The
// layout is package pebblestore's (shared.go).
//
// SharedDB also keeps small records of the caller's own (Get, Set,
// Delete, ScanPrefix), apart from every index: a server's catalog of
// collections, say. It is safe for concurrent use; close it after the
// indexes that use it.
type SharedDB struct{ db *pebblestore.DB }

// ErrRecordNotFound is wrapped by SharedDB.Get for a key that holds no
// record.
var ErrRecordNotFound = posting.ErrNotFound

// OpenSharedDB opens or creates the shared database in dir, and completes
// any Drop that a crash interrupted.
func OpenSharedDB(dir string) (*SharedDB, error) {
	db, err := pebblestore.OpenDB(dir, nil)
	if err != nil {
		return nil, withRepairHint(dir, err)
	}
	return &SharedDB{db}, nil
}

// Dir returns the shared database's directory.
func (d *SharedDB) Dir() string { return d.db.Dir() }

// Namespaces returns the directories of the indexes that keep records in
// d, relative to d's directory (forward slashes), sorted.
func (d *SharedDB) Namespaces() []string { return d.db.Namespaces() }

// Get returns a copy of the value of d's own key (not an index's), or an
// error wrapping ErrRecordNotFound.
func (d *SharedDB) Get(key []byte) ([]byte, error) { return d.db.Get(key) }

// Set stores value under d's own key, synced.
func (d *SharedDB) Set(key, value []byte) error { return d.db.Set(key, value) }

// Delete deletes d's own key, synced.
func (d *SharedDB) Delete(key []byte) error { return d.db.Delete(key) }

// ScanPrefix calls fn for every one of d's own keys starting with prefix,
// in key order, on a consistent snapshot; key and value are valid only
// while fn runs. It stops at fn's first error and returns it.
func (d *SharedDB) ScanPrefix(prefix []byte, fn func(key, value []byte) error) error {
	return d.db.ScanPrefix(prefix, fn)
}

// Close closes the database. Every index opened on it must be closed
// first; otherwise Close returns an error and leaves it open.
func (d *SharedDB) Close() error { return d.db.Close() }

// Drop deletes the index in dir, which must be closed: with Options.Shared,
// its namespace (every key) and then its directory, crash-safely; without,
// its directory. Dropping an index that does not exist returns an error
// wrapping ErrNoIndex.
func Drop(dir string, o *Options) error {
	if o != nil && o.Shared != nil {
		err := o.Shared.db.Drop(dir)
		if errors.Is(err, posting.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNoIndex, dir)
		}
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%w: %v", ErrNoIndex, err)
	}
	return os.RemoveAll(dir)
}

// openStore opens the posting store of the index in dir: o.store where a
// test set one (a memstore: the index knows its store only as a
// posting.Store), else a namespace of o.Shared, or, if that is nil, a
// store of its own.
func openStore(dir string, o *Options, po *pebblestore.Options) (posting.Store, error) {
	switch {
	case o.store != nil:
		return o.store, nil
	case o.Shared == nil:
		return pebblestore.Open(dir, po)
	}
	return o.Shared.db.OpenNamespace(dir, po)
}

// createStore opens the posting store of a new index in dir (Build,
// Create): like openStore, and a namespace must not hold an index yet
// (its directory was checked to be empty; its keys may not be).
func createStore(dir string, o *Options, po *pebblestore.Options) (posting.Store, error) {
	s, err := openStore(dir, o, po)
	if err != nil || o.Shared == nil {
		return s, err
	}
	_, err = s.GetMeta(metaManifest)
	if err == nil {
		s.Close()
		return nil, fmt.Errorf("%w: %s (its namespace in the shared DB holds an index: Drop it)", ErrExists, dir)
	}
	if !errors.Is(err, posting.ErrNotFound) {
		s.Close()
		return nil, err
	}
	return s, nil
}
