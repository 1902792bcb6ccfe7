package index

import (
	"fmt"
	"runtime"
	"time"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/internal/rabitq"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

// UpdateBufferPerHead is the default Options.UpdateBuffer per posting: room
// for a few copies per posting before their fold.
const UpdateBufferPerHead = 2 << 10

// updateBuffer returns the tails' budget for an index of heads postings:
// o's, or the default.
func (o *Options) updateBuffer(heads int) int64 {
	if o.UpdateBuffer > 0 {
		return o.UpdateBuffer
	}
	return min(max(int64(heads)*UpdateBufferPerHead, 32<<20), 1<<30)
}

// ElemType is the element type vectors are stored in.
type ElemType uint8

// Element types.
const (
	Float32 = ElemType(vec.Float32)
	Uint8   = ElemType(vec.Uint8)
	Int8    = ElemType(vec.Int8)
	Float16 = ElemType(vec.Float16)
)

// Size returns the bytes one element takes.
func (e ElemType) Size() int { return vec.ElemType(e).Size() }

// String returns the type's name as ParseElemType reads it.
func (e ElemType) String() string { return vec.ElemType(e).String() }

// Valid reports whether e is one of the element types.
func (e ElemType) Valid() bool { return vec.ElemType(e).Valid() }

// ParseElemType returns the element type named s ("float32", "uint8",
// "int8", "float16", and their short spellings).
func ParseElemType(s string) (ElemType, error) {
	e, err := vec.ParseElemType(s)
	return ElemType(e), err
}

// Metric is the distance an index ranks by.
type Metric uint8

// Metrics. Distances returned by Search are squared L2 for L2, −dot for
// InnerProduct, and 1 − cosine similarity for Cosine (vectors are
// normalised at ingest and at query time).
const (
	L2           = Metric(vec.L2)
	InnerProduct = Metric(vec.InnerProduct)
	Cosine       = Metric(vec.Cosine)
)

// String returns the metric's name as ParseMetric reads it.
func (m Metric) String() string { return vec.Metric(m).String() }

// Valid reports whether m is one of the metrics.
func (m Metric) Valid() bool { return vec.Metric(m).Valid() }

// ParseMetric returns the metric named s ("l2", "ip", "cosine", …).
func ParseMetric(s string) (Metric, error) {
	m, err := vec.ParseMetric(s)
	return Metric(m), err
}

// GPUMode chooses where Build runs its k-means and nearest-heads steps
// (Options.GPU): package gpu's Mode.
type GPUMode = gpu.Mode

// GPU modes.
const (
	GPUOff  = gpu.Off
	GPUAuto = gpu.Auto
	GPUOn   = gpu.On
)

// ParseGPUMode returns the mode named "auto", "on" or "off".
func ParseGPUMode(s string) (GPUMode, error) { return gpu.ParseMode(s) }

// Options configure Build and Open. The zero value is usable: every field
// has a documented default, filled by EnsureDefaults.
//
// Fields marked (build) shape the index and are recorded in it; Open
// ignores them and uses the recorded values. The others apply to the
// process that opens the index and may differ between opens.
type Options struct {
	// Metric (build) is the distance to rank by. Default L2.
	Metric Metric
	// Elem (build) is the element type vectors are stored in. Default: the
	// source's. A float32 source is stored as Uint8 or Int8 only losslessly:
	// every value must be an integer in the type's range (MNIST's pixels
	// are); Build fails naming the first value that is not. Float16 is the
	// one lossy choice: components are rounded to IEEE half precision
	// (11-bit significand, about 3 decimal digits). On GloVe-100 an exact
	// search over the rounded vectors keeps recall@10 at 0.999 of the exact
	// answer, for half the bytes read (docs/BENCHMARKS.md). Smaller elements
	// mean fewer bytes read per posting.
	Elem ElemType
	// Ratio (build) is the number of heads (postings) per vector. SPTAG
	// uses 0.12–0.16. Default 0.12, and 0.04 for QuantRaBitQ.
	Ratio float64
	// Replicas (build) bounds the postings one vector is stored in
	// (SPANN §3.2 closure assignment). Default 8.
	Replicas int
	// PostingCap (build) bounds the vectors of one posting; the farthest
	// replicas are dropped (a vector's nearest head always keeps it).
	// Default: as many vectors as fit in 48 KiB (SPTAG's PostingPageLimit
	// of 12 pages of 4 KiB), at least 16.
	PostingCap int
	// RNGFactor (build) is the RNG rule's factor (SPANN §3.2): candidate
	// head h_i is skipped if some kept head h_j has
	// RNGFactor·d(h_i,h_j) < d(x,h_i). Default 1.0.
	RNGFactor float64
	// ClosureEpsilon (build) is SPANN's ε₁ for closure assignment: a
	// vector is assigned only to heads with d(x,h) ≤ (1+ε₁)·d(x,h₁)
	// (squared distances). Default 10 (the RNG rule does the real
	// pruning). Ignored for InnerProduct.
	ClosureEpsilon float64
	// Candidates (build) is how many nearest heads each vector considers
	// for assignment (SPTAG: 64). Default 64.
	Candidates int
	// K (build) is the branching factor of the clustering tree. Default 32.
	K int
	// SampleSize (build) bounds the vectors held in memory for clustering;
	// the rest of the data set is streamed. A build that wants more than
	// SampleSize/8 heads from a larger data set partitions it: it
	// clusters the sample into partitions of about SampleSize/2 vectors,
	// spills each partition to the index directory (as many bytes as the
	// input) and clusters every vector of one partition at a time, so the
	// heads are Ratio × n at any n (package index/internal/build,
	// partition.go). Default 1,000,000.
	SampleSize int
	// AssignMemory (build) bounds the memory of the assignment table, one
	// entry per posting entry (32 bytes with its grouped copy; 2–3
	// entries per vector). A larger table is spilled to bucket files in
	// the index directory (13 bytes per entry) and its postings written a
	// bucket at a time, so the build's memory stops growing with n
	// (index/internal/build, entryspill.go). Default 2 GiB; negative: never
	// spill.
	AssignMemory int64
	// Resume (build) continues a build of the same source with the same
	// options that was killed in dir: Build keeps the checkpoints it left
	// (the tree, or the partitions already clustered; index/internal/build,
	// checkpoint.go), removes the rest and builds on, to the index an
	// uninterrupted build makes. A dir that does not exist or is empty is
	// built from scratch; one holding anything but a checkpoint (an index,
	// other files) is ErrExists, one whose checkpoint was made from other
	// data or options ErrInvalidOptions.
	Resume bool
	// Seed (build) makes builds deterministic. Default 1.
	Seed uint64
	// Quant (build) selects what postings hold: QuantNone (the default)
	// the full row of every replica, QuantRaBitQ a RaBitQ code of each
	// entry with an error bound, the rows stored once and read only to
	// rerank the candidates the bounds cannot settle (quant.go).
	Quant Quant
	// QuantBits (build) is the bits per dimension of RaBitQ codes, 1..8.
	// Default DefaultQuantBits(dim).
	QuantBits int

	// Workers is the number of goroutines for build and batch search.
	// Default GOMAXPROCS.
	Workers int
	// GPU chooses where Build runs its k-means assignment and update
	// steps and each vector's nearest-heads search (package gpu): gpu.Off
	// (the default) on the CPU; gpu.Auto on a CUDA device when one is
	// usable, else on the CPU, saying which and why through Logf; gpu.On
	// on a CUDA device, or Build fails with an error wrapping
	// gpu.ErrNoDevice that names the cause. With a device, clustering runs
	// level by level (cluster.Accelerator) and the nearest heads are found
	// by the same beam search, batched; the index matches the CPU build's
	// up to float rounding (ties between near-equidistant heads may break
	// the other way). A point set or tree too large for the device falls
	// back to the CPU in Auto mode and fails in On mode.
	//
	// In an opened index, GPU other than Off makes SearchBatch route its
	// queries on the device (Index.SearchBatch); Search is unaffected.
	GPU GPUMode
	// GPUBackend, if set, is used instead of opening one by GPU: any
	// backend, the CPU one included (gpu.CPU(), which runs the batched
	// code paths on the CPU). The caller keeps ownership: Build does not
	// close it, nor does Close an index opened with it (SearchBatch routes
	// on it).
	GPUBackend gpu.Backend
	// Logf, if set, receives Build's log lines: the GPU choice and the
	// time each stage took. Called from one goroutine at a time.
	Logf func(format string, args ...any)
	// CacheBytes bounds the posting cache, the only cache of posting bytes
	// (reads bypass the OS page cache): the memory budget for posting
	// data. Default 64 MiB; a negative value disables the cache.
	CacheBytes int64
	// BufferedIO reads postings through the OS page cache instead of
	// direct I/O. For experiments; default false.
	BufferedIO bool
	// NoSync lets Upsert and Delete return before their batch is synced
	// to the write-ahead log. Faster; the last acknowledged writes may be
	// lost in a crash. Call Index.Sync to make everything written so far
	// durable (group commit). Default false: every acknowledged write
	// survives kill -9 and power loss.
	NoSync bool
	// UpdateBuffer bounds the memory of posting tails: upserted copies not
	// yet folded into their postings by maintenance. Above it maintenance
	// folds the largest tails first; above twice it writers wait (see
	// WriteStall). Every fold rewrites a whole posting, so the buffer sets
	// the write amplification of a steady ingest: spread over all the
	// postings, it is how many copies a posting gathers before its
	// rewrite. Default (0): UpdateBufferPerHead bytes per posting at Open,
	// at least 32 MiB and at most 1 GiB: memory that only a steady ingest
	// fills (docs/BENCHMARKS.md, Ingest, measures the trade-off).
	UpdateBuffer int64
	// WriteStall bounds how long a write waits, before it writes
	// anything, for maintenance to bring the posting tails back under
	// twice UpdateBuffer. Past it the write fails with ErrBusy. Zero (the
	// default) waits as long as it takes: a bulk load through the library
	// is paced by maintenance. Servers set it, so that a caller gets a
	// clear error rather than a deadline.
	WriteStall time.Duration
	// ReassignNeighbors is how many postings near a split one maintenance
	// checks for vectors that now belong to a new head (SPFresh's
	// reassign; the paper uses 64). Default 64; negative disables
	// reassignment (the split's own members are then not checked either).
	ReassignNeighbors int
	// MaintenancePaused opens the index with background maintenance
	// paused, as if PauseMaintenance were called before it could start:
	// updates grow posting tails until Drain or ResumeMaintenance (tests
	// that script maintenance step by step, bulk loads). Default false.
	MaintenancePaused bool
	// MaxSLSize is Curator's max_sl_size: a tenant's shortlist that grows
	// past it is split in two (tenants.go). Default 256.
	MaxSLSize int
	// IndexedPayloadFields (build) are the payload fields whose values
	// become labels field=value (payloadlabels.go), recorded in the index
	// by Build and Create; SetIndexedFields changes them later. Default
	// none.
	IndexedPayloadFields []string
	// MaxPayloadBytes bounds one payload, as compact JSON (payloads.go).
	// Default 64 KiB.
	MaxPayloadBytes int
	// Search holds the default search parameters.
	Search SearchParams
	// Progress, if set, is called during Build as work advances, from one
	// goroutine at a time.
	Progress func(Progress)
	// Shared, if set, keeps the index's Pebble records in the namespace of
	// its directory in this shared database, instead of in a database of
	// its own in the directory (Build, Create, Open and Drop; see
	// SharedDB): the directory must lie inside Shared's. The caller keeps
	// ownership: closing the index leaves Shared open. Default nil.
	Shared *SharedDB

	// store, set only by tests, is the posting store to use instead of
	// opening one (a memstore; see openStore).
	store posting.Store
}

// Progress describes how far a build has come.
type Progress struct {
	Stage string // "sample", "partition" (partitioned builds), "cluster", "assign" or "write"
	Done  int64
	Total int64
	// Part and Parts are the partition being clustered (from 1) and the
	// number of partitions, in a partitioned build's cluster stage; 0
	// otherwise.
	Part, Parts int
}

// SearchParams tune one search. Zero fields take the index defaults.
type SearchParams struct {
	// NProbe is the number of postings read (SPANN: the number of nearest
	// heads searched). Default 32.
	NProbe int
	// Epsilon is SPANN's query-aware pruning (§3.3): heads with
	// d(q,h) > (1+Epsilon)·d(q,h₁) are not read (squared distances; L2 and
	// Cosine only). Default 7, i.e. SPTAG's MaxDistRatio of 8. A negative
	// value disables pruning.
	Epsilon float64
	// RerankEps is ε0 of the error bounds of a quantized index's
	// estimates, in standard errors: a candidate is reranked (its row
	// read, its distance computed exactly) while its lower bound can still
	// reach the top k. Default 1.9 (RaBitQ's); larger reranks more and
	// misses less, smaller reads fewer rows at a risk to recall. An index
	// without codes ignores it.
	RerankEps float64
	// RerankMax, if positive, caps the candidates one search of a
	// quantized index reranks (at least k): past it the search returns the
	// exact top k of those reranked, a latency bound that may cost recall.
	// Default 0: no cap.
	RerankMax int
	// Beam is the routing beam width down the tree: more finds the true
	// nearest heads more often, at more routing CPU. Default
	// max(4·NProbe, 32). (It was max(4·NProbe, 128) until the
	// measurement in docs/BENCHMARKS.md, "Routing beam": at recall@10 ≈
	// 0.92 on MNIST, a 300k × 128 and a held-out 200k × 200 set, with and
	// without codes, the floor of 128 cost 10–35 % of the QPS for 0.0002–
	// 0.0018 of recall.)
	Beam int
	// Tenant, if not 0, restricts the search to the vectors tenant Tenant
	// may read: those it owns and those granted to it (tenants.go). An
	// unknown tenant is ErrUnknownTenant.
	Tenant uint32
	// TenantMode says how a tenant search runs; the default,
	// TenantShortlists, reads the tenant's own shortlists.
	TenantMode TenantMode
	// SearchEF is Curator's search_ef for tenant searches: shortlists are
	// read nearest first until they hold at least SearchEF rows (and k).
	// Default 512.
	SearchEF int
	// Filter, if not nil, restricts the search to the vectors whose
	// labels (SetLabels) satisfy it; with Tenant set, to those the tenant
	// may read. An invalid expression is ErrBadInput. Per search only:
	// ignored in Options.Search.
	Filter *filter.Expr
	// FilterMode says how a filtered search runs; the default,
	// FilterAuto, lets the planner choose (search_filter.go).
	FilterMode FilterMode
	// FilterBruteMax, if set, is the planner's pre-filter threshold: a
	// filter that selects at most this many vectors is answered exactly
	// from their stored vectors, a larger one by filtering while scanning
	// postings. Default 0: the planner's cost model decides
	// (search_filter.go).
	FilterBruteMax int
	// FilterMaxProbe bounds how far the planner raises NProbe (and a
	// tenant's SearchEF) for a selective in-scan filter, as a multiple
	// of the value given. Default 256.
	FilterMaxProbe int

	// bits, set only by the filter planner, is the evaluated filter of an
	// in-scan search: rows outside it are dropped while scoring.
	bits *roaring64.Bitmap
}

// TenantMode picks the strategy of a tenant search. All of them return
// only vectors the tenant may read.
type TenantMode uint8

const (
	// TenantShortlists searches the tenant's shortlists (Curator): the
	// nearest ones by centroid, until SearchEF rows are read.
	TenantShortlists TenantMode = iota
	// TenantScan searches the shared postings as an unfiltered search
	// does (NProbe, Epsilon, Beam) and drops the rows the tenant may not
	// read while scoring them: the shared-index baseline.
	TenantScan
	// TenantBrute scores every vector on the tenant's access list: exact,
	// and as slow as the list is long (pre-filtering).
	TenantBrute
)

// String returns the mode's name as the CLI spells it.
func (m TenantMode) String() string {
	switch m {
	case TenantShortlists:
		return "shortlists"
	case TenantScan:
		return "scan"
	case TenantBrute:
		return "brute"
	}
	return fmt.Sprintf("TenantMode(%d)", m)
}

func (p *SearchParams) ensureDefaults(def SearchParams) {
	if p.NProbe <= 0 {
		p.NProbe = def.NProbe
	}
	if p.Epsilon == 0 {
		p.Epsilon = def.Epsilon
	}
	if p.Beam <= 0 {
		p.Beam = def.Beam
	}
	if p.Beam <= 0 {
		p.Beam = max(4*p.NProbe, 32)
	}
	if p.SearchEF <= 0 {
		p.SearchEF = def.SearchEF
	}
	if p.SearchEF <= 0 {
		p.SearchEF = 512
	}
	if p.FilterBruteMax <= 0 {
		p.FilterBruteMax = def.FilterBruteMax
	}
	if p.FilterMaxProbe <= 0 {
		p.FilterMaxProbe = def.FilterMaxProbe
	}
	if p.RerankEps <= 0 {
		p.RerankEps = def.RerankEps
	}
	if p.RerankMax <= 0 {
		p.RerankMax = def.RerankMax
	}
}

func (p *SearchParams) ensureBuiltinDefaults() {
	if p.NProbe <= 0 {
		p.NProbe = 32
	}
	if p.Epsilon == 0 {
		p.Epsilon = 7
	}
}

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Metric == 0 {
		o.Metric = L2
	}
	if o.Ratio == 0 {
		o.Ratio = 0.12
		if o.Quant == QuantRaBitQ {
			// Code postings are 6–13× smaller than rows: fewer, larger
			// postings (about 3× fewer heads) read fewer pages for the
			// same recall (issue 15; docs/BENCHMARKS.md).
			o.Ratio = 0.04
		}
	}
	if o.Replicas == 0 {
		o.Replicas = 8
	}
	if o.RNGFactor == 0 {
		o.RNGFactor = 1
	}
	if o.ClosureEpsilon == 0 {
		o.ClosureEpsilon = 10
	}
	if o.Candidates == 0 {
		o.Candidates = 64
	}
	if o.MaxSLSize == 0 {
		o.MaxSLSize = 256
	}
	if o.K == 0 {
		o.K = 32
	}
	if o.AssignMemory == 0 {
		o.AssignMemory = 2 << 30
	}
	if o.SampleSize == 0 {
		o.SampleSize = 1_000_000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = 64 << 20
	}
	if o.UpdateBuffer < 0 {
		o.UpdateBuffer = 0
	}
	if o.MaxPayloadBytes == 0 {
		o.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if o.ReassignNeighbors == 0 {
		o.ReassignNeighbors = 64
	}
	o.Search.ensureBuiltinDefaults()
}

// resolveOptions returns a copy of *o (the zero Options for nil) with its
// defaults filled in and checked: what Build, Create and Open work with.
func resolveOptions(o *Options) (Options, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.EnsureDefaults()
	return opts, opts.Validate()
}

// Validate reports options that cannot work. Call it after EnsureDefaults.
func (o *Options) Validate() error {
	switch {
	case o.Elem != 0 && !o.Elem.Valid():
		return fmt.Errorf("%w: unknown element type %d", ErrInvalidOptions, o.Elem)
	case !o.Metric.Valid():
		return fmt.Errorf("%w: unknown metric %d", ErrInvalidOptions, o.Metric)
	case o.Ratio <= 0 || o.Ratio > 1:
		return fmt.Errorf("%w: Ratio %v, want in (0, 1]", ErrInvalidOptions, o.Ratio)
	case o.Replicas < 1 || o.Replicas > 64:
		return fmt.Errorf("%w: Replicas %d, want 1..64", ErrInvalidOptions, o.Replicas)
	case o.PostingCap < 0:
		return fmt.Errorf("%w: PostingCap %d, want >= 0", ErrInvalidOptions, o.PostingCap)
	case o.Quant > QuantRaBitQ:
		return fmt.Errorf("%w: Quant %v", ErrInvalidOptions, o.Quant)
	case o.QuantBits < 0 || o.QuantBits > 8:
		return fmt.Errorf("%w: QuantBits %d, want 1..8 (0 for the default)", ErrInvalidOptions, o.QuantBits)
	case o.WriteStall < 0:
		return fmt.Errorf("%w: WriteStall %v, want >= 0", ErrInvalidOptions, o.WriteStall)
	case o.Candidates < o.Replicas:
		return fmt.Errorf("%w: Candidates %d < Replicas %d", ErrInvalidOptions, o.Candidates, o.Replicas)
	case o.K < 2:
		return fmt.Errorf("%w: K %d, want >= 2", ErrInvalidOptions, o.K)
	case o.SampleSize < 1:
		return fmt.Errorf("%w: SampleSize %d", ErrInvalidOptions, o.SampleSize)
	case o.RNGFactor < 0 || o.ClosureEpsilon < 0:
		return fmt.Errorf("%w: RNGFactor %v / ClosureEpsilon %v must be >= 0", ErrInvalidOptions, o.RNGFactor, o.ClosureEpsilon)
	case !o.GPU.Valid():
		return fmt.Errorf("%w: GPU mode %d", ErrInvalidOptions, o.GPU)
	case CheckIndexedFields(o.IndexedPayloadFields) != nil:
		return fmt.Errorf("%w: IndexedPayloadFields: %v", ErrInvalidOptions, CheckIndexedFields(o.IndexedPayloadFields))
	case o.MaxPayloadBytes < 0:
		return fmt.Errorf("%w: MaxPayloadBytes %d, want >= 0", ErrInvalidOptions, o.MaxPayloadBytes)
	case o.MaxSLSize < 2:
		return fmt.Errorf("%w: MaxSLSize %d, want >= 2", ErrInvalidOptions, o.MaxSLSize)
	case o.Search.TenantMode > TenantBrute:
		return fmt.Errorf("%w: TenantMode %d", ErrInvalidOptions, o.Search.TenantMode)
	case o.Search.FilterMode > FilterInScan:
		return fmt.Errorf("%w: FilterMode %d", ErrInvalidOptions, o.Search.FilterMode)
	}
	return nil
}

// defaultPostingCap returns the default cap for entries of entryBytes
// bytes each (a row, or a code): as many as fit in 48 KiB, at least 16.
func defaultPostingCap(entryBytes int) int {
	return max(16, (48<<10)/(entryBytes+9))
}

// quantSetup returns the manifest record, the quantizer (nil for none)
// and the posting entry size of an index of dim dimensions built or
// created with opts: the codes' size for a quantized one, the row's
// otherwise.
func quantSetup(opts *Options, dim int, elem ElemType) (*QuantInfo, *rabitq.Quantizer, int, error) {
	if opts.Quant == QuantNone {
		return nil, nil, dim * elem.Size(), nil
	}
	bits := opts.QuantBits
	if bits == 0 {
		bits = DefaultQuantBits(dim)
	}
	qi := &QuantInfo{Kind: "rabitq", Bits: bits, Seed: opts.Seed}
	z, err := newQuantizer(&Manifest{Dim: dim, Metric: opts.Metric, Quant: qi})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	return qi, z, z.CodeSize(), nil
}
