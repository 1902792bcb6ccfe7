package index

import (
	"errors"
	"fmt"
	"github.com/shoaldb/shoal/internal/vec"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// maintainer runs background maintenance (SPFresh's LIRE): it folds
// posting tails into their postings, dropping stale copies as it goes.
// One goroutine does the work, one posting at a time, so foreground
// searches and upserts never wait for more than one posting's rewrite.
//
// Each unit of work commits with one Pebble batch (the new posting bytes
// are synced first), so a crash leaves a posting either before or after
// the unit, and the tails it did not fold are still in the update log:
// restart resumes where it stopped.
type maintainer struct {
	ix     *Index
	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	run    sync.Mutex // held by the unit of work in progress
	paused atomic.Bool
	err    atomic.Pointer[error]

	mu     sync.Mutex
	cond   *sync.Cond // broadcast when tail bytes fall
	folded atomic.Int64

	qmu   sync.Mutex
	queue []uint32 // postings to rewrite before any tail (over-full halves of a split)

	// Sweep state (sweep.go): debt is the stale copies made since the
	// last sweep began; cursor the next posting of the sweep in progress
	// (-1: none), guarded by run.
	debt   atomic.Int64
	cursor int
	sweeps atomic.Int64
	swept  atomic.Int64
	// compacted counts the live bytes segment compaction moved.
	compacted atomic.Int64
}

// later queues posting p for a rewrite.
func (m *maintainer) later(p uint32) {
	m.qmu.Lock()
	m.queue = append(m.queue, p)
	m.qmu.Unlock()
}

func (m *maintainer) pending() (uint32, bool) {
	m.qmu.Lock()
	defer m.qmu.Unlock()
	if len(m.queue) == 0 {
		return 0, false
	}
	p := m.queue[0]
	m.queue = m.queue[1:]
	return p, true
}

func newMaintainer(ix *Index) *maintainer {
	m := &maintainer{ix: ix, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), cursor: -1}
	m.cond = sync.NewCond(&m.mu)
	return m
}

// start runs the maintainer's goroutine; ix.maint must be set first.
func (m *maintainer) start() {
	go m.loop()
	m.poke()
}

func (m *maintainer) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *maintainer) stop() {
	close(m.quit)
	<-m.done
	m.broadcast()
}

func (m *maintainer) loop() {
	defer close(m.done)
	for {
		select {
		case <-m.quit:
			return
		case <-m.wake:
		}
		for !m.paused.Load() {
			select {
			case <-m.quit:
				return
			default:
			}
			did, err := m.step(false)
			if err != nil {
				m.err.Store(&err)
				break
			}
			if !did {
				break
			}
		}
		m.broadcast()
	}
}

func (m *maintainer) broadcast() {
	m.mu.Lock()
	m.cond.Broadcast()
	m.mu.Unlock()
}

// step does one unit of work, if there is one that is due (or any, with
// all). It reports whether it did something.
func (m *maintainer) step(all bool) (bool, error) {
	m.run.Lock()
	defer m.run.Unlock()
	n := 0
	if p, ok := m.pending(); ok {
		if err := m.ix.rewrite(p); err != nil {
			return false, err
		}
		n = 1
	} else if ps := m.ix.pickFolds(all, foldBatch); len(ps) > 0 {
		var err error
		if n, err = m.ix.foldMany(ps); err != nil {
			return false, err
		}
	} else {
		did, err := m.sweepStep(all)
		if did || err != nil {
			return did, err
		}
		if did, err = m.ix.ten.SweepStep(all); did || err != nil {
			return did, err
		}
		return m.compactStep()
	}
	m.folded.Add(int64(n))
	if m.ix.tailBytes.Load() <= m.ix.opts.UpdateBuffer {
		m.broadcast()
	}
	return true, nil
}

// throttle holds a writer while the tails hold more than twice their
// budget, so that memory stays bounded when upserts outrun maintenance.
// It does not wait while maintenance is paused or stopped.
func (m *maintainer) throttle() {
	limit := 2 * m.ix.opts.UpdateBuffer
	if m.ix.tailBytes.Load() <= limit {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.ix.tailBytes.Load() > limit && !m.paused.Load() && !m.ix.closed.Load() && m.err.Load() == nil {
		m.poke()
		m.cond.Wait()
	}
}

// PauseMaintenance stops background maintenance after its current unit of
// work (for deterministic tests and benchmarks); updates keep working and
// their tails keep growing. ResumeMaintenance restarts it.
func (ix *Index) PauseMaintenance() {
	ix.maint.paused.Store(true)
	ix.maint.run.Lock()
	ix.maint.run.Unlock() //nolint:staticcheck // waits for the unit in progress
	ix.maint.broadcast()
}

// ResumeMaintenance restarts background maintenance.
func (ix *Index) ResumeMaintenance() {
	ix.maint.paused.Store(false)
	ix.maint.poke()
}

// Drain runs maintenance in the calling goroutine until no work is left:
// every tail folded. It works whether or not maintenance is paused, and
// returns the first error.
func (ix *Index) Drain() error {
	if ix.closed.Load() {
		return ErrClosed
	}
	for {
		did, err := ix.maint.step(true)
		if err != nil {
			return err
		}
		if !did {
			return nil
		}
	}
}

// MaintenanceErr returns the error that stopped background maintenance,
// or nil.
func (ix *Index) MaintenanceErr() error {
	if e := ix.maint.err.Load(); e != nil {
		return *e
	}
	return nil
}

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

// foldBatch is the most postings folded in one batch: one sync for all.
const foldBatch = 32

// pickFolds chooses up to n postings to fold next: those with the largest
// tails among the tails at least foldCopies long, or among all tails when
// the tails exceed their memory budget or all is set; largest first.
func (ix *Index) pickFolds(all bool, n int) []uint32 {
	over := ix.tailBytes.Load() > ix.opts.UpdateBuffer
	need := ix.foldCopies()
	type cand struct {
		p   uint32
		len int
	}
	// A min-heap of the n largest, on (len, -p).
	less := func(a, b cand) bool { return a.len < b.len || (a.len == b.len && a.p > b.p) }
	var h []cand
	down := func(i int) {
		for {
			l, min := 2*i+1, i
			if l < len(h) && less(h[l], h[min]) {
				min = l
			}
			if r := l + 1; r < len(h) && less(h[r], h[min]) {
				min = r
			}
			if min == i {
				return
			}
			h[i], h[min] = h[min], h[i]
			i = min
		}
	}
	ix.rmu.RLock()
	for p, t := range ix.tails {
		c := cand{p, t.len()}
		if c.len == 0 || (!all && !over && c.len < need) {
			continue
		}
		if len(h) < n {
			h = append(h, c)
			for i := len(h) - 1; i > 0 && less(h[i], h[(i-1)/2]); i = (i - 1) / 2 {
				h[i], h[(i-1)/2] = h[(i-1)/2], h[i]
			}
		} else if less(h[0], c) {
			h[0] = c
			down(0)
		}
	}
	ix.rmu.RUnlock()
	slices.SortFunc(h, func(a, b cand) int {
		if less(b, a) {
			return -1
		}
		if less(a, b) {
			return 1
		}
		return 0
	})
	out := make([]uint32, len(h))
	for i, c := range h {
		out[i] = c.p
	}
	return out
}

// foldMany brings the postings ps up to date as rewrite does, folding
// those that need neither a split nor a merge in one batch (their reads
// in one submission, one sync for all); the others go through rewrite.
// It returns how many postings it rewrote.
func (ix *Index) foldMany(ps []uint32) (int, error) {
	type staged struct {
		p    uint32
		last uint64
	}
	var fold []staged
	var rest []uint32
	tails := make([]*delta, 0, len(ps))
	var read []uint32
	ix.rmu.RLock()
	for _, p := range ps {
		if !ix.tree.IsLeaf(p) {
			rest = append(rest, p)
			continue
		}
		read = append(read, p)
		tails = append(tails, ix.tails[p])
	}
	ix.rmu.RUnlock()
	ms := make([]posting.Posting, len(read))
	var dec posting.Posting
	err := ix.store.ReadBatch(read, func(i int, b []byte) error {
		return ix.addStored(&ms[i], read[i], b, &dec)
	})
	if err != nil {
		return 0, err
	}
	b := ix.store.NewBatch()
	defer b.Close()
	live := ix.Tree().LiveLeaves()
	for i, p := range read {
		t, m := tails[i], &ms[i]
		ix.addLive(m, t)
		if m.Len() > ix.splitAbove() || (m.Len() < ix.mergeBelow() && live > 1) {
			rest = append(rest, p)
			continue
		}
		var last uint64
		if t.len() > 0 {
			last = t.seqs[len(t.seqs)-1]
		}
		if err := ix.putPosting(b, p, m); err != nil {
			return 0, err
		}
		b.DeleteRange(appendKey(p, 0), appendKey(p, last+1))
		fold = append(fold, staged{p, last})
	}
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
	t := ix.tails[p]
	leaf := ix.tree.IsLeaf(p)
	ix.rmu.RUnlock()
	if !leaf {
		return ix.dropTail(p)
	}
	var last uint64
	if t.len() > 0 {
		last = t.seqs[len(t.seqs)-1]
	}
	var m posting.Posting
	if err := ix.readLive(p, &m); err != nil {
		return err
	}
	ix.addLive(&m, t)
	switch {
	case m.Len() > ix.splitAbove():
		return ix.split(p, &m, last)
	case m.Len() < ix.mergeBelow() && ix.Tree().LiveLeaves() > 1:
		return ix.merge(p, &m, last)
	}
	b := ix.store.NewBatch()
	defer b.Close()
	if err := ix.putPosting(b, p, &m); err != nil {
		return err
	}
	b.DeleteRange(appendKey(p, 0), appendKey(p, last+1))
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: fold posting %d: %w", p, err)
	}
	ix.trimTail(p, last)
	return nil
}

// trimTail drops the copies up to seq last from p's tail in memory, once
// a committed rewrite holds them.
func (ix *Index) trimTail(p uint32, last uint64) {
	ix.rmu.Lock()
	cur := ix.tails[p]
	rest := cur.after(last, ix.rowBytes)
	if rest == nil {
		delete(ix.tails, p)
	} else {
		ix.tails[p] = rest
	}
	ix.rmu.Unlock()
	ix.tailBytes.Add(int64(rest.bytes() - cur.bytes()))
}

// dropTail handles the tail of a posting that is no longer a head (an
// upsert routed to it before the merge that removed it committed): its
// current copies are re-inserted into live postings and the tail is
// dropped, in one batch.
func (ix *Index) dropTail(p uint32) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.rmu.RLock()
	t := ix.tails[p]
	ix.rmu.RUnlock()
	if t.len() == 0 {
		return nil
	}
	var m posting.Posting
	ix.addLive(&m, t)
	b := ix.store.NewBatch()
	defer b.Close()
	b.DeleteRange(appendKey(p, 0), appendKey(p, ix.seq+1))
	re, err := ix.stageReinsert(b, &m, noPosting)
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

// splitCommit does the split of posting p under the writer lock and
// returns the new posting, the old head, the new heads and the halves.
//
// p keeps its old content in the store until no search routed by the old
// tree can read it (publish.go): the first batch adds q and the tree
// record, the second, after a grace period, rewrites p as its half.
func (ix *Index) splitCommit(p uint32, m *posting.Posting, last uint64) (q uint32, old, c1, c2 []float32, parts *[2]posting.Posting, err error) {
	dim := ix.man.Dim
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	// Copies appended since the snapshot join the split, so p's tail ends
	// empty.
	ix.rmu.RLock()
	extra := ix.tails[p].after(last, ix.rowBytes)
	ix.rmu.RUnlock()
	ix.addLive(m, extra)
	x := make([]float32, m.Len()*dim)
	for i := 0; i < m.Len(); i++ {
		vec.ToFloat32(ix.man.Elem, m.Vectors[i*ix.rowBytes:(i+1)*ix.rowBytes], x[i*dim:(i+1)*dim])
	}
	c1, c2, labels := cluster.TwoMeans(x, dim, ix.man.Seed^uint64(p)<<20^ix.seq)
	parts = new([2]posting.Posting)
	for i, l := range labels {
		parts[l].Add(m.IDs[i], m.Versions[i], m.Vectors[i*ix.rowBytes:(i+1)*ix.rowBytes])
	}
	q = ix.allocPosting()
	old = slices.Clone(ix.tree.Head(int(p)))
	b := ix.store.NewBatch()
	defer b.Close()
	if err = ix.putPosting(b, q, &parts[1]); err != nil {
		return
	}
	seq := ix.seq + 1
	b.Set(treeOpKey(seq), encodeSplit(p, q, c1, c2))
	b.Set(retireKey(p), encodeKeep(parts[0].IDs))
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
	ix.splits.Add(1)
	ix.treeOps++
	ix.readers.wait()
	// p's tail, folded into the halves, goes with its old content.
	b2 := ix.store.NewBatch()
	defer b2.Close()
	if err = ix.putPosting(b2, p, &parts[0]); err != nil {
		return
	}
	b2.DeleteRange(appendKey(p, 0), appendKey(p, seq))
	b2.Delete(retireKey(p))
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
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.rmu.RLock()
	extra := ix.tails[p].after(last, ix.rowBytes)
	ix.rmu.RUnlock()
	ix.addLive(m, extra)
	// m was read before the writer lock: drop copies an upsert or delete
	// made stale since, or the re-insert would bring back an old vector
	// at the current version.
	m = ix.liveOf(m)
	b := ix.store.NewBatch()
	defer b.Close()
	b.DeleteRange(appendKey(p, 0), appendKey(p, ix.seq+1))
	b.Set(retireKey(p), nil)
	seq := ix.seq + 1
	b.Set(treeOpKey(seq), encodeRemove(p))
	ix.seq = seq
	re, err := ix.stageReinsert(b, m, p)
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
	grown := 0
	if err == nil {
		grown = ix.publishReinsert(re)
		ix.treeGen.Add(1)
	}
	ix.rmu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: merge posting %d: %v", ErrCorrupt, p, err)
	}
	ix.tailBytes.Add(int64(grown))
	ix.trimTail(p, ix.seq)
	ix.merges.Add(1)
	ix.treeOps++
	ix.readers.wait()
	ix.finishReinsert(re)
	b2 := ix.store.NewBatch()
	defer b2.Close()
	b2.DeletePosting(p)
	b2.Delete(retireKey(p))
	if err := b2.Commit(false); err != nil {
		return fmt.Errorf("shoal: merge posting %d: %w", p, err)
	}
	return ix.maybeCheckpoint()
}

// reinsertion is a staged re-insert, applied to memory after its batch
// commits.
type reinsertion struct {
	ids    []uint64
	states []uint8
	places [][]uint32
	seqs   [][]uint64
	rows   []byte
}

// stageReinsert writes the vectors of m that are still current to b as
// fresh copies at a new version (so every old copy becomes stale) in the
// postings an upsert would choose, never posting skip. The caller holds
// wmu.
func (ix *Index) stageReinsert(b *pebblestore.Batch, m *posting.Posting, skip uint32) (*reinsertion, error) {
	dim, rb := ix.man.Dim, ix.rowBytes
	re := &reinsertion{}
	ws := ix.pool.Get().(*workspace)
	defer ix.pool.Put(ws)
	x := make([]float32, dim)
	for i, id := range m.IDs {
		if !ix.vers.live(id, m.Versions[i]) {
			// Superseded or deleted since m was read: re-inserting it would
			// bring an old vector back at the current version.
			continue
		}
		row := m.Vectors[i*rb : (i+1)*rb]
		re.rows = append(re.rows, row...)
		vec.ToFloat32(ix.man.Elem, row, x)
		c := ix.opts.Candidates
		ix.rmu.RLock()
		cands := ix.tree.Search(x, c+1, 2*c, &ws.route)
		cands = slices.DeleteFunc(cands, func(h cluster.Candidate) bool { return h.Leaf == skip })
		ws.kept = cluster.SelectReplicas(ix.tree, ix.rule, x, cands, ws.kept[:0])
		ix.rmu.RUnlock()
		ver := (m.Versions[i] + 1) & versionMask
		st := liveState(ver)
		b.Set(idKey(keyState, id), []byte{st})
		val := appendValue(id, ver, row)
		var places []uint32
		var seqs []uint64
		for _, h := range ws.kept {
			ix.seq++
			b.Set(appendKey(h.Leaf, ix.seq), val)
			places = append(places, h.Leaf)
			seqs = append(seqs, ix.seq)
		}
		re.ids = append(re.ids, id)
		re.states = append(re.states, st)
		re.places = append(re.places, places)
		re.seqs = append(re.seqs, seqs)
	}
	return re, nil
}

// publishReinsert adds the copies of a committed re-insert to their
// postings' tails and marks their versions pending, so that searches accept
// them beside the old copies until finishReinsert. It returns how many
// bytes the tails grew. The caller holds wmu and rmu.
func (ix *Index) publishReinsert(re *reinsertion) (grown int) {
	rb := ix.rowBytes
	pend := make(pendingSet, len(re.ids))
	for i, id := range re.ids {
		pend[id] = re.states[i]
	}
	ix.pending.Store(&pend)
	for i, id := range re.ids {
		row := re.rows[i*rb : (i+1)*rb]
		for j, p := range re.places[i] {
			t := ix.tails[p]
			grown -= t.bytes()
			t = t.with(id, re.states[i]&versionMask, re.seqs[i][j], row)
			grown += t.bytes()
			ix.tails[p] = t
		}
	}
	return grown
}

// placeReinsert publishes a committed re-insert that comes with no tree
// edit and, after a grace period, makes it current. The caller holds wmu.
func (ix *Index) placeReinsert(re *reinsertion) {
	ix.rmu.Lock()
	grown := ix.publishReinsert(re)
	ix.rmu.Unlock()
	ix.tailBytes.Add(int64(grown))
	ix.readers.wait()
	ix.finishReinsert(re)
}

// finishReinsert switches the re-inserted ids to their new versions (their
// old copies become stale) once no search predating publishReinsert is in
// flight. The caller holds wmu.
func (ix *Index) finishReinsert(re *reinsertion) {
	for i, id := range re.ids {
		ix.vers.set(id, re.states[i])
	}
	ix.pending.Store(nil)
	ix.reinserts.Add(int64(len(re.ids)))
	ix.maint.noteStale(len(re.ids))
}

// maybeCheckpoint saves the tree once enough records have accumulated.
// The caller holds wmu.
func (ix *Index) maybeCheckpoint() error {
	if ix.treeOps < checkpointOps {
		return nil
	}
	return ix.checkpointTree()
}

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
func (ix *Index) addLive(m *posting.Posting, t *delta) {
	for i, id := range t.idsOrNil() {
		if ix.vers.live(id, t.vers[i]) {
			m.Add(id, t.vers[i], t.vecs[i*ix.rowBytes:(i+1)*ix.rowBytes])
		}
	}
}

// readLive appends the live copies of posting p's stored part to m.
func (ix *Index) readLive(p uint32, m *posting.Posting) error {
	var dec posting.Posting
	err := ix.store.Read(p, func(b []byte) error { return ix.addStored(m, p, b, &dec) })
	if errors.Is(err, posting.ErrNotFound) {
		return nil
	}
	return err
}

// addStored decodes b, posting p's stored bytes, into dec and appends its
// live copies to m.
func (ix *Index) addStored(m *posting.Posting, p uint32, b []byte, dec *posting.Posting) error {
	if err := posting.Decode(b, dec); err != nil {
		return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, p, err)
	}
	for i, id := range dec.IDs {
		if ix.vers.live(id, dec.Versions[i]) {
			m.Add(id, dec.Versions[i], dec.Row(i))
		}
	}
	return nil
}

// putPosting stages posting p with m's content in b (deleting it when m is
// empty).
func (ix *Index) putPosting(b *pebblestore.Batch, p uint32, m *posting.Posting) error {
	if m.Len() == 0 {
		b.DeletePosting(p)
		return nil
	}
	m.Elem, m.Dim = ix.man.Elem, ix.man.Dim
	enc := posting.Encode(nil, m)
	return b.PutPosting(p, enc)
}
