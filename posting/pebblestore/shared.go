package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/posting"
)

// A shared DB is one Pebble instance that holds many Stores, one per
// namespace (DESIGN.md: one Pebble instance per data directory, never one
// per collection or tenant). A namespace is a sub-directory of the DB's
// directory: its segment files live there, and every Pebble key of its
// Store carries the namespace's prefix, so a namespaced Store behaves
// exactly like a Store of its own, crash safety included (its batches and
// bulk commits are single Pebble batches as before).
//
// # Layout
//
//	DIR/                   the Pebble database
//	  "shared"             marker: version byte (1); a plain Open refuses
//	                       a directory that has it
//	  'r' + name           namespace registry: version (1), id (BE u32),
//	                       state (0 live, 1 being dropped)
//	  'n' + id (BE u32)    prefix of every key of namespace id; after it
//	    + store key        the keys of a plain Store ('m', 'p', 'u')
//	  'u' + key            the DB's own caller records (DB.Get, DB.Set)
//	DIR/NAME/              the namespace's segment files (and whatever
//	                       else its owner keeps there, e.g. an index's
//	                       tree and vectors files)
//
// NAME is the namespace directory relative to DIR, with forward slashes.
// The fixed-length prefix keeps namespaces apart: no prefix is a prefix
// of another.
//
// Drop is crash safe: one synced batch marks the namespace as being
// dropped and deletes its key range; then its directory is removed; then
// its registry entry. OpenDB completes a drop that a crash interrupted.

const (
	prefixNamespace = 'n'
	prefixRegistry  = 'r'
	// maxNamespaceLen is the length of a namespace's key prefix.
	maxNamespaceLen = 5
	registryVersion = 1
	stateLive       = 0
	stateDropping   = 1
)

var sharedMarkerKey = []byte("shared")

// Errors of shared DBs.
var (
	// ErrWrongLayout is returned when a directory holds the other kind of
	// database: a shared DB opened with Open, or a Store's own database
	// opened with OpenDB.
	ErrWrongLayout = errors.New("pebblestore: wrong database layout")
	// ErrNamespaceOpen is returned by OpenNamespace for a namespace that
	// is open already, and by Drop and Close while one is open.
	ErrNamespaceOpen = errors.New("pebblestore: namespace is open")
	// ErrBadNamespace is returned for a namespace directory that is not
	// strictly inside the DB's directory, or that is inside another
	// namespace's (or holds one).
	ErrBadNamespace = errors.New("pebblestore: bad namespace directory")
)

// DBOptions configure a shared DB. The zero value is usable.
type DBOptions struct {
	// BlockCacheBytes is the size of Pebble's block cache, shared by all
	// namespaces (metadata, directories, caller records; posting bytes
	// are cached by each Store, Options.CacheBytes). Default 16 MiB.
	BlockCacheBytes int64
}

// EnsureDefaults fills unset fields with defaults.
func (o *DBOptions) EnsureDefaults() {
	if o.BlockCacheBytes <= 0 {
		o.BlockCacheBytes = 16 << 20
	}
}

// Validate reports options that cannot be used.
func (o *DBOptions) Validate() error { return nil }

// DB is one Pebble database shared by the Stores of many namespaces. It
// is safe for concurrent use. Close it after every namespace's Store.
type DB struct {
	dir string // absolute
	db  *logDB
	io  directio.Stats
	// health is what Pebble reported outside calls (health.go); each
	// namespace's Store consults it for its own key range.
	health health
	mu     struct {
		sync.Mutex
		// names are the registered namespaces: name → id; open are the
		// names whose Store is open.
		names  map[string]uint32
		open   map[string]bool
		nextID uint32
		closed bool
	}
}

// OpenDB opens or creates the shared DB in dir and completes any drop
// that a crash interrupted. A directory that holds a Store's own
// database is refused.
func OpenDB(dir string, o *DBOptions) (*DB, error) {
	var opts DBOptions
	if o != nil {
		opts = *o
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	d := &DB{dir: abs}
	if d.db, err = openPebble(abs, &d.io, opts.BlockCacheBytes, &d.health); err != nil {
		return nil, err
	}
	d.mu.names = make(map[string]uint32)
	d.mu.open = make(map[string]bool)
	d.mu.nextID = 1
	if err := d.load(); err != nil {
		d.db.Close()
		return nil, err
	}
	return d, nil
}

// load checks the marker (writing it into an empty database), reads the
// registry and finishes interrupted drops.
func (d *DB) load() error {
	v, closer, err := d.db.Get(sharedMarkerKey)
	switch {
	case err == nil:
		ver := slices.Clone(v)
		closer.Close()
		if len(ver) != 1 || ver[0] != 1 {
			return fmt.Errorf("%w: shared DB marker %x", posting.ErrCorrupt, ver)
		}
	case errors.Is(err, pebble.ErrNotFound):
		it, err := d.db.NewIter(nil)
		if err != nil {
			return fmt.Errorf("pebblestore: %w", pebbleErr(err))
		}
		empty := !it.First()
		if err := it.Close(); err != nil {
			return fmt.Errorf("pebblestore: %w", pebbleErr(err))
		}
		if !empty {
			return fmt.Errorf("%w: %s holds a single store's database (open it with Open)", ErrWrongLayout, d.dir)
		}
		if err := d.db.Set(sharedMarkerKey, []byte{1}, pebble.Sync); err != nil {
			return fmt.Errorf("pebblestore: %w", err)
		}
	default:
		return fmt.Errorf("pebblestore: %w", pebbleErr(err))
	}
	var dropping []string
	err = d.scan([]byte{prefixRegistry}, func(k, v []byte) error {
		name := string(k[1:])
		if len(v) != 6 || v[0] != registryVersion || v[5] > stateDropping {
			return fmt.Errorf("%w: namespace %q registry entry %x", posting.ErrCorrupt, name, v)
		}
		id := binary.BigEndian.Uint32(v[1:])
		d.mu.names[name] = id
		d.mu.nextID = max(d.mu.nextID, id+1)
		if v[5] == stateDropping {
			dropping = append(dropping, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range dropping {
		if err := d.dropLocked(name); err != nil {
			return err
		}
	}
	return nil
}

// scan calls fn for every Pebble key starting with prefix.
func (d *DB) scan(prefix []byte, fn func(k, v []byte) error) error {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("pebblestore: scan: %w", pebbleErr(err))
	}
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			break // reported by Close
		}
		if err := fn(it.Key(), v); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("pebblestore: scan: %w", pebbleErr(err))
	}
	return nil
}

// Dir returns the DB's directory (absolute).
func (d *DB) Dir() string { return d.dir }

// name returns the namespace name of directory dir: its path relative to
// the DB's directory, with forward slashes.
func (d *DB) name(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("pebblestore: %w", err)
	}
	rel, err := filepath.Rel(d.dir, abs)
	if err != nil || rel == "." || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: %s is not inside %s", ErrBadNamespace, dir, d.dir)
	}
	return filepath.ToSlash(rel), nil
}

// nsPrefix returns the key prefix of namespace id.
func nsPrefix(id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{prefixNamespace}, id)
}

func registryKey(name string) []byte {
	return append([]byte{prefixRegistry}, name...)
}

func registryValue(id uint32, state byte) []byte {
	v := binary.BigEndian.AppendUint32([]byte{registryVersion}, id)
	return append(v, state)
}

// OpenNamespace opens or creates the Store of the namespace whose
// directory is dir, a sub-directory of the DB's directory (created if
// needed). A namespace's directory may neither be inside another's nor
// hold one. One Store per namespace may be open at a time; its Close
// leaves the DB open.
func (d *DB) OpenNamespace(dir string, o *Options) (*Store, error) {
	name, err := d.name(dir)
	if err != nil {
		return nil, err
	}
	s, err := newStore(filepath.Join(d.dir, filepath.FromSlash(name)), o)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	id, err := d.registerLocked(name)
	if err != nil {
		d.mu.Unlock()
		return nil, err
	}
	d.mu.open[name] = true
	d.mu.Unlock()
	s.db, s.ns, s.shared, s.health = d.db, nsPrefix(id), d, &d.health
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		s.Close()
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// registerLocked returns the id of namespace name, registering it if it
// is new. The caller holds d.mu.
func (d *DB) registerLocked(name string) (uint32, error) {
	switch {
	case d.mu.closed:
		return 0, errors.New("pebblestore: shared DB is closed")
	case d.mu.open[name]:
		return 0, fmt.Errorf("%w: %s", ErrNamespaceOpen, name)
	}
	if id, ok := d.mu.names[name]; ok {
		return id, nil
	}
	for other := range d.mu.names {
		if strings.HasPrefix(name+"/", other+"/") || strings.HasPrefix(other+"/", name+"/") {
			return 0, fmt.Errorf("%w: %s and namespace %s nest", ErrBadNamespace, name, other)
		}
	}
	id := d.mu.nextID
	if id == 0 || len(nsPrefix(id)) > maxNamespaceLen {
		panic("pebblestore: namespace ids exhausted")
	}
	if err := d.db.Set(registryKey(name), registryValue(id, stateLive), pebble.Sync); err != nil {
		return 0, fmt.Errorf("pebblestore: register namespace %s: %w", name, err)
	}
	d.mu.names[name] = id
	d.mu.nextID++
	return id, nil
}

// release marks the namespace of s as closed.
func (d *DB) release(s *Store) {
	name, err := d.name(s.dir)
	if err != nil {
		panic(fmt.Sprintf("pebblestore: namespace store of %s: %v", s.dir, err))
	}
	d.mu.Lock()
	delete(d.mu.open, name)
	d.mu.Unlock()
}

// Namespaces returns the directories of the namespaces, relative to the
// DB's directory (forward slashes), sorted.
func (d *DB) Namespaces() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.mu.names))
	for name := range d.mu.names {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Drop deletes the namespace whose directory is dir: every key of its
// Store, and the directory with everything in it. Its Store must be
// closed. Dropping a namespace that does not exist returns an error
// wrapping posting.ErrNotFound.
func (d *DB) Drop(dir string) error {
	name, err := d.name(dir)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.mu.closed:
		return errors.New("pebblestore: shared DB is closed")
	case d.mu.open[name]:
		return fmt.Errorf("%w: %s", ErrNamespaceOpen, name)
	}
	if _, ok := d.mu.names[name]; !ok {
		return fmt.Errorf("namespace %s: %w", name, posting.ErrNotFound)
	}
	return d.dropLocked(name)
}

// dropLocked deletes namespace name in three crash-safe steps. The
// caller holds d.mu (or is OpenDB).
func (d *DB) dropLocked(name string) error {
	if err := d.dropBegin(name); err != nil {
		return err
	}
	return d.dropFinish(name)
}

// dropBegin marks namespace name as being dropped and deletes its keys,
// in one synced batch: from here on OpenDB finishes the drop.
func (d *DB) dropBegin(name string) error {
	id := d.mu.names[name]
	pb := d.db.NewBatch()
	defer pb.Close()
	ns := nsPrefix(id)
	err := pb.Set(registryKey(name), registryValue(id, stateDropping), nil)
	if err == nil {
		err = pb.DeleteRange(ns, prefixEnd(ns), nil)
	}
	if err == nil {
		err = d.db.Commit(pb, pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("pebblestore: drop namespace %s: %w", name, err)
	}
	return nil
}

// dropFinish removes the directory of namespace name, then its registry
// entry.
func (d *DB) dropFinish(name string) error {
	dir := filepath.Join(d.dir, filepath.FromSlash(name))
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("pebblestore: drop namespace %s: %w", name, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pebblestore: drop namespace %s: %w", name, err)
	}
	if err := d.db.Delete(registryKey(name), pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: drop namespace %s: %w", name, err)
	}
	delete(d.mu.names, name)
	return nil
}

// Get returns a copy of the value of the DB's own caller key key (not a
// namespace's), or posting.ErrNotFound (wrapped).
func (d *DB) Get(key []byte) ([]byte, error) {
	if err := d.healthErr(); err != nil {
		return nil, err
	}
	v, closer, err := d.db.Get(append([]byte{prefixUser}, key...))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("key %x: %w", key, posting.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("key %x: %w", key, pebbleErr(err))
	}
	defer closer.Close()
	return slices.Clone(v), nil
}

// Set stores value under the DB's own caller key key, synced.
func (d *DB) Set(key, value []byte) error {
	if err := d.healthErr(); err != nil {
		return err
	}
	if err := d.db.Set(append([]byte{prefixUser}, key...), value, pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: set %x: %w", key, pebbleErr(err))
	}
	return d.health.fatalErr()
}

// Delete deletes the DB's own caller key key, synced.
func (d *DB) Delete(key []byte) error {
	if err := d.healthErr(); err != nil {
		return err
	}
	if err := d.db.Delete(append([]byte{prefixUser}, key...), pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: delete %x: %w", key, pebbleErr(err))
	}
	return d.health.fatalErr()
}

// healthErr returns the error the DB's own records fail with once Pebble
// reported a fatal error or a corruption that may hold them.
func (d *DB) healthErr() error {
	return d.health.err([]byte{prefixUser}, []byte{prefixUser + 1})
}

// ScanPrefix calls fn for every one of the DB's own caller keys starting
// with prefix, in key order, on a consistent snapshot; key and value are
// valid only while fn runs. It stops at fn's first error and returns it.
func (d *DB) ScanPrefix(prefix []byte, fn func(key, value []byte) error) error {
	if err := d.healthErr(); err != nil {
		return err
	}
	return d.scan(append([]byte{prefixUser}, prefix...), func(k, v []byte) error {
		return fn(k[1:], v)
	})
}

// Close closes the Pebble database. Every namespace's Store must be
// closed first; otherwise Close returns an error wrapping
// ErrNamespaceOpen and leaves the DB open.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.closed {
		return nil
	}
	if len(d.mu.open) > 0 {
		open := make([]string, 0, len(d.mu.open))
		for name := range d.mu.open {
			open = append(open, name)
		}
		slices.Sort(open)
		return fmt.Errorf("%w: %s", ErrNamespaceOpen, strings.Join(open, ", "))
	}
	d.mu.closed = true
	return errors.Join(d.health.fatalErr(), pebbleErr(d.db.Close()))
}
