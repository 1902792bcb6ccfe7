package index

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/tenant"
)

// Shortlist sweep. A shortlist drops its stale rows (of vectors deleted,
// upserted again or revoked) only when a write adds rows to it; those of
// shortlists no write touches again would cost bytes on every tenant
// search for good. As the posting sweep does (sweep.go), once the rows
// made stale since the last pass began reach an eighth of all shortlist
// rows, maintenance walks every shortlist, one per unit of work when
// nothing else is due, and rewrites those with a quarter or more of their
// rows stale (deleting those left empty). The debt is kept in memory
// only.

// slSweep is the state of the shortlist sweep. todo and active are
// guarded by the maintainer's run mutex.
type slSweep struct {
	debt   atomic.Int64
	active bool
	todo   []slRef
	swept  atomic.Int64
}

// slRef names one shortlist.
type slRef struct {
	t tenant.ID
	p uint32
}

// noteShortlistStale records n shortlist rows made stale.
func (ix *Index) noteShortlistStale(n int) {
	if n > 0 {
		ix.ten.sweep.debt.Add(int64(n))
	}
}

// shortlistSweepStep examines the next shortlist of the pass in progress,
// or starts a pass when one is due (any debt at all with all). It reports
// whether it did something. The caller holds the maintainer's run mutex.
func (ix *Index) shortlistSweepStep(all bool) (bool, error) {
	sw := &ix.ten.sweep
	if !sw.active {
		d := sw.debt.Load()
		if d == 0 {
			return false, nil
		}
		refs, rows := ix.ten.allShortlists()
		if !all && d*sweepDue < rows {
			return false, nil
		}
		sw.debt.Add(-d)
		sw.todo, sw.active = refs, true
	}
	if len(sw.todo) == 0 {
		sw.active, sw.todo = false, nil
		return false, nil
	}
	r := sw.todo[0]
	sw.todo = sw.todo[1:]
	return true, ix.sweepShortlist(r)
}

// allShortlists returns every shortlist and the rows they hold.
func (ts *tenants) allShortlists() (refs []slRef, rows int64) {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	for t, s := range ts.parts {
		for j, p := range s.ids {
			refs = append(refs, slRef{t, p})
			rows += int64(s.rows[j])
		}
	}
	return refs, rows
}

// sweepShortlist rewrites shortlist r without its stale rows if a quarter
// or more of them are stale.
func (ix *Index) sweepShortlist(r slRef) error {
	view, err := ix.ten.lists.View(r.t)
	if err != nil {
		return nil // the tenant was dropped meanwhile
	}
	var total, live int
	var dec posting.Posting
	err = ix.store.Read(r.p, func(b []byte) error {
		if err := posting.Decode(b, &dec); err != nil {
			return fmt.Errorf("%w: shortlist %d of tenant %d: %v", ErrCorrupt, r.p, r.t, err)
		}
		total = len(dec.IDs)
		for i, id := range dec.IDs {
			if ix.rowCurrent(view, id, dec.Versions[i]) {
				live++
			}
		}
		return nil
	})
	if errors.Is(err, posting.ErrNotFound) {
		return nil // gone meanwhile
	}
	if err != nil || (total-live)*sweepShare < total {
		return err
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	s := ix.ten.part(r.t)
	if s == nil {
		return nil
	}
	j := slices.Index(s.ids, r.p)
	if j < 0 {
		return nil
	}
	ms := make([]members, 1)
	if err := ix.readShortlists(r.t, []uint32{r.p}, ms); err != nil {
		return err
	}
	dim := ix.man.Dim
	next := s.clone(dim)
	b := ix.store.NewBatch()
	defer b.Close()
	if ms[0].len() == 0 {
		b.DeletePosting(r.p)
		b.Delete(shortlistKey(r.t, r.p))
		next.ids = slices.Delete(next.ids, j, j+1)
		next.rows = slices.Delete(next.rows, j, j+1)
		next.cents = slices.Delete(next.cents, j*dim, (j+1)*dim)
	} else if err := ix.putShortlist(b, r.t, next, j, &ms[0]); err != nil {
		return err
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: sweep shortlist %d of tenant %d: %w", r.p, r.t, err)
	}
	ix.ten.setPart(r.t, next.trim())
	ix.ten.sweep.swept.Add(1)
	return nil
}
