// Package index is Shoal's embedded API: build a disk-resident SPANN index
// of a vector data set (or create an empty one), open it, search it and
// update it in place.
//
//	m, err := index.Build(dir, index.SliceSource(data, dim), nil)
//	ix, err := index.Open(dir, nil)
//	defer ix.Close()
//	res, err := ix.Search(query, 10, nil)
//	err = ix.Upsert([]uint64{42}, [][]float32{v})
//	n, err := ix.Delete([]uint64{7})
//
// Heads (centroids of a hierarchical balanced k-means tree) stay in memory
// and route each query to NProbe posting lists, which are read from disk
// with direct I/O, all of a query's reads in one batched AIO submission,
// through a bounded cache (Options.CacheBytes). A data directory holds one
// Pebble database (manifest, posting directory, update log), the posting
// segment files, the tree file and the build's vectors; see package
// pebblestore and docs/decisions.md.
//
// # Updates
//
// Updates follow SPFresh (SOSP 2023). Every vector has a one-byte version;
// every copy of it in a posting carries the version it was written at, and
// copies whose version is not current are skipped. Upsert routes a vector
// like Build, and appends a copy to the tail of each chosen posting: one
// Pebble batch (the write-ahead log makes it durable), and an in-memory
// tail that searches score with the posting. A background maintainer folds
// tails into their postings (dropping stale copies), splits postings that
// grow past PostingCap by balanced 2-means (the tree gets the new head),
// re-inserts vectors that a split brought closer to another head
// (SPFresh's reassign), and merges postings that shrink away. Every
// step is one atomic batch and the tree's edits are logged, so a crash
// never loses an acknowledged write and a restart resumes maintenance.
// Check verifies all of it. A write-ahead log damaged before its last
// synced write makes Open fail (ErrCorrupt) rather than drop acknowledged
// writes; Repair salvages such an index (docs/reliability.md).
//
// # Files
//
// The Index is a coordinator over concepts that each own their state:
//
//   - index.go (Index, Open, Close, Stats), options.go, errors.go,
//     manifest.go, shared.go (SharedDB, Drop), inspect.go;
//   - build: build.go, create.go over package index/internal/build;
//   - search: search.go (route, prune, read, score), search_filter.go (the
//     label-filter planner), search_tenant.go, search_gpu.go (SearchBatch's
//     routing on a device);
//   - write path: update.go (Upsert, Delete, Get), versions.go (the
//     version map), vectors.go (stored vectors, package
//     index/internal/vectors), posting tails (package
//     index/internal/tail), labels.go (package filter's Labels),
//     labelnames.go (the label-name dictionary), payloads.go (JSON
//     payloads), payloadlabels.go (labels derived from indexed payload
//     fields), tenants.go (package tenant's Curator);
//   - maintenance: maintain.go (the maintainer), fold.go, split.go,
//     reinsert.go, reassign.go, sweep.go, compact.go, retire.go,
//     publish.go (publishing to searches in flight), the tree's
//     persistence (package index/internal/treelog), invariants.go;
//   - snapshots: checkpoint.go (Checkpoint, Restore: physical copies),
//     snapshot.go (reads for logical ones); verification: check.go; repair.go
//     (salvaging a damaged write-ahead log).
//
// docs/architecture.md walks a query and an upsert through them.
//
// # Concurrency
//
// Build and Create run alone on their directory. An open Index serves
// Search, SearchBatch, SearchWithStats, Get, Upsert, Delete, Stats and
// WarmCache from any number of goroutines; writers are serialised among
// themselves (one writer mutex), never with searches. What a search sees
// of a write that overlaps it is per vector, not per batch: for each id
// it sees the old copies or the new ones, never neither once the write
// returned and never a stale one after it (publish.go), but it may see
// some ids of a batch at their new values and others at their old.
// Maintenance's splits and merges never hide a vector from a search in
// flight (a grace period, internal/epoch). Close must not overlap them.
package index

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/index/internal/tail"
	"github.com/shoaldb/shoal/index/internal/treelog"
	"github.com/shoaldb/shoal/index/internal/vectors"
	"github.com/shoaldb/shoal/internal/epoch"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/tenant"
)

// Index is an open index. Search, SearchBatch, Stats and the accessors are
// safe for concurrent use; Close must not run concurrently with them.
type Index struct {
	// Fixed at Open.
	dir      string
	opts     Options
	man      *Manifest
	rowBytes int
	rule     cluster.ReplicaRule
	pool     sync.Pool // *workspace
	closed   atomic.Bool
	// routing admits upserts to route their vectors: GOMAXPROCS−1 at a
	// time (at least one), so that a bulk load from many writers leaves a
	// core to searches and maintenance.
	routing chan struct{}
	// holds records maintenance's holds of wmu; heldSince is when the
	// current one began (guarded by wmu).
	holds     holdHist
	heldSince time.Time

	// The layers below, each safe for concurrent use on its own: the
	// posting store, the stored vectors, tenants (package tenant), labels
	// (package filter) and SearchBatch's device (gpu.Router).
	store   posting.Store
	vectors *vectors.Store
	// qs is the quantizer of a quantized index (quant.go), nil otherwise.
	qs  *quantState
	ten *tenant.Curator
	lab *filter.Labels
	dev *gpu.Router
	// names is the label-name dictionary (labelnames.go); fields the
	// indexed payload fields (payloadlabels.go); hasPayloads whether a
	// payload was ever stored (deletes then stage their removal).
	names       *labelNames
	fields      atomic.Pointer[[]string]
	hasPayloads atomic.Bool

	// Routing state: searches read it (search.go), the write path and
	// maintenance publish into it. rmu guards tree and tails: searches
	// hold it shared while they route and pick up tails, writers
	// exclusively while they publish a change (never across I/O). treeGen
	// counts tree changes, changed under rmu.
	rmu     sync.RWMutex
	tree    *cluster.Tree
	tails   *tail.Set
	treeGen atomic.Uint64
	// Publishing to searches in flight (publish.go): their grace periods,
	// and the versions of the ids maintenance is re-placing.
	readers epoch.Readers
	pending atomic.Pointer[pendingSet]

	// Writer state. wmu serialises writers (upserts, deletes, tenant and
	// label writes, and maintenance's commits) and guards seq (the last
	// update-log sequence used), tlog (the tree's persistence: its file
	// and records, package treelog), nextPosting (the lowest posting id no
	// head or shortlist has used) and the writes of vers; searches read
	// vers and live without it.
	wmu         sync.Mutex
	seq         uint64
	tlog        *treelog.Log
	nextPosting uint32
	vers        *versionMap
	live        atomic.Int64

	// maint runs background maintenance (maintain.go); retiredAtOpen
	// counts the retire records Open completed (retire.go).
	maint         *maintainer
	retiredAtOpen int

	ctr counters
}

// counters are the cumulative counts Stats reports; atomics, updated by
// whoever does the work.
type counters struct {
	queries      atomic.Int64
	postingsRead atomic.Int64
	vectorsRead  atomic.Int64
	upserts      atomic.Int64
	deletes      atomic.Int64
	splits       atomic.Int64
	merges       atomic.Int64
	reinserts    atomic.Int64
	reassigned   atomic.Int64
	busy         atomic.Int64
}

// Open opens the index built in dir. Options fields marked (build) are
// ignored; the index's own values apply.
func Open(dir string, o *Options) (*Index, error) {
	opts, err := resolveOptions(o)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoIndex, err)
	}
	store, err := openStore(dir, &opts, &pebblestore.Options{CacheBytes: opts.CacheBytes, BufferedIO: opts.BufferedIO})
	if err != nil {
		return nil, withRepairHint(dir, err)
	}
	ix, err := open(dir, opts, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	// Open's transient allocations (read buffers of the tree stream, the
	// label and tenant records, the update log's replay) are garbage now;
	// hand them back so that the resident memory of an open index is what
	// it keeps (docs/memory.md: Open peaks ~6 % above what it keeps at 1M).
	debug.FreeOSMemory()
	return ix, nil
}

func open(dir string, opts Options, store posting.Store) (*Index, error) {
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
	opts.Metric = man.Metric
	if man.PostingCap > 0 {
		opts.PostingCap = man.PostingCap
	}
	ix := &Index{dir: dir, opts: opts, man: man, store: store, rowBytes: man.Dim * man.Elem.Size(),
		routing: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))}
	z, err := newQuantizer(man)
	if err != nil {
		return nil, err
	}
	if z != nil {
		ix.qs = newQuantState(z)
	}
	tree, tlog, seq, err := treelog.Load(store, dir)
	if err != nil {
		return nil, err
	}
	if tree.Dim != man.Dim {
		return nil, fmt.Errorf("%w: tree has dim %d, manifest %d", ErrCorrupt, tree.Dim, man.Dim)
	}
	ix.tree, ix.tlog, ix.seq = tree, tlog, seq
	ix.opts.UpdateBuffer = opts.updateBuffer(tree.LiveLeaves())
	ix.rule = cluster.ReplicaRule{Replicas: man.Replicas, RNGFactor: man.RNGFactor, ClosureEpsilon: opts.ClosureEpsilon, Closure: man.Metric != InnerProduct}
	ix.pool.New = func() any { return newWorkspace(ix) }
	if err = ix.openVectors(); err != nil {
		return nil, err
	}
	err = ix.recoverUpdates()
	if err == nil {
		err = ix.loadTenants()
	}
	if err == nil {
		err = ix.loadLabels()
	}
	if err == nil {
		err = ix.loadLabelNames()
	}
	if err == nil {
		err = ix.loadPayloadState()
	}
	if err == nil {
		err = ix.finishRetired()
	}
	if err != nil {
		ix.vectors.Close()
		return nil, err
	}
	ix.dev = gpu.NewRouter(opts.GPU, opts.GPUBackend, opts.Logf)
	ix.maint = newMaintainer(ix)
	ix.maint.paused.Store(opts.MaintenancePaused)
	ix.maint.start()
	return ix, nil
}

// Close stops background maintenance (a unit of work in progress
// finishes first) and releases the index. Unfolded tails stay in the
// update log and are picked up by the next Open.
func (ix *Index) Close() error {
	if !ix.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	ix.maint.stop()
	devErr := ix.dev.Close()
	ix.vectors.Close()
	return errors.Join(ix.store.Close(), devErr)
}

// Dir returns the index directory.
func (ix *Index) Dir() string { return ix.dir }

// Manifest returns the index's build record.
func (ix *Index) Manifest() Manifest { return *ix.man }

// elem returns the element type as the layers below index take it.
func (ix *Index) elem() vec.ElemType { return vec.ElemType(ix.man.Elem) }

// Dim returns the vector dimension.
func (ix *Index) Dim() int { return ix.man.Dim }

// Len returns the number of vectors the index holds now.
func (ix *Index) Len() int { return int(ix.live.Load()) }

// Stats are cumulative counters of an open index.
type Stats struct {
	Queries      int64
	PostingsRead int64
	VectorsRead  int64
	// Upserted and Deleted count vectors written and removed since Open.
	Upserted int64
	Deleted  int64
	// Live is the number of vectors held; Heads the number of postings.
	Live  int64
	Heads int
	// TailBytes is the memory the posting tails (upserted copies not yet
	// folded) hold, UpdateBuffer their budget (Options.UpdateBuffer);
	// Folds counts postings rewritten by maintenance.
	TailBytes    int64
	UpdateBuffer int64
	Folds        int64
	// MaintLockP99 and MaintLockMax are the 99th percentile (the upper
	// bound of its power-of-two bucket) and the longest of the writer-lock
	// holds of background maintenance (the publish steps of splits,
	// merges and re-inserts): how long an upsert may wait behind it.
	MaintLockP99, MaintLockMax time.Duration
	// Splits and Merges count postings split and merged away; Reinserted
	// the vectors a merge placed again.
	Splits     int64
	Merges     int64
	Reinserted int64
	// Reassigned counts vectors moved by the reassign step after splits.
	Reassigned int64
	// Busy counts writes refused with ErrBusy (Options.WriteStall).
	Busy int64
	// Swept counts postings the garbage-collection sweep rewrote;
	// Compacted the live posting bytes segment compaction moved.
	Swept     int64
	Compacted int64
	// ReadOps and ReadBytes count device reads issued for searches (direct
	// I/O reads of aligned pages): of postings, and of rows to rerank in a
	// quantized index, which RerankReads and RerankBytes count apart.
	ReadOps     int64
	ReadBytes   int64
	RerankReads int64
	RerankBytes int64
	// CacheHits and CacheMisses count posting-cache lookups; CacheBytes is
	// the memory the cache holds now, CacheCapacity its bound.
	CacheHits     int64
	CacheMisses   int64
	CacheBytes    int64
	CacheCapacity int64
	// DirectIO reports whether posting files are read with O_DIRECT.
	DirectIO bool
	// Bytes written since Open: posting bytes to segment files, and the
	// Pebble database's write-ahead log, memtable flushes and compactions
	// (an index in a shared database reports the database's totals).
	SegmentWrites, WALWrites, FlushWrites, CompactWrites int64
}

// Stats returns counters since Open. Differences of two snapshots give
// per-query numbers such as bytes read from disk per query.
func (ix *Index) Stats() Stats {
	return Stats{
		Queries:      ix.ctr.queries.Load(),
		PostingsRead: ix.ctr.postingsRead.Load(),
		VectorsRead:  ix.ctr.vectorsRead.Load(),
		Upserted:     ix.ctr.upserts.Load(),
		Deleted:      ix.ctr.deletes.Load(),
		Live:         ix.live.Load(),
		Heads:        ix.liveLeaves(),
		TailBytes:    ix.tails.Bytes(),
		UpdateBuffer: ix.opts.UpdateBuffer,
		MaintLockP99: ix.holds.quantile(0.99),
		MaintLockMax: time.Duration(ix.holds.max.Load()),
		Folds:        ix.maint.folded.Load(),
		Splits:       ix.ctr.splits.Load(),
		Merges:       ix.ctr.merges.Load(),
		Reinserted:   ix.ctr.reinserts.Load(),
		Reassigned:   ix.ctr.reassigned.Load(),
		Busy:         ix.ctr.busy.Load(),
		Swept:        ix.maint.swept.Load(),
		Compacted:    ix.maint.compacted.Load(),
	}.withStore(ix.store.Stats()).withRerank(ix.vectors)
}

// withRerank adds the direct reads of rows for the rerank of a quantized
// index to the device reads.
func (st Stats) withRerank(v *vectors.Store) Stats {
	ops, bytes := v.DirectStats()
	st.RerankReads, st.RerankBytes = ops, bytes
	st.ReadOps += ops
	st.ReadBytes += bytes
	return st
}

func (st Stats) withStore(ps posting.Stats) Stats {
	st.ReadOps, st.ReadBytes = ps.ReadOps, ps.ReadBytes
	st.CacheHits, st.CacheMisses = ps.CacheHits, ps.CacheMisses
	st.CacheBytes, st.CacheCapacity, st.DirectIO = ps.CacheBytes, ps.CacheCapacity, ps.DirectIO
	st.SegmentWrites, st.WALWrites, st.FlushWrites, st.CompactWrites = ps.SegmentWrites, ps.WALWrites, ps.FlushWrites, ps.CompactWrites
	return st
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
	n := ix.numLeaves()
	for p := 0; p < n; p++ {
		ids = append(ids, uint32(p))
		if len(ids) < chunk && p+1 < n {
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
