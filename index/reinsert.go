package index

import (
	"maps"
	"slices"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/index/internal/tail"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

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
// postings an upsert would choose, never posting skip. routes, if not nil,
// holds those postings for each copy of m, found (by routeReinsert) on
// the tree as it is now. The caller holds wmu.
func (ix *Index) stageReinsert(b posting.Batch, m *posting.Posting, skip uint32, routes [][]uint32) (*reinsertion, error) {
	rb := ix.rowBytes
	re := &reinsertion{}
	ws := ix.pool.Get().(*workspace)
	defer ix.pool.Put(ws)
	for i, id := range m.IDs {
		if !ix.vers.live(id, m.Versions[i]) {
			// Superseded or deleted since m was read: re-inserting it would
			// bring an old vector back at the current version.
			continue
		}
		row := m.Vectors[i*rb : (i+1)*rb]
		re.rows = append(re.rows, row...)
		var route []uint32
		if routes != nil {
			route = routes[i]
		} else {
			route = ix.routeCopy(ws, row, skip, nil)
		}
		ver := (m.Versions[i] + 1) & versionMask
		st := liveState(ver)
		b.Set(keys.ID(keys.State, id), []byte{st})
		val := tail.Value(id, ver, row)
		var places []uint32
		var seqs []uint64
		for _, leaf := range route {
			ix.seq++
			b.Set(keys.U32U64(keys.Append, leaf, ix.seq), val)
			places = append(places, leaf)
			seqs = append(seqs, ix.seq)
		}
		re.ids = append(re.ids, id)
		re.states = append(re.states, st)
		re.places = append(re.places, places)
		re.seqs = append(re.seqs, seqs)
	}
	return re, nil
}

// routeCopy appends to dst the postings a re-inserted copy with row goes
// to (as upsert places it, never in posting skip), routing under rmu.
func (ix *Index) routeCopy(ws *workspace, row []byte, skip uint32, dst []uint32) []uint32 {
	x := ws.scratch(ix.man.Dim)
	vec.ToFloat32(ix.elem(), row, x)
	c := ix.opts.Candidates
	ix.rmu.RLock()
	cands := ix.tree.Search(x, c+1, 2*c, &ws.route)
	cands = slices.DeleteFunc(cands, func(h cluster.Candidate) bool { return h.Leaf == skip })
	ws.kept = cluster.SelectReplicas(ix.tree, ix.rule, x, cands, ws.kept[:0])
	ix.rmu.RUnlock()
	for _, h := range ws.kept {
		dst = append(dst, h.Leaf)
	}
	return dst
}

// routeReinsert routes every copy of m (routeCopy) without the writer
// lock, and returns the tree generation it routed on: stageReinsert may
// use the routes while treeGen still has that value.
func (ix *Index) routeReinsert(m *posting.Posting, skip uint32) (gen uint64, routes [][]uint32) {
	ws := ix.pool.Get().(*workspace)
	defer ix.pool.Put(ws)
	gen = ix.treeGen.Load()
	routes = make([][]uint32, m.Len())
	for i := range routes {
		routes[i] = ix.routeCopy(ws, m.Vectors[i*ix.rowBytes:(i+1)*ix.rowBytes], skip, nil)
	}
	return gen, routes
}

// publishReinsert adds the copies of a committed re-insert to their
// postings' tails and marks their versions pending, so that searches accept
// them beside the old copies until finishReinsert. The caller holds wmu
// and rmu.
func (ix *Index) publishReinsert(re *reinsertion) {
	rb := ix.rowBytes
	pend := make(pendingSet, len(re.ids))
	for i, id := range re.ids {
		pend[id] = re.states[i]
	}
	ix.pending.Store(&pend)
	for i, id := range re.ids {
		row := re.rows[i*rb : (i+1)*rb]
		for j, p := range re.places[i] {
			ix.tails.Add(p, id, re.states[i]&versionMask, re.seqs[i][j], row)
		}
	}
}

// placeReinsert publishes a committed re-insert that comes with no tree
// edit and, after a grace period, makes it current. The caller holds wmu
// (lockMaint);
// placeReinsert releases it for the grace period (writers go on while the
// searches in flight finish) and holds it again when it returns.
func (ix *Index) placeReinsert(re *reinsertion) {
	ix.rmu.Lock()
	ix.publishReinsert(re)
	ix.rmu.Unlock()
	ix.graceUnlocked()
	ix.finishReinsert(re)
}

// graceUnlocked waits out a grace period (every search that started
// before it has finished) without the writer lock, which the caller holds
// (lockMaint) before and after. Writers that run meanwhile see the pending
// re-insert's versions through stateOf, and drop their ids from it
// (unpend).
func (ix *Index) graceUnlocked() {
	ix.unlockMaint()
	if testHookGrace != nil {
		testHookGrace()
	}
	ix.readers.Wait()
	ix.lockMaint()
}

// testHookGrace, when set by a test, runs in graceUnlocked without the
// writer lock, before the grace period.
var testHookGrace func()

// finishReinsert switches the re-inserted ids to their new versions (their
// old copies become stale) once no search predating publishReinsert is in
// flight; ids that an upsert or a delete took out of the pending set
// since keep the state that write gave them. The caller holds wmu.
func (ix *Index) finishReinsert(re *reinsertion) {
	if p := ix.pending.Load(); p != nil {
		for _, id := range re.ids {
			if st, ok := (*p)[id]; ok {
				ix.vers.set(id, st)
			}
		}
	}
	ix.pending.Store(nil)
	ix.ctr.reinserts.Add(int64(len(re.ids)))
	ix.maint.noteStale(len(re.ids))
}

// stateOf returns the state of id as the next write must see it: the
// pending state of an id that a re-insert is placing (its batch committed
// that state), else the current one. The caller holds wmu.
func (ix *Index) stateOf(id uint64) uint8 {
	if p := ix.pending.Load(); p != nil {
		if st, ok := (*p)[id]; ok {
			return st
		}
	}
	return ix.vers.get(id)
}

// unpend takes ids out of the pending re-insert, once a write has given
// them their next state: copies at the pending version must not stay
// visible beside it. The caller holds wmu.
func (ix *Index) unpend(ids []uint64) {
	p := ix.pending.Load()
	if p == nil {
		return
	}
	var left pendingSet
	for _, id := range ids {
		if _, ok := (*p)[id]; !ok {
			continue
		}
		if left == nil {
			left = maps.Clone(*p)
		}
		delete(left, id)
	}
	if left != nil {
		ix.pending.Store(&left)
	}
}

// maybeCheckpoint saves the tree once enough records have accumulated.
// The caller is maintenance, without the writer lock: tree edits are
// maintenance's own, so the tree does not change while its file is
// written, and only the commit that makes it the tree file takes the
// lock (a 2M-vector tree file is 67 MB: writing it under the lock held
// upserts for most of a second).
func (ix *Index) maybeCheckpoint() error {
	if !ix.tlog.Due() {
		return nil
	}
	ix.rmu.RLock()
	compact := ix.tree.Compact()
	ix.rmu.RUnlock()
	seq := ix.tlog.Last()
	name, err := ix.tlog.WriteCheckpoint(compact, seq)
	if err != nil {
		return err
	}
	ix.lockMaint()
	defer ix.unlockMaint()
	return ix.tlog.CommitCheckpoint(ix.store, name, seq)
}
