package index

import (
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
// postings an upsert would choose, never posting skip. The caller holds
// wmu.
func (ix *Index) stageReinsert(b posting.Batch, m *posting.Posting, skip uint32) (*reinsertion, error) {
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
		vec.ToFloat32(ix.elem(), row, x)
		c := ix.opts.Candidates
		ix.rmu.RLock()
		cands := ix.tree.Search(x, c+1, 2*c, &ws.route)
		cands = slices.DeleteFunc(cands, func(h cluster.Candidate) bool { return h.Leaf == skip })
		ws.kept = cluster.SelectReplicas(ix.tree, ix.rule, x, cands, ws.kept[:0])
		ix.rmu.RUnlock()
		ver := (m.Versions[i] + 1) & versionMask
		st := liveState(ver)
		b.Set(keys.ID(keys.State, id), []byte{st})
		val := tail.Value(id, ver, row)
		var places []uint32
		var seqs []uint64
		for _, h := range ws.kept {
			ix.seq++
			b.Set(keys.U32U64(keys.Append, h.Leaf, ix.seq), val)
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
// edit and, after a grace period, makes it current. The caller holds wmu.
func (ix *Index) placeReinsert(re *reinsertion) {
	ix.rmu.Lock()
	ix.publishReinsert(re)
	ix.rmu.Unlock()
	ix.readers.Wait()
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
	ix.ctr.reinserts.Add(int64(len(re.ids)))
	ix.maint.noteStale(len(re.ids))
}

// maybeCheckpoint saves the tree once enough records have accumulated.
// The caller holds wmu.
func (ix *Index) maybeCheckpoint() error {
	if !ix.tlog.Due() {
		return nil
	}
	ix.rmu.RLock()
	compact := ix.tree.Compact()
	ix.rmu.RUnlock()
	return ix.tlog.Checkpoint(ix.store, compact, ix.seq)
}
