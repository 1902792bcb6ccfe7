package posting

import "errors"

// ErrNotFound is returned for a posting, metadata key or caller key that is
// not stored.
var ErrNotFound = errors.New("posting: not found")

// Store keeps encoded postings by posting id, named metadata blobs, and the
// caller's own records: byte-string keys and values in key order (update
// logs, vector states), which a Batch commits atomically with posting
// rewrites. Metadata, caller records and postings are three separate
// spaces: a caller key never reads or deletes a metadata key of the same
// name. Implementations live in sub-packages (memstore, pebblestore) and
// pass the shared suite in storetest.
//
// All methods are safe for concurrent use, except that a BulkWriter or a
// Batch belongs to the one goroutine that uses it, and that Close must not
// run concurrently with, or be followed by, any other call.
type Store interface {
	// Read calls fn with the encoded posting id. The bytes are valid only
	// while fn runs and must not be modified. It returns ErrNotFound
	// (wrapped) if the posting does not exist, else fn's error.
	Read(id uint32, fn func(encoded []byte) error) error
	// ReadBatch reads the postings ids[i] together (one batched I/O
	// submission where the store is on disk) and calls fn(i, encoded) for
	// each posting that exists, in completion order, from the calling
	// goroutine. Missing postings are skipped. The bytes are valid only
	// while fn runs. It stops at fn's first error and returns it.
	ReadBatch(ids []uint32, fn func(i int, encoded []byte) error) error
	// Scan calls fn for every posting in increasing id order, with the same
	// lifetime rule as Read; it stops at fn's first error and returns it.
	// Each posting is read as it is when Scan reaches it: postings
	// committed or deleted during the scan may or may not be seen.
	Scan(fn func(id uint32, encoded []byte) error) error
	// NewBulkWriter starts a bulk load. Postings it adds become visible
	// together when Commit returns.
	NewBulkWriter() (BulkWriter, error)

	// GetMeta returns a copy of the metadata value stored under key, or
	// ErrNotFound (wrapped).
	GetMeta(key string) ([]byte, error)
	// SetMeta stores value under key durably: when it returns nil the value
	// survives a crash.
	SetMeta(key string, value []byte) error

	// Get returns a copy of the value of caller key key, or ErrNotFound
	// (wrapped).
	Get(key []byte) ([]byte, error)
	// GetSorted looks up caller keys, which must be strictly increasing,
	// on one consistent snapshot: on disk, a batch of nearby keys costs
	// about one scan of the blocks that hold them. It calls fn(i, value)
	// for each keys[i] that is stored, in increasing i; value is valid
	// only while fn runs and must not be modified. It stops at fn's first
	// error and returns it. Keys out of order or repeated are an error
	// (fn may have been called for the keys before them).
	GetSorted(keys [][]byte, fn func(i int, value []byte) error) error
	// ScanPrefix calls fn for every caller key starting with prefix (every
	// key, for an empty prefix), in key order, on one consistent snapshot.
	// key and value are valid only while fn runs and must not be
	// modified. It stops at fn's first error and returns it.
	ScanPrefix(prefix []byte, fn func(key, value []byte) error) error

	// NewBatch starts an atomic group of changes.
	NewBatch() Batch
	// SyncWAL makes every batch committed so far durable. Batches
	// committed without sync share one SyncWAL (group commit).
	SyncWAL() error

	// CompactSegment reclaims the space of postings that rewrites left
	// dead, a step at a time: it picks the file with the smallest share
	// of live posting bytes, if that share is below maxLive, moves its
	// live postings, one at least and then until about maxBytes have
	// moved, to where new postings go, and returns the live bytes moved
	// and whether a file qualified. Rewrites and deletes that commit
	// while it runs win: a move never brings back an older posting.
	// Stores that never leave dead bytes return found = false.
	CompactSegment(maxLive float64, maxBytes int64) (moved int64, found bool, err error)
	// DataFiles returns the paths of the files that hold posting bytes;
	// nil for a store that keeps none.
	DataFiles() []string
	// Verify reads every file the store keeps and checks every checksum
	// they hold: those of its database (tables, logs), and the zero
	// padding between postings (not the postings: see Verified.Postings).
	// It calls problem for each
	// damage found, with a description, until problem returns false. It
	// returns what it read, per kind of file; its error is a failure to
	// read, not damage. Other calls may run meanwhile: files they add or
	// drop are verified or skipped as Verify finds them. A store without
	// files returns nothing.
	Verify(problem func(string) bool) ([]Verified, error)
	// Stats reports I/O and cache counters since the store was opened.
	Stats() Stats
	// Close releases the store. A Batch still open may only be closed
	// afterwards, not committed.
	Close() error
}

// Batch is an atomic group of changes to a Store: caller records (Set,
// Delete, DeleteRange) and postings (PutPosting, DeletePosting), applied
// together by Commit.
//
// Visibility: nothing a Batch stages is visible before Commit, to readers
// or to the batch itself (a Batch cannot be read). When Commit returns nil
// every change is visible to every reader. While Commit runs a concurrent
// reader may see some of the changes and not yet others (pebblestore makes
// the caller records visible before the postings); callers that need a
// batch seen whole exclude readers themselves.
//
// Order: within a batch a later change of the same key or posting takes
// precedence over an earlier one (a Set after a DeleteRange that covers
// its key stands; a Set before it is deleted). Batches are applied in the
// order they commit; where two batches change the same key or posting,
// the later commit wins, in memory and after a restart alike.
//
// Durability: a crash never leaves part of a batch. See Commit.
//
// Copying: Set, Delete, DeleteOnce, DeleteRange and PutPosting copy their arguments;
// the caller may reuse them as soon as the call returns.
//
// Lifetime: a Batch is open until Commit or Close, then done. Every Batch
// must be committed or closed (Close after Commit does nothing, so defer
// Close). On a done Batch, PutPosting and Commit return an error, Len
// returns 0, and Set, Delete, DeleteOnce, DeleteRange and DeletePosting panic: staging
// into a finished batch is a bug of the caller.
//
// Thread-safety: a Batch is not safe for concurrent use. Any number of
// Batches may be open and committed concurrently.
type Batch interface {
	// Set stores value under caller key key.
	Set(key, value []byte)
	// Delete deletes caller key key; deleting a missing key is not an
	// error.
	Delete(key []byte)
	// DeleteOnce deletes caller key key, which must have been Set exactly
	// once since it was last deleted (or ever): keys written once, such as
	// log records under increasing sequence numbers. A disk store may then
	// drop the key and its deletion together as soon as they meet, rather
	// than carry the deletion down its levels. Deleting a key Set twice
	// with DeleteOnce may bring back the older value: use Delete.
	DeleteOnce(key []byte)
	// DeleteRange deletes the caller keys in [start, end); a nil end
	// means no upper bound, an empty start the first key. A range with
	// start ≥ end deletes nothing. Metadata and postings are untouched.
	DeleteRange(start, end []byte)
	// PutPosting stages encoded (not empty) as posting id, replacing any
	// previous one when Commit returns. A disk store may write the bytes
	// at once; they are garbage until Commit. It returns an error for an
	// empty posting, an id above the store's limit, a failed write, or a
	// done batch.
	PutPosting(id uint32, encoded []byte) error
	// DeletePosting deletes posting id when Commit returns; deleting a
	// missing posting is not an error.
	DeletePosting(id uint32)
	// Len returns the approximate encoded size in bytes of the caller
	// records staged (postings do not count), for callers that bound the
	// size of their batches: 0 for a batch without records, and for a
	// done batch.
	Len() int
	// Commit applies the batch atomically. A batch that holds a
	// PutPosting, or is committed with sync set, is durable when Commit
	// returns nil; any other batch becomes durable with the next SyncWAL
	// or synced commit, and a crash before that loses it whole, along
	// with the later ones. After Commit, successful or not, the batch is
	// done.
	Commit(sync bool) error
	// Close discards the batch if it was not committed. Close after Commit
	// does nothing.
	Close()
}

// BulkWriter loads many postings at once (offline build). It is not safe for
// concurrent use.
type BulkWriter interface {
	// Add stages the encoded posting id (not empty). Ids must be strictly
	// increasing within one BulkWriter; the writer may keep a reference to
	// encoded only until Add returns.
	Add(id uint32, encoded []byte) error
	// Commit makes every staged posting visible, replacing postings with the
	// same ids; other postings stay. After Commit the writer must not be
	// used.
	Commit() error
	// Abort discards staged postings and temporary files.
	Abort()
}

// Verified is what Store.Verify read of one kind of file.
type Verified struct {
	// Kind names the files, e.g. "sstables".
	Kind string
	// Files is how many were read.
	Files int
	// Bytes is how many of their bytes checksums were verified over
	// (including the checksums themselves and fixed padding checked for
	// its value); Unverified how many no checksum covers or failed their
	// checks (which Verify reported), and Note what those are.
	Bytes      int64
	Unverified int64
	Note       string
	// Postings is how many of the files' bytes are postings, in neither
	// count above: a store does not parse postings, the caller checks
	// them (posting.Decode checks a posting's CRC-32C).
	Postings int64
}

// Stats are cumulative counters of a Store.
type Stats struct {
	// ReadOps and ReadBytes count device reads issued for postings (direct
	// I/O reads of aligned pages); zero for in-memory stores.
	ReadOps   int64
	ReadBytes int64
	// CacheHits and CacheMisses count posting-cache lookups.
	CacheHits   int64
	CacheMisses int64
	// CacheBytes is the memory the cache holds now; CacheCapacity its bound.
	CacheBytes    int64
	CacheCapacity int64
	// DirectIO reports whether posting files are read with O_DIRECT.
	DirectIO bool
	// SegmentWrites counts the posting bytes written to segment files;
	// WALWrites, FlushWrites and CompactWrites the bytes the database
	// wrote to its write-ahead log, by memtable flushes and by
	// compactions (for a store in a shared database: the database's
	// totals). Zero for in-memory stores.
	SegmentWrites, WALWrites, FlushWrites, CompactWrites int64
}
