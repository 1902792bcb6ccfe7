package pebblestore

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sync"

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
// sstables in dir (named prefix and a number), each key as rekey(dst,
// key) appends it to dst (which must keep the order), and returns the
// tables' paths. The tables do not overlap. The caller closes it.
func writeTables(it *pebble.Iterator, dir, prefix string, wo sstable.WriterOptions, rekey func(dst, key []byte) []byte) ([]string, error) {
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
			path := filepath.Join(dir, fmt.Sprintf("%s%06d.sst", prefix, len(paths)+1))
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

// exportParts is how many parts of a key range exportRange reads at once:
// Pebble reads a table one block at a time (with direct I/O, one disk
// read each), so one iterator leaves the disk idle between reads.
const exportParts = 8

// exportRange writes the point records of [lower, upper) that newIter
// reads (over the bounds it is given) to sstables in dir, each key
// rekeyed as by writeTables, and returns their paths in key order. It
// cuts the range into parts of about equal size on disk (splitRange over
// db) and reads up to exportParts of them at once.
func exportRange(db *pebble.DB, lower, upper []byte, newIter func(lo, hi []byte) (*pebble.Iterator, error), dir string, wo sstable.WriterOptions, rekey func(dst, key []byte) []byte) ([]string, error) {
	// Split between the first and the last record: the keys of a range
	// share a long prefix, which halving from its bounds would take
	// many steps to reach.
	it, err := newIter(lower, upper)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: read records: %w", pebbleErr(err))
	}
	var first, last []byte
	if it.First() {
		first = slices.Clone(it.Key())
	}
	if it.Last() {
		last = slices.Clone(it.Key())
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("pebblestore: read records: %w", pebbleErr(err))
	}
	bounds := [][]byte{lower, upper}
	if first != nil && bytes.Compare(first, last) < 0 {
		inner := splitRange(db, first, last, exportParts)
		bounds = append(append([][]byte{lower}, inner[1:len(inner)-1]...), upper)
	}
	parts := make([][]string, len(bounds)-1)
	errs := make([]error, len(parts))
	sem := make(chan struct{}, exportParts)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			it, err := newIter(bounds[i], bounds[i+1])
			if err != nil {
				errs[i] = fmt.Errorf("pebblestore: read records: %w", pebbleErr(err))
				return
			}
			parts[i], errs[i] = writeTables(it, dir, fmt.Sprintf("%03d-", i), wo, rekey)
			if err := it.Close(); err != nil && errs[i] == nil {
				errs[i] = fmt.Errorf("pebblestore: read records: %w", pebbleErr(err))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, ps := range parts {
			for _, p := range ps {
				os.Remove(p)
			}
		}
		return nil, err
	}
	return slices.Concat(parts...), nil
}

// splitRange returns bounds lower = b[0] < b[1] < ... < b[k] = upper that
// cut [lower, upper) into parts of about 1/n of its size on disk or less,
// as db estimates it (tables in part, from their index blocks; records
// still in memtables count for nothing), by halving parts; at most 4n
// parts, none halved below 256 KiB.
func splitRange(db *pebble.DB, lower, upper []byte, n int) [][]byte {
	total, err := db.EstimateDiskUsage(lower, upper)
	if err != nil || n <= 1 || total < 1<<20 {
		return [][]byte{lower, upper}
	}
	target := max(total/uint64(n), 256<<10)
	parts := 1
	var out [][]byte
	var split func(lo, hi []byte)
	split = func(lo, hi []byte) {
		if mid := midKey(lo, hi); mid != nil && parts < 4*n {
			if size, err := db.EstimateDiskUsage(lo, hi); err == nil && size > target {
				parts++
				split(lo, mid)
				split(mid, hi)
				return
			}
		}
		out = append(out, lo)
	}
	split(lower, upper)
	return append(out, upper)
}

// midKey returns a key halfway between lo and hi (lo < hi) read as
// numbers of one more byte than the longer, or nil if no key of that
// length lies strictly between them.
func midKey(lo, hi []byte) []byte {
	n := max(len(lo), len(hi)) + 1
	pad := func(k []byte) *big.Int {
		return new(big.Int).SetBytes(append(slices.Clone(k), make([]byte, n-len(k))...))
	}
	m := new(big.Int).Add(pad(lo), pad(hi))
	key := m.Rsh(m, 1).FillBytes(make([]byte, n))
	if bytes.Compare(lo, key) >= 0 || bytes.Compare(key, hi) >= 0 {
		return nil
	}
	return key
}
