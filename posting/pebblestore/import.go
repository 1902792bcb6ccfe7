package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shoaldb/shoal/internal/directio"
)

// ErrNamespaceNotEmpty is returned by ImportNamespace for a namespace
// that holds records.
var ErrNamespaceNotEmpty = errors.New("pebblestore: namespace is not empty")

// ImportNamespace fills the namespace whose directory is dir with every
// record of the store database in src (a directory Open opens: a
// checkpoint, or a store of its own that is not open), registering the
// namespace if it is new. The namespace must hold no records and not be
// open. The records are written, each behind the namespace's prefix, to
// sstables that the DB ingests in one step: they appear all at once, or
// (on error, or a crash before the step) not at all; every key of src
// lands inside the namespace, whatever src holds. The segment and other
// files of dir are the caller's to put there.
//
// src's database is opened as Open opens it (its write-ahead log checked,
// then replayed, so Open's errors apply): it is changed as by an Open
// and a Close, and is not used afterwards.
func (d *DB) ImportNamespace(dir, src string) error {
	name, err := d.name(dir)
	if err != nil {
		return err
	}
	d.mu.Lock()
	id, err := d.registerLocked(name)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	d.mu.open[name] = true // keeps opens and drops out
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.mu.open, name)
		d.mu.Unlock()
	}()
	ns := nsPrefix(id)
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: ns, UpperBound: prefixEnd(ns)})
	if err != nil {
		return fmt.Errorf("pebblestore: import into %s: %w", name, pebbleErr(err))
	}
	empty := !it.First()
	if err := it.Close(); err != nil {
		return fmt.Errorf("pebblestore: import into %s: %w", name, pebbleErr(err))
	}
	if !empty {
		return fmt.Errorf("%w: %s", ErrNamespaceNotEmpty, name)
	}
	nsDir := filepath.Join(d.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(nsDir, 0o755); err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	var io directio.Stats
	// Read once from end to end: through the page cache, with readahead.
	sdb, err := openPebbleFS(src, &io, 16<<20, new(health), true)
	if err != nil {
		return fmt.Errorf("pebblestore: import %s: %w", src, err)
	}
	defer sdb.Close()
	if _, closer, err := sdb.Get(sharedMarkerKey); err == nil {
		closer.Close()
		return fmt.Errorf("%w: %s holds a shared DB, not a store's database", ErrWrongLayout, src)
	}
	tmp, err := os.MkdirTemp(nsDir, ".import-")
	if err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	defer os.RemoveAll(tmp)
	sit, err := sdb.NewIter(nil)
	if err != nil {
		return fmt.Errorf("pebblestore: import %s: %w", src, pebbleErr(err))
	}
	paths, err := writeTables(sit, tmp, "", tableWriterOptions(d.db.TableFormat()), func(dst, k []byte) []byte {
		return append(append(dst, ns...), k...)
	})
	if err = errors.Join(err, pebbleErr(sit.Close())); err != nil {
		return fmt.Errorf("pebblestore: import %s: %w", src, err)
	}
	if len(paths) == 0 {
		return nil
	}
	if err := d.db.Ingest(context.Background(), paths); err != nil {
		return fmt.Errorf("pebblestore: import %s into %s: %w", src, name, pebbleErr(err))
	}
	return d.health.fatalErr()
}
