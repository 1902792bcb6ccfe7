package index

import (
	"fmt"
	"slices"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

// split divides posting p (live content m, tail folded up to last) by
// balanced 2-means: p keeps one half under a new head, a new posting gets
// the other, and the tree gets the new head (SPFresh §4.2).
func (ix *Index) split(p uint32, m *posting.Posting, last uint64) error {
	q, old, c1, c2, parts, err := ix.splitCommit(p, m, last)
	if err != nil || ix.opts.ReassignNeighbors < 0 {
		return err
	}
	return ix.reassignAfterSplit(p, q, old, c1, c2, parts)
}

// splitCommit splits posting p and returns the new posting, the old
// head, the new heads and the halves.
//
// The 2-means runs on m without the writer lock. Under it, the copies
// appended to p since m was read join the nearer half, the first batch
// commits q and the tree record, and the tree edit is published: from
// then on upserts route by the new tree. p keeps its old content in the
// store until no search routed by the old tree can read it (publish.go):
// after a grace period, without the writer lock, the second batch
// rewrites p as its half. Upserts that reach p meanwhile append to its
// tail after the split's sequence, which the second batch keeps.
func (ix *Index) splitCommit(p uint32, m *posting.Posting, last uint64) (q uint32, old, c1, c2 []float32, parts *[2]posting.Posting, err error) {
	dim, rb := ix.man.Dim, ix.rowBytes
	x := make([]float32, m.Len()*dim)
	for i := 0; i < m.Len(); i++ {
		vec.ToFloat32(ix.elem(), m.Vectors[i*rb:(i+1)*rb], x[i*dim:(i+1)*dim])
	}
	c1, c2, labels := cluster.TwoMeans(x, dim, ix.man.Seed^uint64(p)<<20^last)
	parts = new([2]posting.Posting)
	for i, l := range labels {
		parts[l].Add(m.IDs[i], m.Versions[i], m.Vectors[i*rb:(i+1)*rb])
	}

	ix.lockMaint()
	locked := true
	defer func() {
		if locked {
			ix.unlockMaint()
		}
	}()
	// Copies appended since m was read join the nearer half, so that p's
	// tail up to the split's sequence ends empty.
	ix.rmu.RLock()
	t := ix.tails.Get(p)
	ix.rmu.RUnlock()
	if extra := t.After(last, rb); extra != nil {
		xe := make([]float32, dim)
		for i, id := range extra.IDs {
			if !ix.vers.live(id, extra.Vers[i]) {
				continue
			}
			row := extra.Vecs[i*rb : (i+1)*rb]
			vec.ToFloat32(ix.elem(), row, xe)
			l := 0
			if ix.routeDist(xe, c2) < ix.routeDist(xe, c1) {
				l = 1
			}
			parts[l].Add(id, extra.Vers[i], row)
		}
	}
	q = ix.allocPosting()
	old = slices.Clone(ix.tree.Head(int(p)))
	b := ix.store.NewBatch()
	defer b.Close()
	if err = ix.putPosting(b, q, &parts[1], c2); err != nil {
		return
	}
	seq := ix.seq + 1
	ix.tlog.Stage(b, seq, cluster.EncodeSplit(p, q, c1, c2))
	b.Set(keys.U32(keys.Retire, p), encodeKeep(parts[0].IDs))
	if err = b.Commit(true); err != nil {
		err = fmt.Errorf("shoal: split posting %d: %w", p, err)
		return
	}
	if testHookRetire != nil {
		testHookRetire()
	}
	ix.seq = seq
	// treeGen changes with the tree, under rmu: a search that checks it
	// there (SearchBatch's device routing) sees both or neither.
	ix.rmu.Lock()
	err = ix.tree.SplitLeaf(p, q, c1, c2)
	if err == nil {
		ix.treeGen.Add(1)
	}
	ix.rmu.Unlock()
	if err != nil {
		// The record is committed: the in-memory tree can no longer match
		// the log. Stop maintenance; a reopen replays the log.
		err = fmt.Errorf("%w: split posting %d: %v", ErrCorrupt, p, err)
		return
	}
	ix.ctr.splits.Add(1)
	ix.unlockMaint()
	locked = false

	ix.readers.Wait()
	// p's tail up to the split, folded into the halves, goes with its old
	// content.
	b2 := ix.store.NewBatch()
	defer b2.Close()
	if err = ix.putPosting(b2, p, &parts[0], c1); err != nil {
		return
	}
	stageTrim(b2, p, t, seq)
	b2.Delete(keys.U32(keys.Retire, p))
	if err = b2.Commit(true); err != nil {
		err = fmt.Errorf("shoal: split posting %d: %w", p, err)
		return
	}
	ix.trimTail(p, seq)
	for i := range parts {
		if parts[i].Len() > ix.splitAbove() {
			ix.maint.later([]uint32{p, q}[i])
		}
	}
	err = ix.maybeCheckpoint()
	return
}

// merge removes posting p, whose live content m is too small to be worth
// a head, and re-inserts its vectors into their nearest other postings.
// The stored posting is deleted only after a grace period (publish.go).
func (ix *Index) merge(p uint32, m *posting.Posting, last uint64) error {
	if err := ix.mergeLocked(p, m, last); err != nil {
		return err
	}
	return ix.maybeCheckpoint()
}

// mergeLocked does merge's work but the tree checkpoint, under the writer
// lock.
func (ix *Index) mergeLocked(p uint32, m *posting.Posting, last uint64) error {
	ix.lockMaint()
	defer ix.unlockMaint()
	ix.rmu.RLock()
	t := ix.tails.Get(p)
	ix.rmu.RUnlock()
	ix.addTailAfter(m, p, last)
	// m was read before the writer lock: drop copies an upsert or delete
	// made stale since, or the re-insert would bring back an old vector
	// at the current version.
	m = ix.liveOf(m)
	b := ix.store.NewBatch()
	defer b.Close()
	stageTrim(b, p, t, ix.seq)
	b.Set(keys.U32(keys.Retire, p), nil)
	seq := ix.seq + 1
	ix.tlog.Stage(b, seq, cluster.EncodeRemove(p))
	ix.seq = seq
	re, err := ix.stageReinsert(b, m, p, nil)
	if err != nil {
		return err
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: merge posting %d: %w", p, err)
	}
	if testHookRetire != nil {
		testHookRetire()
	}
	ix.rmu.Lock()
	err = ix.tree.RemoveLeaf(p)
	if err == nil {
		ix.publishReinsert(re)
		ix.treeGen.Add(1)
	}
	ix.rmu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: merge posting %d: %v", ErrCorrupt, p, err)
	}
	ix.trimTail(p, ix.seq)
	ix.ctr.merges.Add(1)
	ix.graceUnlocked()
	ix.finishReinsert(re)
	b2 := ix.store.NewBatch()
	defer b2.Close()
	b2.DeletePosting(p)
	b2.Delete(keys.U32(keys.Retire, p))
	if err := b2.Commit(false); err != nil {
		return fmt.Errorf("shoal: merge posting %d: %w", p, err)
	}
	return nil
}

// addTailAfter appends to m the current copies of p's tail appended after
// sequence last (since m was read). The caller holds wmu.
func (ix *Index) addTailAfter(m *posting.Posting, p uint32, last uint64) {
	ix.rmu.RLock()
	extra := ix.tails.Get(p).After(last, ix.rowBytes)
	ix.rmu.RUnlock()
	ix.addLive(m, extra)
}
