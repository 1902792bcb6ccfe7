package index

import (
	"fmt"

	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/tenant"
)

// admit reports whether a scored row may enter the results: a current
// copy (a current shortlist row when ws.slTenant is set) that the tenant
// searching, if any, may read.
func (ix *Index) admit(ws *workspace, id uint64, ver uint8) bool {
	switch {
	case ws.slTenant != 0:
		return ix.ten.RowCurrent(ws.filter, id, ver)
	case ws.stored:
		// The row was just read from the id's stored vector: current if the
		// id is still live (maintenance may change its copies' version).
		return ix.vers.get(id)&stateLive != 0 && ws.filter.Contains(id)
	}
	return ix.visible(id, ver) && (ws.filter == nil || ws.filter.Contains(id))
}

// searchShortlists answers a tenant search from the tenant's shortlists
// (Curator §4.3): the tenant's nearest shortlists (tenant.Curator.Rank)
// are read in one batch until they hold SearchEF rows (at least k).
// ws.filter holds the tenant's access list.
func (ix *Index) searchShortlists(ws *workspace, k int, sp *SearchParams, st *QueryStats) ([]Result, error) {
	t := tenant.ID(sp.Tenant)
	ws.top.Reset(k)
	ws.vecs = 0
	var n int
	ws.ids, n = ix.ten.Rank(t, ws.q, max(sp.SearchEF, k), &ws.rank, ws.ids[:0])
	if n == 0 {
		return ix.results(ws, 0, 0, st), nil
	}
	ws.slTenant = t
	reads := 0
	err := ix.store.ReadBatch(ws.ids, func(i int, b []byte) error {
		if err := ws.ctxErr(); err != nil {
			return err
		}
		if err := posting.Decode(b, &ws.p); err != nil {
			return fmt.Errorf("%w: shortlist %d of tenant %d: %v", ErrCorrupt, ws.ids[i], t, err)
		}
		if ws.p.Quantized() {
			return fmt.Errorf("%w: shortlist %d of tenant %d holds codes, not rows", ErrCorrupt, ws.ids[i], t)
		}
		reads++
		ix.score(ws, ws.p.IDs, ws.p.Versions, ws.p.Vectors)
		return nil
	})
	ws.slTenant = 0
	if err != nil {
		return nil, err
	}
	return ix.results(ws, len(ws.ids), reads, st), nil
}

// searchBrute scores every vector on the tenant's access list (ws.filter):
// exact pre-filtering, reading the stored vectors a chunk at a time
// (searchBits).
func (ix *Index) searchBrute(ws *workspace, k int, st *QueryStats) ([]Result, error) {
	res, _, err := ix.searchBits(ws, k, st)
	return res, err
}
