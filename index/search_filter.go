package index

import (
	"fmt"
	"math"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/index/internal/vectors"
)

// FilterMode picks the strategy of a filtered search (SearchParams.Filter).
// All of them return only vectors that satisfy the filter.
type FilterMode uint8

const (
	// FilterAuto lets the planner choose by the number of vectors the
	// filter selects: at most FilterBruteMax, pre-filtering; more, in-scan
	// filtering with NProbe (or a tenant's SearchEF) raised by the inverse
	// selectivity, at most FilterMaxProbe-fold.
	FilterAuto FilterMode = iota
	// FilterPre always scores every selected vector: exact, and as slow as
	// the selection is large.
	FilterPre
	// FilterInScan always filters while scanning, at the NProbe (SearchEF)
	// given: the baseline whose recall collapses on selective filters.
	FilterInScan
)

// String returns the mode's name as the CLI spells it.
func (m FilterMode) String() string {
	switch m {
	case FilterAuto:
		return "auto"
	case FilterPre:
		return "pre"
	case FilterInScan:
		return "inscan"
	}
	return fmt.Sprintf("FilterMode(%d)", m)
}

// FilterPlan is what a filtered search did (QueryStats.Plan).
type FilterPlan uint8

const (
	// PlanNone: the search had no filter.
	PlanNone FilterPlan = iota
	// PlanPre: every selected vector was scored from its stored vector.
	PlanPre
	// PlanScan: the shared postings were read, rows outside the selection
	// dropped while scoring.
	PlanScan
	// PlanShortlists: the tenant's shortlists were read, rows outside the
	// selection dropped while scoring.
	PlanShortlists
)

// String returns the plan's name.
func (p FilterPlan) String() string {
	switch p {
	case PlanNone:
		return "none"
	case PlanPre:
		return "pre"
	case PlanScan:
		return "scan"
	case PlanShortlists:
		return "shortlists"
	}
	return fmt.Sprintf("FilterPlan(%d)", p)
}

const (
	defaultFilterMaxProbe = 256
	// filterProbeExp is α in the planner's raise of NProbe (SearchEF) by
	// (1/selectivity)^α. On GloVe-100 (shoal labelbench), with NProbe at
	// the unfiltered recall@10 ≈ 0.9 operating point, in-scan filtering
	// needed ≈3× the heads at 10 % and ≈10× at 1 % for the same recall:
	// α ≈ 0.5. (α = 1 would keep the matching vectors scored constant,
	// more than needed: the k filtered nearest are not spread as thinly
	// as the matches.)
	filterProbeExp = 0.5
	// filterHeadCost is what reading and scoring one posting costs in the
	// in-scan plan, in units of reading and scoring one stored vector in
	// the pre-filter plan (GloVe-100 f16, 2-core box, postings by direct
	// I/O without cache, build rows from the page cache: 20–30 µs a
	// posting with its routing; 1 µs a sparse vector, 0.45 µs at 10 %
	// density, where coalesced reads copy most of the rows file). Time
	// alone would say ≈50 on that box; 30 leaves a dense selection to the
	// in-scan plan, which reads a bounded number of bytes, where the
	// pre-filter would read the whole rows file from the page cache (or
	// the disk, for a data set larger than memory). filterRowCost is the
	// same for one shortlist row (not measured: rows are read as postings
	// are).
	filterHeadCost = 30
	filterRowCost  = 0.25
	// bruteChunk is how many selected ids a pre-filtered search reads and
	// scores at a time.
	bruteChunk = 256
)

// searchFilter plans and runs a search with sp.Filter set (sp has its
// defaults). The filter is evaluated to a bitmap of the ids it selects
// (and the tenant may read, with sp.Tenant set), of m ids, a fraction s
// of the live ids (of the tenant's list). Plans:
//
//   - pre-filter: score exactly those m vectors. Cost ∝ m; recall 1.
//   - in-scan: read the postings an unfiltered search reads with NProbe
//     raised to NProbe·(1/s)^α (at most FilterMaxProbe-fold), with
//     SPANN's pruning off, and drop rows outside the selection while
//     scoring. Cost ∝ NProbe/s^α; recall holds because the k nearest
//     selected vectors lie among the nearest postings of the query, only
//     farther out. With a tenant searching its shortlists, the same
//     with SearchEF.
//
// FilterAuto picks the cheaper by the cost model above (filterHeadCost),
// or pre-filters when m ≤ FilterBruteMax if that is set. FilterPre and
// TenantBrute always pre-filter; FilterInScan scans at the NProbe
// (SearchEF) given.
func (ix *Index) searchFilter(ws *workspace, q []float32, k int, sp *SearchParams, st *QueryStats, pre *preRoute) ([]Result, error) {
	if err := sp.Filter.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if sp.FilterMode > FilterInScan {
		return nil, fmt.Errorf("%w: FilterMode %d", ErrBadInput, sp.FilterMode)
	}
	bits := filter.Eval(sp.Filter, ix.lab, func() *roaring64.Bitmap {
		return ix.lab.Universe([2]int64{ix.upserts.Load(), ix.deletes.Load()}, ix.liveIDs)
	})
	base := uint64(max(ix.live.Load(), 1))
	if sp.Tenant != 0 {
		view, err := ix.viewOf(sp.Tenant)
		if err != nil {
			return nil, err
		}
		bits = roaring64.And(bits, view)
		base = max(view.GetCardinality(), 1)
	}
	m := bits.GetCardinality()
	maxProbe := sp.FilterMaxProbe
	if maxProbe <= 0 {
		maxProbe = defaultFilterMaxProbe
	}
	// raise scales a probe budget by the inverse selectivity, bounded.
	raise := func(v int) int {
		if sp.FilterMode == FilterInScan {
			return v
		}
		f := math.Pow(float64(base)/float64(max(m, 1)), filterProbeExp)
		return max(v, int(math.Ceil(float64(v)*math.Min(f, float64(maxProbe)))))
	}
	shortlists := sp.Tenant != 0 && sp.TenantMode == TenantShortlists
	var scanCost float64
	if shortlists {
		scanCost = float64(raise(sp.SearchEF)) * filterRowCost
	} else {
		scanCost = float64(raise(sp.NProbe)) * filterHeadCost
	}
	usePre := m == 0 || sp.FilterMode == FilterPre || (sp.Tenant != 0 && sp.TenantMode == TenantBrute)
	if !usePre && sp.FilterMode == FilterAuto {
		if sp.FilterBruteMax > 0 {
			usePre = m <= uint64(sp.FilterBruteMax)
		} else {
			usePre = float64(m) <= scanCost
		}
	}
	var (
		plan   FilterPlan
		res    []Result
		stored int64
		err    error
	)
	switch {
	case usePre:
		plan = PlanPre
		ws.filter = bits
		res, stored, err = ix.searchBits(ws, k, st)
	case shortlists:
		plan = PlanShortlists
		p := *sp
		p.SearchEF = raise(p.SearchEF)
		ws.filter = bits
		res, err = ix.searchShortlists(ws, k, &p, st)
	default:
		plan = PlanScan
		p := *sp
		p.Filter, p.Tenant, p.bits = nil, 0, bits
		p.NProbe = raise(p.NProbe)
		if p.NProbe != sp.NProbe {
			// SPANN's pruning keeps the heads near enough to hold the k
			// nearest; the k nearest selected ones lie farther out.
			p.Epsilon = -1
			p.Beam = max(p.Beam, 4*p.NProbe)
			pre = nil // routed for fewer heads
		}
		res, err = ix.search(ws, q, k, &p, st, pre)
	}
	ws.filter = nil
	if err != nil {
		return nil, err
	}
	if st != nil {
		st.Plan, st.Matches, st.StoredBytes = plan, int64(m), stored
	}
	return res, nil
}

// searchBits scores every live vector in ws.filter, reading their stored
// vectors a chunk at a time: exact pre-filtering. It returns the bytes of
// stored vectors it read.
func (ix *Index) searchBits(ws *workspace, k int, st *QueryStats) ([]Result, int64, error) {
	ws.top.reset(k)
	ws.vecs = 0
	ids := make([]uint64, 0, bruteChunk)
	vers := make([]uint8, 0, bruteChunk)
	var rb vectors.Reader
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		if err := ws.ctxErr(); err != nil {
			return err
		}
		rows, live, lvers, err := rb.Read(ix.vectors, ids, vers)
		if err != nil {
			return err
		}
		ws.stored = true
		ix.score(ws, live, lvers, rows)
		ws.stored = false
		ids, vers = ids[:0], vers[:0]
		return nil
	}
	it := ws.filter.Iterator()
	for it.HasNext() {
		id := it.Next()
		s := ix.vers.get(id)
		if s&stateLive == 0 {
			continue
		}
		ids = append(ids, id)
		vers = append(vers, s&versionMask)
		if len(ids) == bruteChunk {
			if err := flush(); err != nil {
				return nil, 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, 0, err
	}
	return ix.results(ws, 0, 0, st), rb.Bytes, nil
}
