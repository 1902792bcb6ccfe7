package pebblestore

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Moving a store's records between databases: a namespace's records out
// of a shared DB into a checkpoint (checkpoint.go), a checkpoint's records
// into a namespace (import.go). The records are read with one iterator
// (a consistent view) and written, key by key with the namespace prefix
// taken off or put on, to sstables that the target database ingests: one
// Pebble version edit, no write-ahead log, no memtable, no compaction of
// the target's other keys (the range is new to it, so the tables go to
// its bottom level).

// maxTableBytes is the key and value bytes past which writeTables starts
// a new table.
const maxTableBytes = 64 << 20

// tableWriterOptions are the options of tables to ingest into a database
// of table format format, made as openLocked makes the databases (no
// compression, Bloom filters), for the bottom level.
func tableWriterOptions(format sstable.TableFormat) sstable.WriterOptions {
	po := &pebble.Options{}
	for i := range po.Levels {
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(bloomBits)
	}
	po.EnsureDefaults()
	return po.MakeWriterOptions(len(po.Levels)-1, format)
}

// writeTables writes the point records of it, in its order, to new
// sstables in dir, each key as rekey(dst, key) appends it to dst (which
// must keep the order), and returns the tables' paths. The tables do not
// overlap. The caller closes it.
func writeTables(it *pebble.Iterator, dir string, wo sstable.WriterOptions, rekey func(dst, key []byte) []byte) ([]string, error) {
	var (
		paths []string
		w     *sstable.Writer
		size  int
		key   []byte
	)
	finish := func() error {
		if w == nil {
			return nil
		}
		err := w.Close() // syncs and closes the file
		w = nil
		if err != nil {
			return fmt.Errorf("pebblestore: write table %s: %w", paths[len(paths)-1], err)
		}
		return nil
	}
	fail := func(err error) ([]string, error) {
		if w != nil {
			w.Close()
		}
		for _, p := range paths {
			os.Remove(p)
		}
		return nil, err
	}
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fail(fmt.Errorf("pebblestore: read records: %w", pebbleErr(err)))
		}
		if w == nil {
			path := filepath.Join(dir, fmt.Sprintf("%06d.sst", len(paths)+1))
			f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
			if err != nil {
				return fail(fmt.Errorf("pebblestore: %w", err))
			}
			paths = append(paths, path)
			w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), wo)
			size = 0
		}
		key = rekey(key[:0], it.Key())
		if err := w.Set(key, v); err != nil {
			return fail(fmt.Errorf("pebblestore: write table %s: %w", paths[len(paths)-1], err))
		}
		if size += len(key) + len(v); size >= maxTableBytes {
			if err := finish(); err != nil {
				return fail(err)
			}
		}
	}
	if err := it.Error(); err != nil {
		return fail(fmt.Errorf("pebblestore: read records: %w", pebbleErr(err)))
	}
	if err := finish(); err != nil {
		return fail(err)
	}
	return paths, nil
}
