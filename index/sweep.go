package index

import (
	"fmt"

	"github.com/shoaldb/shoal/posting"
)

// Garbage collection of stale copies. Folds, splits and merges drop the
// stale copies of the postings they rewrite, but deletes (and upserts that
// move a vector elsewhere) leave stale copies in postings that no upsert
// touches again: they cost bytes on every read, and a posting emptied by
// deletes is never merged. The sweep finds them. Once the vectors deleted,
// replaced or re-placed since the last sweep began pass an eighth of the
// live ones, maintenance walks every posting, sweepBatch at a time (one
// batched read) per unit of work when no fold is due, and rewrites those
// with a quarter or more of their copies stale, or whose stale copies
// leave too few live ones to stay (merge). Drain finishes a sweep that is
// due.
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
	// The next sweepBatch postings are read in one batch; those worth it
	// are rewritten.
	n := ix.numLeaves()
	if m.cursor >= n {
		m.cursor = -1
		m.sweeps.Add(1)
		return false, nil
	}
	var ids []uint32
	ix.rmu.RLock()
	for m.cursor < n && len(ids) < sweepBatch {
		if p := uint32(m.cursor); ix.tree.IsLeaf(p) {
			ids = append(ids, p)
		}
		m.cursor++
	}
	ix.rmu.RUnlock()
	worth, err := ix.worthRewrite(ids)
	if err != nil {
		return false, err
	}
	for _, p := range worth {
		m.swept.Add(1)
		if err := ix.rewrite(p); err != nil {
			return false, err
		}
	}
	return true, nil
}

// sweepBatch is how many postings one unit of the sweep examines, with
// one batched read.
const sweepBatch = 64

// worthRewrite returns those of the postings ids that hold enough stale
// copies (or few enough live ones) for the sweep to rewrite them.
func (ix *Index) worthRewrite(ids []uint32) ([]uint32, error) {
	var dec posting.Posting
	var out []uint32
	leaves := ix.liveLeaves()
	err := ix.store.ReadBatch(ids, func(i int, b []byte) error {
		if err := posting.Decode(b, &dec); err != nil {
			return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, ids[i], err)
		}
		total, live := len(dec.IDs), 0
		for j, id := range dec.IDs {
			if ix.vers.live(id, dec.Versions[j]) {
				live++
			}
		}
		// A posting with few live copies is worth a rewrite when the
		// rewrite would merge it (shouldMerge): a posting the build made
		// small stays.
		stale := total > live && (total-live)*sweepShare >= total
		if stale || ix.shouldMerge(live, total, leaves) {
			out = append(out, ids[i])
		}
		return nil
	})
	return out, err
}
