package index

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/index/internal/tail"
	"github.com/shoaldb/shoal/internal/topk"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/tenant"
)

// testHookRouted, when set by a test, runs between a search's routing and
// its reads (to widen races with maintenance).
var testHookRouted func()

// Result is one search hit.
type Result struct {
	ID       uint64
	Distance float32
}

// workspace is per-query scratch memory, pooled so searches do not
// allocate in steady state.
type workspace struct {
	q     []float32 // query as float32, normalised for Cosine
	query vec.Query // q prepared for scoring rows of the element type
	route cluster.Workspace
	batch cluster.BatchWorkspace // routes upserts, a chunk at a time
	x     []float32              // a re-inserted copy as float32 (scratch)
	kept  []cluster.Candidate
	pre   []cluster.Candidate // heads routed on the device
	ids   []uint32
	tails []*tail.Tail
	p     posting.Posting
	dists []float32
	top   topk.Heap[float32, uint64] // results so far, each id once
	vecs  int64
	// filter, if set, is the access list of the tenant searching; with
	// slTenant set, the rows scored are that tenant's shortlist rows.
	filter   *roaring64.Bitmap
	slTenant tenant.ID
	rank     tenant.Scratch  // for tenant.Curator.Rank
	ctx      context.Context // SearchContext's; nil for none
	tracer   trace.Tracer    // of ctx's recording span; nil for none (trace.go)
	read     int64           // bytes of the postings read by this search
	stored   bool            // scoring stored vectors (TenantBrute)
	order    []int
	qw       quantWork // codes of a quantized index (search_quant.go)
}

func newWorkspace(ix *Index) *workspace {
	return &workspace{q: make([]float32, ix.man.Dim)}
}

// Search returns the k nearest vectors to q found by reading the nearest
// postings (nearest first). p may be nil for the index defaults.
//
// SPANN §3.3: route to NProbe heads, drop heads farther than
// (1+Epsilon)·d(q,h₁), read the surviving postings in parallel, score
// them, and merge the replicas of a vector into one result.
func (ix *Index) Search(q []float32, k int, p *SearchParams) ([]Result, error) {
	ws := ix.pool.Get().(*workspace)
	defer ix.pool.Put(ws)
	return ix.search(ws, q, k, p, nil, nil)
}

// SearchContext is Search that gives up when ctx is done: it checks ctx
// after routing and as each posting read completes (reads already
// submitted finish, unscored), and returns ctx's error.
func (ix *Index) SearchContext(ctx context.Context, q []float32, k int, p *SearchParams) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ws := ix.pool.Get().(*workspace)
	defer ix.pool.Put(ws)
	ws.ctx = ctx
	ws.startTrace()
	defer func() { ws.ctx, ws.tracer = nil, nil }()
	return ix.search(ws, q, k, p, nil, nil)
}

// ctxErr returns the error of the search's context, if it has one and it
// is done.
func (ws *workspace) ctxErr() error {
	if ws.ctx == nil {
		return nil
	}
	return ws.ctx.Err()
}

// SearchBatch searches every query of qs (each of Dim floats) with up to
// Options.Workers goroutines; results[i] answers qs[i].
//
// With Options.GPU other than Off (or Options.GPUBackend set), the
// queries are routed to their nearest heads a batch at a time on the
// device (the tree is loaded there on first use, and again after
// maintenance changes it); pruning, posting reads and scoring run on the
// CPU as in Search. The results are Search's up to heads at near-equal
// distances (the device's float rounding may order them the other way).
// In Auto mode, a device that fails leaves the routing to the CPU; in On
// mode SearchBatch returns the error.
func (ix *Index) SearchBatch(qs [][]float32, k int, p *SearchParams) ([][]Result, error) {
	results := make([][]Result, len(qs))
	var err error
	if ix.accelWanted() && len(qs) > 0 {
		err = ix.searchBatchAccel(qs, k, p, results)
	} else {
		err = ix.searchBatchCPU(qs, 0, k, p, results)
	}
	if err != nil {
		return nil, err
	}
	return results, nil
}

// parallel runs fn for every i in lo..hi-1 on up to Options.Workers
// goroutines, each with its own workspace; an error names its query.
func (ix *Index) parallel(lo, hi int, fn func(ws *workspace, i int) error) error {
	var next atomic.Int64
	next.Store(int64(lo))
	var wg sync.WaitGroup
	errs := make([]error, ix.opts.Workers)
	for w := 0; w < ix.opts.Workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ws := ix.pool.Get().(*workspace)
			defer ix.pool.Put(ws)
			for {
				i := int(next.Add(1) - 1)
				if i >= hi {
					return
				}
				if err := fn(ws, i); err != nil {
					errs[w] = fmt.Errorf("query %d: %w", i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// QueryStats describe the work of one search.
type QueryStats struct {
	Heads    int // heads kept after pruning (postings read)
	Vectors  int // vectors scored
	Distinct int // distinct results in the final top-k
	// Plan is what a filtered search did (PlanNone without a filter),
	// Matches how many vectors its filter selected, and StoredBytes the
	// bytes of stored vectors a pre-filtered one read (build rows come
	// through the page cache, coalesced: more than Vectors rows).
	Plan        FilterPlan
	Matches     int64
	StoredBytes int64
	// Reranked is how many candidates a search of a quantized index scored
	// exactly (their rows read), and Pruned how many of the codes it read
	// its error bounds ruled out at once.
	Reranked int
	Pruned   int
}

// SearchWithStats is Search that also reports the work it did.
func (ix *Index) SearchWithStats(q []float32, k int, p *SearchParams, st *QueryStats) ([]Result, error) {
	ws := ix.pool.Get().(*workspace)
	defer ix.pool.Put(ws)
	return ix.search(ws, q, k, p, st, nil)
}

// search answers one query. pre, if not nil, is the query's routing done
// on the device (SearchBatch); it is used if the tree has not changed
// since, else the query is routed here.
func (ix *Index) search(ws *workspace, q []float32, k int, sp *SearchParams, st *QueryStats, pre *preRoute) ([]Result, error) {
	if ix.closed.Load() {
		return nil, ErrClosed
	}
	if len(q) != ix.man.Dim {
		return nil, fmt.Errorf("%w: query has %d dimensions, index %d", ErrDimensionMismatch, len(q), ix.man.Dim)
	}
	if k < 1 {
		return nil, fmt.Errorf("%w: k = %d, want >= 1", ErrBadInput, k)
	}
	if err := vec.CheckFinite(q); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFinite, err)
	}
	var params SearchParams
	if sp != nil {
		params = *sp
	}
	params.ensureDefaults(ix.opts.Search)
	copy(ws.q, q)
	if ix.man.Metric == Cosine && !vec.Normalize(ws.q) {
		return nil, fmt.Errorf("%w: zero query vector has no cosine", ErrBadInput)
	}
	ws.query.Prepare(ix.elem(), ws.q)
	if ix.quantized() {
		if err := ix.prepareQuant(ws); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
		}
		ws.qw.uppers.Reset(k)
		ws.qw.qq.SetEps0(params.RerankEps)
		ws.qw.max = 0
		if params.RerankMax > 0 {
			ws.qw.max = max(params.RerankMax, k)
		}
	}
	ws.filter, ws.slTenant = params.bits, 0
	if params.Filter != nil {
		return ix.searchFilter(ws, q, k, &params, st, pre)
	}
	if params.Tenant != 0 {
		view, err := ix.viewOf(params.Tenant)
		if err != nil {
			return nil, err
		}
		ws.filter = view
		switch params.TenantMode {
		case TenantShortlists:
			return ix.searchShortlists(ws, k, &params, st)
		case TenantBrute:
			return ix.searchBrute(ws, k, st)
		}
	}

	// Maintenance keeps what this search's routing points at until it
	// exits (publish.go).
	e := ix.readers.Enter()
	defer ix.readers.Exit(e)
	route := ws.span(SpanRoute)
	ix.rmu.RLock()
	var heads []cluster.Candidate
	if pre != nil && ix.treeGen.Load() == pre.gen {
		heads = ws.preHeads(pre)
	} else {
		heads = ix.tree.Search(ws.q, params.NProbe, params.Beam, &ws.route)
	}
	if ix.man.Metric != InnerProduct && params.Epsilon >= 0 && len(heads) > 0 && heads[0].Dist > 0 {
		// Query-aware dynamic pruning (SPANN §3.3). A query sitting on its
		// nearest head (distance 0) would prune every other head: skip.
		limit := float32((1 + params.Epsilon) * float64(heads[0].Dist))
		cut := len(heads)
		for i, h := range heads {
			if h.Dist > limit {
				cut = i
				break
			}
		}
		heads = heads[:cut]
	}
	ws.ids = ws.ids[:0]
	for _, h := range heads {
		ws.ids = append(ws.ids, h.Leaf)
	}
	if ix.quantized() {
		ix.routeCenters(ws, heads)
	}
	ws.tails = ix.tails.Of(ws.ids, ws.tails)
	ix.rmu.RUnlock()
	endRoute(route, params.NProbe, len(ws.ids))
	if testHookRouted != nil {
		testHookRouted()
	}
	if err := ws.ctxErr(); err != nil {
		return nil, err
	}
	ws.top.Reset(k)
	ws.vecs = 0
	reads := 0
	// Tails are in memory: score them first, so the heap is primed.
	tailsSpan, tails := ws.span(SpanTailsScore), 0
	for _, t := range ws.tails {
		if t.Len() > 0 {
			ix.score(ws, t.IDs, t.Vers, t.Vecs)
			tails++
		}
	}
	endTails(tailsSpan, tails, ws.vecs)
	tailVecs := ws.vecs
	read := ws.span(SpanPostingsRead)
	ws.read = 0
	// All postings of the query go to the store in one batch; each is
	// scored as soon as its read completes.
	err := ix.store.ReadBatch(ws.ids, func(i int, b []byte) error {
		if err := ws.ctxErr(); err != nil {
			return err
		}
		if err := posting.Decode(b, &ws.p); err != nil {
			return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, ws.ids[i], err)
		}
		reads++
		ws.read += int64(len(b))
		if err := ix.checkPosting(&ws.p); err != nil {
			return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, ws.ids[i], err)
		}
		if ws.p.Quantized() {
			ix.scoreCodes(ws, i)
		} else {
			ix.score(ws, ws.p.IDs, ws.p.Versions, ws.p.Vectors)
		}
		return nil
	})
	endRead(read, reads, ws.read, ws.vecs-tailVecs, err)
	if err == nil && ix.quantized() {
		err = ix.rerank(ws)
	}
	if err != nil {
		return nil, err
	}
	return ix.results(ws, len(ws.ids), reads, st), nil
}

// scratch returns ws's float32 scratch vector of dim values.
func (ws *workspace) scratch(dim int) []float32 {
	if cap(ws.x) < dim {
		ws.x = make([]float32, dim)
	}
	return ws.x[:dim]
}

// results ends a search: counters, ws.top's results nearest first, and
// st.
func (ix *Index) results(ws *workspace, heads, reads int, st *QueryStats) []Result {
	ix.ctr.queries.Add(1)
	ix.ctr.postingsRead.Add(int64(reads))
	ix.ctr.vectorsRead.Add(ws.vecs)
	items := ws.top.Drain()
	out := make([]Result, len(items))
	for i, it := range items {
		out[i] = Result{ID: it.ID, Distance: it.Dist}
	}
	if ix.man.Metric == Cosine {
		for i := range out {
			out[i].Distance += 1 // stored as −dot: 1 − cos
		}
	}
	if st != nil {
		*st = QueryStats{Heads: heads, Vectors: int(ws.vecs), Distinct: len(out)}
		if ix.quantized() {
			st.Reranked, st.Pruned = ws.qw.rr, ws.qw.skipped
		}
	}
	return out
}

// score computes the distance from the query to every row of vectors
// (the copies ids, at versions vers) and offers the current copies to
// ws.top.
func (ix *Index) score(ws *workspace, ids []uint64, vers []uint8, vectors []byte) {
	n := len(ids)
	if n == 0 {
		return
	}
	ws.vecs += int64(n)
	if cap(ws.dists) < n {
		ws.dists = make([]float32, n)
	}
	d := ws.dists[:n]
	ws.query.ScoreRows(ix.elem(), vec.Metric(ix.man.Metric), vectors, ix.man.Dim, d)
	for i, dist := range d {
		// The version check costs a lookup: do it only for copies that
		// would enter the heap.
		if ws.top.Admits(dist) && ix.admit(ws, ids[i], vers[i]) {
			ws.top.PushUnique(dist, ids[i])
		}
	}
}
