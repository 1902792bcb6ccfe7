// Package index is Shoal's embedded API: build a disk-resident SPANN index
// of a vector data set, open it, and search it.
//
//	m, err := index.Build(dir, index.SliceSource(data, dim), nil)
//	ix, err := index.Open(dir, nil)
//	defer ix.Close()
//	res, err := ix.Search(query, 10, nil)
//
// Heads (centroids of a hierarchical balanced k-means tree) stay in memory
// and route each query to NProbe posting lists, which are read from disk
// with direct I/O, all of a query's reads in one batched AIO submission,
// through a bounded cache (Options.CacheBytes). A data directory holds one
// Pebble database (manifest, posting directory), the posting segment files
// and the tree file; see package pebblestore and docs/decisions.md.
//
// # Concurrency
//
// Build runs alone on its directory. An open Index serves Search,
// SearchBatch, SearchWithStats, Stats and WarmCache from any number of
// goroutines; Close must not overlap them.
package index

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// Index is an open index. Search, SearchBatch, Stats and the accessors are
// safe for concurrent use; Close must not run concurrently with them.
type Index struct {
	dir    string
	opts   Options
	man    *Manifest
	tree   *cluster.Tree
	store  *pebblestore.Store
	pool   sync.Pool // *workspace
	closed atomic.Bool

	queries      atomic.Int64
	postingsRead atomic.Int64
	vectorsRead  atomic.Int64
}

// Open opens the index built in dir. Options fields marked (build) are
// ignored; the index's own values apply.
func Open(dir string, o *Options) (*Index, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoIndex, err)
	}
	store, err := pebblestore.Open(dir, &pebblestore.Options{CacheBytes: opts.CacheBytes, BufferedIO: opts.BufferedIO})
	if err != nil {
		return nil, err
	}
	ix, err := open(dir, opts, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	// Loading the tree leaves its encoded copies as garbage as large as the
	// tree itself; hand it back now so that the resident memory of an open
	// index is what it keeps.
	debug.FreeOSMemory()
	return ix, nil
}

func open(dir string, opts Options, store *pebblestore.Store) (*Index, error) {
	mb, err := store.GetMeta(metaManifest)
	if errors.Is(err, posting.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s (was its build interrupted?)", ErrNoIndex, dir)
	}
	if err != nil {
		return nil, err
	}
	man, err := unmarshalManifest(mb)
	if err != nil {
		return nil, err
	}
	tree, err := readTree(dir)
	if err != nil {
		return nil, err
	}
	if tree.Dim != man.Dim || tree.NumLeaves() != man.Heads {
		return nil, fmt.Errorf("%w: tree has dim %d and %d heads, manifest %d and %d", ErrCorrupt, tree.Dim, tree.NumLeaves(), man.Dim, man.Heads)
	}
	opts.Metric = man.Metric
	ix := &Index{dir: dir, opts: opts, man: man, tree: tree, store: store}
	ix.pool.New = func() any { return newWorkspace(ix) }
	return ix, nil
}

// Close releases the index.
func (ix *Index) Close() error {
	if !ix.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	return ix.store.Close()
}

// Dir returns the index directory.
func (ix *Index) Dir() string { return ix.dir }

// Manifest returns the index's build record.
func (ix *Index) Manifest() Manifest { return *ix.man }

// Dim returns the vector dimension.
func (ix *Index) Dim() int { return ix.man.Dim }

// Len returns the number of vectors indexed.
func (ix *Index) Len() int { return ix.man.Count }

// Tree returns the routing tree. It must not be modified.
func (ix *Index) Tree() *cluster.Tree { return ix.tree }

// ScanPostings calls fn with every posting, decoded, in id order; the
// posting is valid only during fn. For inspection tools.
func (ix *Index) ScanPostings(fn func(id uint32, p *posting.Posting) error) error {
	var p posting.Posting
	return ix.store.Scan(func(id uint32, b []byte) error {
		if err := posting.Decode(b, &p); err != nil {
			return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, id, err)
		}
		return fn(id, &p)
	})
}

// Stats are cumulative counters of an open index.
type Stats struct {
	Queries      int64
	PostingsRead int64
	VectorsRead  int64
	posting.Stats
}

// Stats returns counters since Open. Differences of two snapshots give
// per-query numbers such as bytes read from disk per query.
func (ix *Index) Stats() Stats {
	return Stats{
		Queries:      ix.queries.Load(),
		PostingsRead: ix.postingsRead.Load(),
		VectorsRead:  ix.vectorsRead.Load(),
		Stats:        ix.store.Stats(),
	}
}

// IndexFiles returns the paths of the files holding posting data (for
// page-cache residency checks).
func (ix *Index) IndexFiles() ([]string, error) { return ix.store.DataFiles(), nil }

// WarmCache reads postings in id order into the posting cache until the
// cache is full or holds every posting, so that a process whose budget is
// as large as the index serves queries from memory from the first one.
func (ix *Index) WarmCache() error {
	if ix.closed.Load() {
		return ErrClosed
	}
	const chunk = 256
	ids := make([]uint32, 0, chunk)
	for p := 0; p < ix.tree.NumLeaves(); p++ {
		ids = append(ids, uint32(p))
		if len(ids) < chunk && p+1 < ix.tree.NumLeaves() {
			continue
		}
		if err := ix.store.ReadBatch(ids, func(int, []byte) error { return nil }); err != nil {
			return err
		}
		ids = ids[:0]
		if st := ix.store.Stats(); st.CacheCapacity == 0 || st.CacheBytes >= st.CacheCapacity-st.CacheCapacity/64 {
			break
		}
	}
	return nil
}
