package posting

import "errors"

// ErrNotFound is returned for a posting or metadata key that is not stored.
var ErrNotFound = errors.New("posting: not found")

// Store keeps encoded postings by posting id, plus named metadata blobs.
// Implementations live in sub-packages (memstore, pebblestore) and pass the
// shared suite in storetest.
//
// All methods are safe for concurrent use, except that a BulkWriter belongs
// to the one goroutine that created it.
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
	Scan(fn func(id uint32, encoded []byte) error) error
	// NewBulkWriter starts a bulk load. Postings it adds become visible
	// together when Commit returns.
	NewBulkWriter() (BulkWriter, error)
	// GetMeta returns a copy of the metadata value stored under key, or
	// ErrNotFound.
	GetMeta(key string) ([]byte, error)
	// SetMeta stores value under key durably: when it returns nil the value
	// survives a crash.
	SetMeta(key string, value []byte) error
	// Stats reports I/O and cache counters since the store was opened.
	Stats() Stats
	// Close releases the store. It is not safe to call other methods
	// concurrently with or after Close.
	Close() error
}

// BulkWriter loads many postings at once (offline build). It is not safe for
// concurrent use.
type BulkWriter interface {
	// Add stages the encoded posting id. Ids must be strictly increasing
	// within one BulkWriter; the writer may keep a reference to encoded
	// only until Add returns.
	Add(id uint32, encoded []byte) error
	// Commit makes every staged posting visible, replacing postings with the
	// same ids. After Commit the writer must not be used.
	Commit() error
	// Abort discards staged postings and temporary files.
	Abort()
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
}
