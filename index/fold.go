package index

import (
	"errors"
	"fmt"

	"github.com/shoaldb/shoal/index/internal/tail"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/internal/topk"
	"github.com/shoaldb/shoal/posting"
)

// Posting sizes under updates. A posting splits when it holds more than
// PostingCap copies, the configured bound, as SPFresh splits at SPTAG's
// posting page limit, and merges below a sixteenth of it. Splitting
// earlier (at twice the build's mean posting size, which is often far
// below the cap) keeps postings as small as a fresh build's but cost 7–16
// points of recall@10 at a fixed nprobe on GloVe: every split moves heads
// and strands copies in postings that are no longer among their vectors'
// nearest (docs/BENCHMARKS.md, churn). A tail is folded when it reaches
// half the cap, or earlier, largest first, when all tails together pass
// Options.UpdateBuffer: every fold rewrites a whole posting, so the longer
// tails grow the fewer bytes each upsert costs.
func (ix *Index) splitAbove() int { return ix.opts.PostingCap }

// mergeBelow is the live size under which a posting is merged away.
func (ix *Index) mergeBelow() int { return max(2, ix.opts.PostingCap/16) }

// foldCopies is the tail length at which a posting is folded.
func (ix *Index) foldCopies() int { return max(4, ix.splitAbove()/2) }

// foldBatch is the most postings folded in one batch: one sync of the
// segment file and one of the log for all. On a disk where a sync costs
// about 2 ms, 32 postings a batch held a steady ingest to about 1k
// vectors/s (the folds' syncs were the bottleneck); 128 spread the syncs
// four times as thin for a unit of work that still takes milliseconds.
const foldBatch = 128

// pickFolds chooses up to n postings to fold next: those with the largest
// tails among the tails at least foldCopies long, or among all tails when
// the tails exceed their memory budget or all is set; largest first.
func (ix *Index) pickFolds(all bool, n int) []uint32 {
	over := ix.tails.Bytes() > ix.opts.UpdateBuffer
	need := ix.foldCopies()
	// The n longest tails: the n smallest by (−length, posting id).
	var h topk.Heap[int, uint32]
	h.Reset(n)
	ix.rmu.RLock()
	ix.tails.Each(func(p uint32, t *tail.Tail) {
		l := t.Len()
		if l > 0 && (all || over || l >= need) {
			h.Push(-l, p)
		}
	})
	ix.rmu.RUnlock()
	items := h.Drain()
	out := make([]uint32, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// foldMany brings the postings ps up to date as rewrite does, folding
// those that need neither a split nor a merge in one batch (their reads
// in one submission, one sync for all); the others go through rewrite.
// It returns how many postings it rewrote.
func (ix *Index) foldMany(ps []uint32) (int, error) {
	var fold []foldStaged
	var rest []uint32
	tails := make([]*tail.Tail, 0, len(ps))
	var read []uint32
	ix.rmu.RLock()
	for _, p := range ps {
		if !ix.tree.IsLeaf(p) {
			rest = append(rest, p)
			continue
		}
		read = append(read, p)
		tails = append(tails, ix.tails.Get(p))
	}
	ix.rmu.RUnlock()
	if ix.quantized() {
		return ix.foldCodes(read, tails, rest)
	}
	ms := make([]posting.Posting, len(read))
	stored := make([]int, len(read))
	var dec posting.Posting
	err := ix.store.ReadBatch(read, func(i int, b []byte) error {
		err := ix.addStored(&ms[i], read[i], b, &dec)
		stored[i] = dec.Len()
		return err
	})
	if err != nil {
		return 0, err
	}
	b := ix.store.NewBatch()
	defer b.Close()
	live := ix.liveLeaves()
	for i, p := range read {
		t, m := tails[i], &ms[i]
		ix.addLive(m, t)
		if m.Len() > ix.splitAbove() || ix.shouldMerge(m.Len(), stored[i]+t.Len(), live) {
			rest = append(rest, p)
			continue
		}
		last := t.Last()
		if err := ix.putPosting(b, p, m, nil); err != nil {
			return 0, err
		}
		stageTrim(b, p, t, last)
		fold = append(fold, foldStaged{p, last})
	}
	return ix.finishFolds(b, fold, rest)
}

// foldStaged is a fold staged in a batch: posting p, with its tail up to
// sequence last.
type foldStaged struct {
	p    uint32
	last uint64
}

// finishFolds commits b, which stages the folds fold, trims their tails,
// and rewrites the postings rest one at a time (rewrite); it returns how
// many postings it rewrote in all.
func (ix *Index) finishFolds(b posting.Batch, fold []foldStaged, rest []uint32) (int, error) {
	if len(fold) > 0 {
		if err := b.Commit(true); err != nil {
			return 0, fmt.Errorf("shoal: fold %d postings: %w", len(fold), err)
		}
		for _, f := range fold {
			ix.trimTail(f.p, f.last)
		}
	}
	for _, p := range rest {
		if err := ix.rewrite(p); err != nil {
			return 0, err
		}
	}
	return len(fold) + len(rest), nil
}

// rewrite brings posting p up to date: its tail appended and stale copies
// (superseded or deleted vectors) dropped. A posting that then holds more
// than splitAbove copies is split in two instead (SPFresh's split), and
// one left with fewer than mergeBelow is merged away: its vectors are
// re-inserted elsewhere. Each of these is one batch.
func (ix *Index) rewrite(p uint32) error {
	ix.rmu.RLock()
	t := ix.tails.Get(p)
	leaf := ix.tree.IsLeaf(p)
	ix.rmu.RUnlock()
	if !leaf {
		return ix.dropTail(p)
	}
	last := t.Last()
	var m posting.Posting
	stored, err := ix.readLive(p, &m)
	if err != nil {
		return err
	}
	ix.addLive(&m, t)
	switch {
	case m.Len() > ix.splitAbove():
		return ix.split(p, &m, last)
	case ix.shouldMerge(m.Len(), stored+t.Len(), ix.liveLeaves()):
		return ix.merge(p, &m, last)
	}
	b := ix.store.NewBatch()
	defer b.Close()
	if err := ix.putPosting(b, p, &m, nil); err != nil {
		return err
	}
	stageTrim(b, p, t, last)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: fold posting %d: %w", p, err)
	}
	ix.trimTail(p, last)
	return nil
}

// stageTrim stages in b the deletion of the update-log records of the
// copies of t, posting p's tail, up to sequence last. Each record is
// deleted by its own key, not by a range: Pebble estimates the space every
// range tombstone frees by reading the index blocks of the tables beneath
// it, which cost more CPU than the folds themselves under a steady ingest.
// A record is set once (sequences are never reused while it exists), so
// the deletion is a DeleteOnce: a record folded before its memtable is
// flushed never reaches a table.
func stageTrim(b posting.Batch, p uint32, t *tail.Tail, last uint64) {
	if t == nil {
		return
	}
	for _, s := range t.Seqs {
		if s > last {
			break
		}
		b.DeleteOnce(keys.U32U64(keys.Append, p, s))
	}
}

// trimTail drops the copies up to seq last from p's tail in memory, once
// a committed rewrite holds them.
func (ix *Index) trimTail(p uint32, last uint64) {
	ix.rmu.Lock()
	ix.tails.Trim(p, last, ix.rowBytes)
	ix.rmu.Unlock()
}

// dropTail handles the tail of a posting that is no longer a head (an
// upsert routed to it before the merge that removed it committed): its
// current copies are re-inserted into live postings and the tail is
// dropped, in one batch.
func (ix *Index) dropTail(p uint32) error {
	ix.lockMaint()
	defer ix.unlockMaint()
	ix.rmu.RLock()
	t := ix.tails.Get(p)
	ix.rmu.RUnlock()
	if t.Len() == 0 {
		return nil
	}
	var m posting.Posting
	ix.addLive(&m, t)
	b := ix.store.NewBatch()
	defer b.Close()
	stageTrim(b, p, t, ix.seq)
	re, err := ix.stageReinsert(b, &m, noPosting, nil)
	if err != nil {
		return err
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: drop tail of %d: %w", p, err)
	}
	ix.trimTail(p, ix.seq)
	ix.placeReinsert(re)
	return nil
}

const noPosting = ^uint32(0)

// liveOf returns the copies of m that are current now.
func (ix *Index) liveOf(m *posting.Posting) *posting.Posting {
	var out posting.Posting
	for i, id := range m.IDs {
		if ix.vers.live(id, m.Versions[i]) {
			out.Add(id, m.Versions[i], m.Vectors[i*ix.rowBytes:(i+1)*ix.rowBytes])
		}
	}
	return &out
}

// addLive appends the current copies of tail t (nil for none) to m.
func (ix *Index) addLive(m *posting.Posting, t *tail.Tail) {
	if t == nil {
		return
	}
	for i, id := range t.IDs {
		if ix.vers.live(id, t.Vers[i]) {
			m.Add(id, t.Vers[i], t.Vecs[i*ix.rowBytes:(i+1)*ix.rowBytes])
		}
	}
}

// readLive appends the live copies of posting p's stored part to m and
// returns how many copies, live or not, the stored part holds.
func (ix *Index) readLive(p uint32, m *posting.Posting) (int, error) {
	var dec posting.Posting
	err := ix.store.Read(p, func(b []byte) error { return ix.addStored(m, p, b, &dec) })
	if errors.Is(err, posting.ErrNotFound) {
		return 0, nil
	}
	return dec.Len(), err
}

// shouldMerge reports whether a posting is merged away: it is left with
// live copies (fewer than mergeBelow) of the total it held before stale
// ones were dropped, among leaves live postings. A posting that deletes
// or moves have shrunk merges, as does one of a single copy; a small one
// that only grows does not: a fresh build has many small postings in
// sparse regions, and merging each as inserts reach it turned an
// insert-only load into a stream of merges (6,049 of them in 200k
// inserts into a 1M-vector index), each a re-insert of its copies and a
// tree edit.
func (ix *Index) shouldMerge(live, total, leaves int) bool {
	if live >= ix.mergeBelow() || leaves <= 1 {
		return false
	}
	return live <= 1 || live < total
}

// addStored decodes b, posting p's stored bytes, into dec and appends its
// live copies to m.
func (ix *Index) addStored(m *posting.Posting, p uint32, b []byte, dec *posting.Posting) error {
	if err := posting.Decode(b, dec); err != nil {
		return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, p, err)
	}
	return ix.appendStored(m, p, dec, ix.vers.live)
}

// putPosting stages posting p with m's content in b (deleting it when m is
// empty). In a quantized index the codes are relative to center, or to
// p's head in the tree now when center is nil.
func (ix *Index) putPosting(b posting.Batch, p uint32, m *posting.Posting, center []float32) error {
	if m.Len() == 0 {
		b.DeletePosting(p)
		return nil
	}
	enc, err := ix.encodePosting(p, m, center)
	if err != nil {
		return err
	}
	return b.PutPosting(p, enc)
}
