// Package pebblestore is the disk-resident posting.Store: one Pebble
// instance per data directory holds the metadata and the posting directory,
// and posting bytes live in append-only segment files beside it, read with
// direct I/O and batched Linux AIO.
//
// # Layout
//
//	DIR/                  the Pebble database
//	  'm' + name          metadata blob (index manifest, routing tree)
//	  'm' + "postings"    the posting directory (see directory.go)
//	DIR/postings-NNNNNN.seg
//	                      encoded postings, each starting on a 4 KiB
//	                      boundary and zero-padded to the next one
//
// Why postings are not Pebble values: a query reads a few dozen postings
// at once, and Pebble's read path issues one blocking pread per block. On
// the development VM a blocking 16 KiB O_DIRECT pread costs ~57 µs of CPU
// while the same reads submitted together with io_submit cost ~11 µs each
// (fio; docs/BENCHMARKS.md), so the store keeps Pebble for what it is good
// at (small durable metadata, and later the update log) and reads postings
// with one io_submit per query, SPTAG's way. Each posting read is one
// aligned contiguous read of ⌈len/4 KiB⌉ pages.
//
// The only cache of posting bytes is the store's own LRU, bounded by
// Options.CacheBytes; direct I/O keeps the OS page cache out of it.
package pebblestore

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/posting"
)

const (
	prefixMeta = 'm'
	// metaDirectory is the metadata key of the posting directory.
	metaDirectory = "postings"
	// pageSize is the alignment of postings in segment files.
	pageSize = 4096
	// maxBatch bounds the reads one AIO submission carries.
	maxBatch = 256
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// CacheBytes bounds the posting cache: the memory budget for posting
	// bytes. Default 64 MiB; a negative value disables the cache.
	CacheBytes int64
	// BufferedIO reads through the OS page cache instead of direct I/O.
	// For experiments only.
	BufferedIO bool
}

// EnsureDefaults fills unset fields with defaults.
func (o *Options) EnsureDefaults() {
	if o.CacheBytes == 0 {
		o.CacheBytes = 64 << 20
	}
}

// Store is a posting.Store on Pebble plus segment files. It is safe for
// concurrent use.
type Store struct {
	dir   string
	db    *pebble.DB
	io    directio.Stats
	opts  Options
	cache *postingCache
	mu    struct {
		sync.RWMutex
		// dirent and files are replaced (not modified) by Commit; readers
		// take the read lock only to look up locations.
		dir   directory
		files map[uint32]*directio.ReadFile
	}
	readers chan *batchReader // free list: AIO contexts are kernel objects, not for sync.Pool
}

var _ posting.Store = (*Store)(nil)

// Open opens or creates the store in dir.
func Open(dir string, o *Options) (*Store, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.EnsureDefaults()
	s := &Store{dir: dir, opts: opts, readers: make(chan *batchReader, 64)}
	s.cache = newPostingCache(max(opts.CacheBytes, 0))
	cache := pebble.NewCache(4 << 20)
	defer cache.Unref()
	po := &pebble.Options{
		FS:           directio.NewFS(vfs.Default, &s.io),
		Cache:        cache,
		MemTableSize: 4 << 20,
		Logger:       quietLogger{},
	}
	for i := range po.Levels {
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	s.db = db
	s.mu.files = make(map[uint32]*directio.ReadFile)
	b, err := s.GetMeta(metaDirectory)
	if err == nil {
		s.mu.dir, err = decodeDirectory(b)
	} else if errors.Is(err, posting.ErrNotFound) {
		err = nil
	}
	if err == nil {
		err = s.openSegments(s.mu.dir)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openSegments opens the segment files d refers to that are not open yet.
func (s *Store) openSegments(d directory) error {
	for _, seg := range d.segments() {
		if _, ok := s.mu.files[seg]; ok {
			continue
		}
		path := s.segmentPath(seg)
		var f *directio.ReadFile
		var err error
		if s.opts.BufferedIO {
			f, err = directio.OpenBufferedReadFile(path, &s.io)
		} else {
			f, err = directio.OpenReadFile(path, &s.io)
		}
		if err != nil {
			return fmt.Errorf("pebblestore: segment %d: %w", seg, err)
		}
		s.mu.files[seg] = f
	}
	return nil
}

func (s *Store) segmentPath(seg uint32) string {
	return filepath.Join(s.dir, fmt.Sprintf("postings-%06d.seg", seg))
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

func metaKey(key string) []byte {
	return append([]byte{prefixMeta}, key...)
}

// location returns where posting id lives.
func (s *Store) location(id uint32) (location, *directio.ReadFile, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.mu.dir.get(id)
	if !ok {
		return location{}, nil, false
	}
	return l, s.mu.files[l.seg], true
}

// Read implements posting.Store.
func (s *Store) Read(id uint32, fn func([]byte) error) error {
	found := false
	err := s.ReadBatch([]uint32{id}, func(_ int, b []byte) error {
		found = true
		return fn(b)
	})
	if err == nil && !found {
		return fmt.Errorf("posting %d: %w", id, posting.ErrNotFound)
	}
	return err
}

// ReadBatch implements posting.Store: cached postings are served first,
// the others are read with one AIO submission (or preads where AIO is
// unavailable) and handed to fn as they complete.
func (s *Store) ReadBatch(ids []uint32, fn func(int, []byte) error) error {
	r := s.getReader()
	defer s.putReader(r)
	for len(ids) > 0 {
		n := min(len(ids), maxBatch)
		if err := r.read(s, ids[:n], fn); err != nil {
			return err
		}
		ids = ids[n:]
		fn = offsetFn(fn, n)
	}
	return nil
}

// offsetFn shifts the index passed to fn by off (for chunked batches).
func offsetFn(fn func(int, []byte) error, off int) func(int, []byte) error {
	return func(i int, b []byte) error { return fn(i+off, b) }
}

func (s *Store) getReader() *batchReader {
	select {
	case r := <-s.readers:
		return r
	default:
		return newBatchReader(&s.io)
	}
}

func (s *Store) putReader(r *batchReader) {
	select {
	case s.readers <- r:
	default:
		r.close()
	}
}

// Scan implements posting.Store.
func (s *Store) Scan(fn func(uint32, []byte) error) error {
	s.mu.RLock()
	d := s.mu.dir
	s.mu.RUnlock()
	for id := range d.locs {
		if _, ok := d.get(uint32(id)); !ok {
			continue
		}
		if err := s.Read(uint32(id), func(b []byte) error { return fn(uint32(id), b) }); err != nil {
			return err
		}
	}
	return nil
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
	s.mu.RLock()
	direct := len(s.mu.files) > 0
	for _, f := range s.mu.files {
		direct = direct && f.Direct()
	}
	s.mu.RUnlock()
	return posting.Stats{
		ReadOps:       c.ReadOps + c.FallbackReadOps,
		ReadBytes:     c.ReadBytes + c.FallbackReadBytes,
		CacheHits:     s.cache.hits.Load(),
		CacheMisses:   s.cache.misses.Load(),
		CacheBytes:    s.cache.size(),
		CacheCapacity: max(s.opts.CacheBytes, 0),
		DirectIO:      direct,
	}
}

// DataFiles returns the paths of the segment files.
func (s *Store) DataFiles() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, seg := range s.mu.dir.segments() {
		out = append(out, s.segmentPath(seg))
	}
	return out
}

// DropPageCache asks the kernel to drop cached pages of the segment files
// (they are cached after being written). Best effort.
func (s *Store) DropPageCache() error {
	var first error
	for _, p := range s.DataFiles() {
		if err := directio.DropCache(p); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close implements posting.Store.
func (s *Store) Close() error {
	for {
		select {
		case r := <-s.readers:
			r.close()
			continue
		default:
		}
		break
	}
	s.mu.Lock()
	for _, f := range s.mu.files {
		f.Close()
	}
	s.mu.files = nil
	s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}

// quietLogger drops Pebble's informational logs; errors still surface as
// returned errors. Fatalf must not return.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
