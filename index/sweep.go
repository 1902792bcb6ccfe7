package index

import (
	"errors"
	"fmt"

	"github.com/shoaldb/shoal/posting"
)

// Garbage collection of stale copies. Folds, splits and merges drop the
// stale copies of the postings they rewrite, but deletes (and upserts that
// move a vector elsewhere) leave stale copies in postings that no upsert
// touches again: they cost bytes on every read, and a posting emptied by
// deletes is never merged. The sweep finds them. Once the vectors deleted,
// replaced or re-placed since the last sweep began pass an eighth of the
// live ones, maintenance
// walks every posting, one per unit of work when no fold is due, and
// rewrites those with a quarter or more of their copies stale, or whose
// stale copies leave too few live ones to stay (merge). Drain finishes a sweep that is due.
//
// The debt is kept in memory only: stale copies left at Close wait for
// the next sweep that later deletes cause.

// sweepShare is the stale fraction (1/sweepShare) that makes the sweep
// rewrite a posting; sweepDue the ratio of stale-making vectors to live
// ones (1/sweepDue) that starts a sweep.
const (
	sweepShare = 4
	sweepDue   = 8
)

// noteStale records n vectors whose old copies became stale.
func (m *maintainer) noteStale(n int) {
	if n > 0 {
		m.debt.Add(int64(n))
	}
}

// sweepStep examines the next posting of the sweep in progress, or starts
// a sweep when one is due (any debt at all with all). It reports whether
// it did something. The caller holds m.run.
func (m *maintainer) sweepStep(all bool) (bool, error) {
	ix := m.ix
	if m.cursor < 0 {
		d := m.debt.Load()
		if d == 0 || (!all && d*sweepDue < ix.live.Load()) {
			return false, nil
		}
		m.debt.Add(-d)
		m.cursor = 0
	}
	for {
		n := ix.routeTree().NumLeaves()
		if m.cursor >= n {
			m.cursor = -1
			m.sweeps.Add(1)
			return false, nil
		}
		p := uint32(m.cursor)
		m.cursor++
		ix.rmu.RLock()
		leaf := ix.tree.IsLeaf(p)
		ix.rmu.RUnlock()
		if !leaf {
			continue
		}
		worth, err := ix.worthRewrite(p)
		if err != nil {
			return false, err
		}
		if worth {
			m.swept.Add(1)
			return true, ix.rewrite(p)
		}
		return true, nil
	}
}

// worthRewrite reports whether posting p holds enough stale copies (or
// few enough live ones) for the sweep to rewrite it.
func (ix *Index) worthRewrite(p uint32) (bool, error) {
	var total, live int
	var dec posting.Posting
	err := ix.store.Read(p, func(b []byte) error {
		if err := posting.Decode(b, &dec); err != nil {
			return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, p, err)
		}
		total = len(dec.IDs)
		for i, id := range dec.IDs {
			if ix.vers.live(id, dec.Versions[i]) {
				live++
			}
		}
		return nil
	})
	if errors.Is(err, posting.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// A posting with few live copies is worth a rewrite when the rewrite
	// would merge it (shouldMerge): a posting the build made small stays.
	stale := total > live && (total-live)*sweepShare >= total
	return stale || ix.shouldMerge(live, total, ix.routeTree().LiveLeaves()), nil
}
