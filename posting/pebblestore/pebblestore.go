// Package pebblestore is the disk-resident posting.Store: postings live in
// one Pebble instance per data directory and are read with direct I/O.
//
// # Key layout
//
//	'm' + name            metadata blob (index manifest, routing tree)
//	'p' + uint32 BE id    encoded posting (see package posting)
//
// Postings are bulk-loaded by writing sorted sstables and ingesting them
// (never one Set per posting). Tables are written uncompressed (vectors do
// not compress) with no bloom filter (ingested tables land in the bottom
// level without overlap, so a point lookup touches one table) and a
// two-level index, so index blocks stay small in the block cache.
//
// Reads of .sst files go through internal/directio: O_DIRECT with aligned
// buffers, so the OS page cache does not grow during search; Pebble's block
// cache, sized by Options.CacheBytes, is the only cache.
package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/posting"
)

const (
	prefixMeta    = 'm'
	prefixPosting = 'p'
	// blockSize is the sstable data block target: small, so that a posting
	// of a few KiB is a block of its own and one posting is one read.
	blockSize = 4 << 10
	// tableTarget is the size at which the bulk writer starts a new sstable.
	tableTarget = 64 << 20
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// CacheBytes bounds Pebble's block cache, the only cache of posting
	// bytes: the memory budget for postings. Default 64 MiB.
	CacheBytes int64
	// BufferedIO turns direct I/O off (reads go through the OS page cache).
	// For experiments only.
	BufferedIO bool
	// ReadOnly opens the database without allowing writes.
	ReadOnly bool
}

// EnsureDefaults fills unset fields with defaults.
func (o *Options) EnsureDefaults() {
	if o.CacheBytes <= 0 {
		o.CacheBytes = 64 << 20
	}
}

// Store is a posting.Store on Pebble. It is safe for concurrent use.
type Store struct {
	dir   string
	db    *pebble.DB
	cache interface{ Unref() }
	io    directio.Stats
	opts  Options
}

var _ posting.Store = (*Store)(nil)

// Open opens or creates the Pebble database in dir.
func Open(dir string, o *Options) (*Store, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.EnsureDefaults()
	s := &Store{dir: dir, opts: opts}
	var fs vfs.FS = vfs.Default
	if !opts.BufferedIO {
		fs = directio.NewFS(vfs.Default, &s.io)
	}
	cache := pebble.NewCache(opts.CacheBytes)
	po := &pebble.Options{
		FS:           fs,
		Cache:        cache,
		ReadOnly:     opts.ReadOnly,
		MemTableSize: 4 << 20,
		Logger:       quietLogger{},
	}
	for i := range po.Levels {
		l := &po.Levels[i]
		l.BlockSize = blockSize
		l.IndexBlockSize = blockSize
		l.FilterPolicy = nil
		l.Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	db, err := pebble.Open(dir, po)
	cache.Unref()
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	s.db = db
	return s, nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

func postingKey(buf []byte, id uint32) []byte {
	buf = append(buf[:0], prefixPosting, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(buf[1:], id)
	return buf
}

func metaKey(key string) []byte {
	return append([]byte{prefixMeta}, key...)
}

// Read implements posting.Store.
func (s *Store) Read(id uint32, fn func([]byte) error) error {
	var kb [5]byte
	v, closer, err := s.db.Get(postingKey(kb[:0], id))
	if errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("posting %d: %w", id, posting.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("posting %d: %w", id, err)
	}
	defer closer.Close()
	return fn(v)
}

// Scan implements posting.Store.
func (s *Store) Scan(fn func(uint32, []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixPosting},
		UpperBound: []byte{prefixPosting + 1},
	})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 5 {
			return fmt.Errorf("pebblestore: bad posting key %x", k)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(binary.BigEndian.Uint32(k[1:]), v); err != nil {
			return err
		}
	}
	return it.Error()
}

// GetMeta implements posting.Store.
func (s *Store) GetMeta(key string) ([]byte, error) {
	v, closer, err := s.db.Get(metaKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("meta %q: %w", key, posting.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("meta %q: %w", key, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// SetMeta implements posting.Store. The write is synced to the WAL.
func (s *Store) SetMeta(key string, value []byte) error {
	return s.db.Set(metaKey(key), value, pebble.Sync)
}

// Stats implements posting.Store.
func (s *Store) Stats() posting.Stats {
	c := s.io.Snapshot()
	m := s.db.Metrics()
	return posting.Stats{
		ReadOps:       c.ReadOps,
		ReadBytes:     c.ReadBytes,
		CacheHits:     m.BlockCache.Hits,
		CacheMisses:   m.BlockCache.Misses,
		CacheBytes:    m.BlockCache.Size,
		CacheCapacity: s.opts.CacheBytes,
		DirectIO:      !s.opts.BufferedIO && c.DirectFiles > 0 && c.BufferedFallbacks == 0,
	}
}

// DropPageCache asks the kernel to drop cached pages of the store's
// sstables (they are cached after being written). Best effort.
func (s *Store) DropPageCache() error {
	ms, err := filepath.Glob(filepath.Join(s.dir, "*.sst"))
	if err != nil {
		return err
	}
	var first error
	for _, m := range ms {
		if err := directio.DropCache(m); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// TableFiles returns the paths of the store's sstables.
func (s *Store) TableFiles() ([]string, error) {
	return filepath.Glob(filepath.Join(s.dir, "*.sst"))
}

// Close implements posting.Store.
func (s *Store) Close() error {
	return s.db.Close()
}

// NewBulkWriter implements posting.Store. Staged tables are written to a
// temporary directory inside the data directory and ingested by Commit.
func (s *Store) NewBulkWriter() (posting.BulkWriter, error) {
	tmp, err := os.MkdirTemp(s.dir, "ingest-")
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	return &bulkWriter{s: s, tmp: tmp, last: -1}, nil
}

type bulkWriter struct {
	s     *Store
	tmp   string
	paths []string
	w     *sstable.Writer
	size  int64
	last  int64
	key   []byte
	done  bool
}

func (w *bulkWriter) Add(id uint32, encoded []byte) error {
	if w.done {
		return errors.New("pebblestore: bulk writer already finished")
	}
	if int64(id) <= w.last {
		return fmt.Errorf("pebblestore: bulk add of posting %d after %d: ids must increase", id, w.last)
	}
	w.last = int64(id)
	if w.w == nil {
		if err := w.startTable(); err != nil {
			return err
		}
	}
	w.key = postingKey(w.key, id)
	if err := w.w.Set(w.key, encoded); err != nil {
		return fmt.Errorf("pebblestore: write posting %d: %w", id, err)
	}
	w.size += int64(len(encoded) + len(w.key))
	if w.size >= tableTarget {
		return w.finishTable()
	}
	return nil
}

func (w *bulkWriter) startTable() error {
	path := filepath.Join(w.tmp, fmt.Sprintf("%06d.sst", len(w.paths)))
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	w.w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{
		BlockSize:      blockSize,
		IndexBlockSize: blockSize,
		Compression:    sstable.NoCompression,
		TableFormat:    w.s.db.TableFormat(),
	})
	w.paths = append(w.paths, path)
	w.size = 0
	return nil
}

func (w *bulkWriter) finishTable() error {
	if w.w == nil {
		return nil
	}
	err := w.w.Close()
	w.w = nil
	if err != nil {
		return fmt.Errorf("pebblestore: finish table: %w", err)
	}
	return nil
}

func (w *bulkWriter) Commit() error {
	if w.done {
		return errors.New("pebblestore: bulk writer already finished")
	}
	w.done = true
	defer os.RemoveAll(w.tmp)
	if err := w.finishTable(); err != nil {
		return err
	}
	if len(w.paths) == 0 {
		return nil
	}
	if err := w.s.db.Ingest(context.Background(), w.paths); err != nil {
		return fmt.Errorf("pebblestore: ingest %d tables: %w", len(w.paths), err)
	}
	return nil
}

func (w *bulkWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	if w.w != nil {
		_ = w.w.Close()
		w.w = nil
	}
	_ = os.RemoveAll(w.tmp)
}

// quietLogger drops Pebble's informational logs; errors still surface as
// returned errors. Fatalf must not return.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
