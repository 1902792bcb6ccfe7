package tenant

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
)

// Shortlist sweep. A shortlist drops its stale rows (of vectors deleted,
// upserted again or revoked) only when a write adds rows to it; those of
// shortlists no write touches again would cost bytes on every tenant
// search for good. As the index's posting sweep does, once the rows made
// stale since the last pass began reach 1/sweepDue of all shortlist rows,
// maintenance walks every shortlist, one per unit of work when nothing
// else is due, and rewrites those with 1/sweepShare or more of their rows
// stale (deleting those left empty). The debt is kept in memory only.
const (
	sweepShare = 4
	sweepDue   = 8
)

// slSweep is the state of the shortlist sweep. todo and active belong to
// the one goroutine that runs SweepStep (the index's maintainer).
type slSweep struct {
	debt   atomic.Int64
	active bool
	todo   []slRef
}

// slRef names one shortlist.
type slRef struct {
	t ID
	p uint32
}

// NoteStale records n shortlist rows made stale.
func (c *Curator) NoteStale(n int) {
	if n > 0 {
		c.sweep.debt.Add(int64(n))
	}
}

// SweepStep examines the next shortlist of the pass in progress, or
// starts a pass when one is due (any debt at all with all). It reports
// whether it did something. Calls must not overlap; the rewrite takes the
// writer lock through Host.Write.
func (c *Curator) SweepStep(all bool) (bool, error) {
	sw := &c.sweep
	if !sw.active {
		d := sw.debt.Load()
		if d == 0 {
			return false, nil
		}
		refs, rows := c.allShortlists()
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
	return true, c.sweepShortlist(r)
}

// allShortlists returns every shortlist and the rows they hold.
func (c *Curator) allShortlists() (refs []slRef, rows int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for t, s := range c.parts {
		for j, p := range s.ids {
			refs = append(refs, slRef{t, p})
			rows += int64(s.rows[j])
		}
	}
	return refs, rows
}

// sweepShortlist rewrites shortlist r without its stale rows if a quarter
// or more of them are stale.
func (c *Curator) sweepShortlist(r slRef) error {
	view, err := c.lists.View(r.t)
	if err != nil {
		return nil // the tenant was dropped meanwhile
	}
	var total, live int
	var dec posting.Posting
	err = c.store.Read(r.p, func(b []byte) error {
		if err := posting.Decode(b, &dec); err != nil {
			return fmt.Errorf("%w: shortlist %d of tenant %d: %v", errs.Corrupt, r.p, r.t, err)
		}
		total = len(dec.IDs)
		for i, id := range dec.IDs {
			if c.RowCurrent(view, id, dec.Versions[i]) {
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
	return c.host.Write(func(b Batch) (func(), error) {
		s := c.part(r.t)
		if s == nil {
			return func() {}, nil
		}
		j := slices.Index(s.ids, r.p)
		if j < 0 {
			return func() {}, nil
		}
		ms := c.newRows(1)
		if err := c.readShortlists(r.t, []uint32{r.p}, ms); err != nil {
			return nil, err
		}
		dim := c.cfg.Dim
		next := s.clone(dim)
		if ms[0].Len() == 0 {
			b.DeletePosting(r.p)
			b.Delete(keys.U32U32(keys.Shortlist, uint32(r.t), r.p))
			next.ids = slices.Delete(next.ids, j, j+1)
			next.rows = slices.Delete(next.rows, j, j+1)
			next.cents = slices.Delete(next.cents, j*dim, (j+1)*dim)
		} else if err := c.putShortlist(b, r.t, next, j, ms[0]); err != nil {
			return nil, err
		}
		return func() { c.setPart(r.t, next.trim()) }, nil
	})
}
