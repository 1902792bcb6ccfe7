package index

import (
	"fmt"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/index/internal/vectors"
)

// FilterMode picks the strategy of a filtered search (SearchParams.Filter):
// FilterAuto lets the planner choose (filter.Choose), FilterPre always
// scores every selected vector, FilterInScan always filters while
// scanning at the NProbe (SearchEF) given.
type FilterMode = filter.Mode

// Filter modes.
const (
	FilterAuto   = filter.Auto
	FilterPre    = filter.Pre
	FilterInScan = filter.InScan
)

// FilterPlan is what a filtered search did (QueryStats.Plan).
type FilterPlan = filter.Plan

// Filter plans.
const (
	PlanNone       = filter.PlanNone
	PlanPre        = filter.PlanPre
	PlanScan       = filter.PlanScan
	PlanShortlists = filter.PlanShortlists
)

const (
	// bruteChunk is how many selected ids a pre-filtered search reads and
	// scores at a time.
	bruteChunk = 256
)

// searchFilter plans and runs a search with sp.Filter set (sp has its
// defaults): the filter is evaluated to a bitmap of the ids it selects
// (and the tenant may read, with sp.Tenant set), and filter.Choose picks
// pre-filtering or in-scan filtering with a raised NProbe (SearchEF) by
// its selectivity.
func (ix *Index) searchFilter(ws *workspace, q []float32, k int, sp *SearchParams, st *QueryStats, pre *preRoute) ([]Result, error) {
	if err := sp.Filter.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if sp.FilterMode > FilterInScan {
		return nil, fmt.Errorf("%w: FilterMode %d", ErrBadInput, sp.FilterMode)
	}
	bits := filter.Eval(sp.Filter, ix.lab, func() *roaring64.Bitmap {
		return ix.lab.Universe([2]int64{ix.ctr.upserts.Load(), ix.ctr.deletes.Load()}, ix.liveIDs)
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
	shortlists := sp.Tenant != 0 && sp.TenantMode == TenantShortlists
	fq := filter.Query{
		Matches: m, Base: base, Probe: sp.NProbe, Shortlists: shortlists,
		ForcePre: sp.Tenant != 0 && sp.TenantMode == TenantBrute,
		Mode:     sp.FilterMode, BruteMax: sp.FilterBruteMax, MaxProbe: sp.FilterMaxProbe,
	}
	if shortlists {
		fq.Probe = sp.SearchEF
	}
	plan, probe := filter.Choose(fq)
	var (
		res    []Result
		stored int64
		err    error
	)
	switch plan {
	case PlanPre:
		ws.filter = bits
		res, stored, err = ix.searchBits(ws, k, st)
	case PlanShortlists:
		p := *sp
		p.SearchEF = probe
		ws.filter = bits
		res, err = ix.searchShortlists(ws, k, &p, st)
	default:
		p := *sp
		p.Filter, p.Tenant, p.bits = nil, 0, bits
		p.NProbe = probe
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
	ws.top.Reset(k)
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
