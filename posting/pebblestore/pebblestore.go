// Package pebblestore is the disk-resident posting.Store: one Pebble
// instance per data directory holds the metadata, the posting directory
// and the caller's own records, and posting bytes live in append-only
// segment files beside it, read with direct I/O and batched Linux AIO.
// A Store has a Pebble database of its own (Open), or is a namespace of
// a DB that many Stores share (OpenDB, DB.OpenNamespace; shared.go): the
// same layout with every key behind the namespace's prefix.
//
// # Layout
//
//	DIR/                  the Pebble database
//	  'm' + name          metadata blob (the index manifest; the routing
//	                      tree is a file of its own, cluster.WriteFile)
//	  'm' + "postings"    the posting directory as of the last bulk load
//	                      (see directory.go)
//	  'p' + id (BE u32)   directory override written by a Batch: the
//	                      posting's 16-byte location, length 0 = deleted;
//	                      overrides win over the blob, and a bulk commit
//	                      folds them into it and deletes them
//	  'u' + key           caller records (Get, ScanPrefix, Batch.Set;
//	                      kinds in internal/keys)
//	DIR/postings-NNNNNN.seg
//	                      encoded postings, each starting on a 4 KiB
//	                      boundary and zero-padded to the next one. A bulk
//	                      load writes a new segment; Batch.PutPosting
//	                      appends to the active segment, created above
//	                      every number in use and rotated past
//	                      Options.SegmentBytes. A segment without live
//	                      postings is deleted; files that the directory
//	                      does not refer to are deleted at Open.
//
// Why postings are not Pebble values: a query reads a few dozen postings
// at once, and Pebble's read path issues one blocking pread per block. On
// the development VM a blocking 16 KiB O_DIRECT pread costs ~57 µs of CPU
// while the same reads submitted together with io_submit cost ~11 µs each
// (fio; docs/BENCHMARKS.md), so the store keeps Pebble for what it is good
// at (small durable records: metadata, the directory, update logs) and
// reads postings with one io_submit per query, SPTAG's way. Each posting
// read is one aligned contiguous read of ⌈len/4 KiB⌉ pages.
//
// Online updates (batch.go) rewrite single postings: the new bytes go to
// the active segment, then one Pebble batch, the commit point, switches
// the directory entry together with the caller's records.
//
// The only cache of posting bytes is the store's own LRU, bounded by
// Options.CacheBytes; direct I/O (for writes as well, where the file
// system allows) keeps the OS page cache out of it.
package pebblestore

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

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
	// bloomBits is the bits per key of the tables' Bloom filters.
	bloomBits = 10
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// CacheBytes bounds the posting cache: the memory budget for posting
	// bytes. Default 64 MiB; a negative value disables the cache.
	CacheBytes int64
	// BufferedIO reads through the OS page cache instead of direct I/O.
	// For experiments only.
	BufferedIO bool
	// SegmentBytes is the size past which the segment that online updates
	// append to is closed and a new one started. Default 256 MiB: only
	// closed segments are compacted (CompactSegment), so the active one's
	// dead bytes count against the disk an index takes.
	SegmentBytes int64
}

// EnsureDefaults fills unset fields with defaults.
func (o *Options) EnsureDefaults() {
	if o.CacheBytes == 0 {
		o.CacheBytes = 64 << 20
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = 256 << 20
	}
}

// Validate reports options that cannot be used.
func (o *Options) Validate() error {
	if o.SegmentBytes < 0 {
		return fmt.Errorf("pebblestore: SegmentBytes %d is negative", o.SegmentBytes)
	}
	return nil
}

// Store is a posting.Store on Pebble plus segment files, with online updates (Batch) and caller records (Get,
// ScanPrefix). It is safe for concurrent use.
//
// Lock order: commitMu, then appendMu, then mu.
type Store struct {
	dir string
	db  *logDB
	// ns prefixes every Pebble key of the store: empty for a store of its
	// own, a namespace's prefix in a shared DB (shared.go). shared is that
	// DB, nil for a store of its own.
	ns     []byte
	shared *DB
	// health is what the Pebble database reported outside the calls that
	// met it (health.go): shared with every store of a shared DB.
	health *health
	io     directio.Stats
	// written counts the posting bytes written to segment files.
	written atomic.Int64
	opts    Options
	cache   *postingCache
	mu      struct {
		sync.RWMutex
		// dir is replaced by a bulk commit and changed in place by Batch
		// commits, under the write lock; readers hold the read lock while
		// they look up locations and take segment references.
		dir directory
		// files are the open segments, by number.
		files map[uint32]*segment
	}
	// commitMu is held shared by Batch commits that change the directory
	// and exclusively by bulk commits.
	commitMu sync.RWMutex
	idLocks  idLocks
	// appendMu guards nextSeg, active, the write sides of segments and
	// the checkpoint pins.
	appendMu sync.Mutex
	nextSeg  uint32     // next unused segment number
	active   *segWriter // where PutPosting appends; nil until the first
	// pins counts the checkpoints in progress (checkpoint.go): while one
	// is, segments left without live postings are not deleted but kept
	// in pinnedDead, and the last checkpoint to finish deletes them.
	pins       int
	pinnedDead []uint32
	readers    chan *batchReader // free list: AIO contexts are kernel objects, not for sync.Pool
}

var (
	_ posting.Store = (*Store)(nil)
	_ posting.Batch = (*Batch)(nil)
)

// Open opens or creates the store in dir, with a Pebble database of its
// own. It deletes segment files that the directory does not refer to
// (left by interrupted bulk loads and by batches never committed). A
// directory that holds a shared DB is refused: open that with OpenDB.
func Open(dir string, o *Options) (*Store, error) {
	s, err := newStore(dir, o)
	if err != nil {
		return nil, err
	}
	s.health = new(health)
	db, err := openPebble(dir, &s.io, 16<<20, s.health)
	if err != nil {
		return nil, err
	}
	s.db = db
	if _, closer, err := db.Get(sharedMarkerKey); err == nil {
		closer.Close()
		s.Close()
		return nil, fmt.Errorf("%w: %s holds a shared DB (open it with OpenDB)", ErrWrongLayout, dir)
	}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// newStore returns a Store of dir with no Pebble database yet.
func newStore(dir string, o *Options) (*Store, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, readers: make(chan *batchReader, 64)}
	s.cache = newPostingCache(max(opts.CacheBytes, 0))
	s.mu.files = make(map[uint32]*segment)
	return s, nil
}

// load reads the posting directory and opens the segments.
func (s *Store) load() error {
	if err := s.loadDirectory(); err != nil {
		return err
	}
	return s.openSegments()
}

// loadDirectory reads the directory blob and applies the overrides.
func (s *Store) loadDirectory() error {
	b, err := s.GetMeta(metaDirectory)
	switch {
	case err == nil:
		if s.mu.dir, err = decodeDirectory(b); err != nil {
			return err
		}
	case !errors.Is(err, posting.ErrNotFound):
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: s.key(prefixOverride, nil),
		UpperBound: s.key(prefixOverride+1, nil),
	})
	if err != nil {
		return fmt.Errorf("pebblestore: directory overrides: %w", pebbleErr(err))
	}
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			break // reported by Close
		}
		id, l, err := decodeOverride(it.Key()[len(s.ns):], v)
		if err != nil {
			it.Close()
			return err
		}
		s.mu.dir.set(id, l)
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("pebblestore: directory overrides: %w", pebbleErr(err))
	}
	return nil
}

// openSegments opens the segments the directory refers to, counts their
// live bytes, deletes the other segment files (orphans) and picks the
// next segment number above all of them.
func (s *Store) openSegments() error {
	onDisk, err := s.segmentFiles()
	if err != nil {
		return err
	}
	used := s.mu.dir.segments()
	for _, num := range used {
		sg, err := s.openSegment(num)
		if err != nil {
			return err
		}
		s.mu.files[num] = sg
		fi, err := os.Stat(sg.path)
		if err != nil {
			return fmt.Errorf("pebblestore: %w", err)
		}
		sg.size.Store(fi.Size())
	}
	s.countLiveLocked()
	s.nextSeg = 1
	if len(used) > 0 {
		s.nextSeg = max(s.nextSeg, used[len(used)-1]+1)
	}
	for _, num := range onDisk {
		s.nextSeg = max(s.nextSeg, num+1)
		if _, ok := s.mu.files[num]; !ok {
			if err := os.Remove(s.segmentPath(num)); err != nil {
				return fmt.Errorf("pebblestore: delete orphan segment: %w", err)
			}
		}
	}
	return nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// key returns the Pebble key of the store's key prefix + rest: the
// namespace prefix (none for a store of its own) comes first.
func (s *Store) key(prefix byte, rest []byte) []byte {
	k := make([]byte, 0, len(s.ns)+1+len(rest))
	return append(append(append(k, s.ns...), prefix), rest...)
}

// metaKey returns the Pebble key of metadata key.
func (s *Store) metaKey(key string) []byte {
	return s.key(prefixMeta, []byte(key))
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
	return s.readBatch(ids, fn, true)
}

// readBatch is ReadBatch, through the posting cache or around it (no
// lookups, no insertions).
func (s *Store) readBatch(ids []uint32, fn func(int, []byte) error, cached bool) error {
	if err := s.healthErr(); err != nil {
		return err
	}
	r := s.getReader()
	defer s.putReader(r)
	for len(ids) > 0 {
		n := min(len(ids), maxBatch)
		if err := r.read(s, ids[:n], fn, cached); err != nil {
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

// Scan implements posting.Store. Each posting is read as it is when Scan
// reaches it: postings committed or deleted during the scan may or may
// not be seen. Scan reads the files, not the posting cache, and does not
// fill it: a scan of every posting would evict the ones searches use,
// and Check must see the bytes on disk.
func (s *Store) Scan(fn func(uint32, []byte) error) error {
	const chunk = 1024
	ids := make([]uint32, 0, chunk)
	for next := 0; ; {
		ids = ids[:0]
		s.mu.RLock()
		locs := s.mu.dir.locs
		for ; next < len(locs) && len(ids) < chunk; next++ {
			if locs[next].length != 0 {
				ids = append(ids, uint32(next))
			}
		}
		more := next < len(locs)
		s.mu.RUnlock()
		for _, id := range ids {
			// A posting deleted since the ids were listed is skipped.
			if err := s.readBatch([]uint32{id}, func(_ int, b []byte) error { return fn(id, b) }, false); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// GetMeta implements posting.Store.
func (s *Store) GetMeta(key string) ([]byte, error) {
	if err := s.healthErr(); err != nil {
		return nil, err
	}
	v, closer, err := s.db.Get(s.metaKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("meta %q: %w", key, posting.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("meta %q: %w", key, pebbleErr(err))
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// SetMeta implements posting.Store. The write is synced to the WAL.
func (s *Store) SetMeta(key string, value []byte) error {
	if err := s.healthErr(); err != nil {
		return err
	}
	if err := s.db.Set(s.metaKey(key), value, pebble.Sync); err != nil {
		return fmt.Errorf("meta %q: %w", key, pebbleErr(err))
	}
	return s.health.fatalErr()
}

// healthErr returns the error every call of s fails with once the
// database reported a fatal error or a corruption that may hold s's keys
// (health.go), else nil.
func (s *Store) healthErr() error {
	if !s.health.bad.Load() {
		return nil
	}
	if len(s.ns) == 0 {
		return s.health.err(nil, nil)
	}
	return s.health.err(s.ns, prefixEnd(s.ns))
}

// Stats implements posting.Store.
func (s *Store) Stats() posting.Stats {
	c := s.io.Snapshot()
	s.mu.RLock()
	direct := len(s.mu.files) > 0
	for _, sg := range s.mu.files {
		direct = direct && sg.file.Direct()
	}
	s.mu.RUnlock()
	st := posting.Stats{
		ReadOps:       c.ReadOps + c.FallbackReadOps,
		ReadBytes:     c.ReadBytes + c.FallbackReadBytes,
		CacheHits:     s.cache.hits.Load(),
		CacheMisses:   s.cache.misses.Load(),
		CacheBytes:    s.cache.size(),
		CacheCapacity: max(s.opts.CacheBytes, 0),
		DirectIO:      direct,
		SegmentWrites: s.written.Load(),
	}
	if m := s.db.Metrics(); m != nil {
		t := m.Total()
		st.WALWrites = int64(m.WAL.BytesWritten)
		st.FlushWrites = int64(t.TableBytesFlushed+t.BlobBytesFlushed) - int64(t.TableBytesIn)
		st.CompactWrites = int64(t.TableBytesCompacted + t.BlobBytesCompacted)
	}
	return st
}

// DataFiles returns the paths of the segment files, by segment number.
func (s *Store) DataFiles() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	nums := make([]uint32, 0, len(s.mu.files))
	for num := range s.mu.files {
		nums = append(nums, num)
	}
	slices.Sort(nums)
	out := make([]string, len(nums))
	for i, num := range nums {
		out[i] = s.segmentPath(num)
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

// Close implements posting.Store. Closing a namespace's Store leaves its
// shared DB open. It returns the error the store's calls fail with after
// a corruption or a fatal error (see health.go), if any, with the error
// of closing.
func (s *Store) Close() error {
	bad := s.healthErr()
	for {
		select {
		case r := <-s.readers:
			r.close()
			continue
		default:
		}
		break
	}
	s.appendMu.Lock()
	if s.active != nil {
		s.leave(s.active)
		s.active = nil
	}
	s.appendMu.Unlock()
	s.mu.Lock()
	for _, sg := range s.mu.files {
		sg.release()
	}
	s.mu.files = nil
	s.mu.Unlock()
	if s.shared != nil {
		s.shared.release(s)
		return bad
	}
	if s.db == nil {
		return bad
	}
	return errors.Join(bad, pebbleErr(s.db.Close()))
}
