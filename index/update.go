package index

import (
	"fmt"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/index/internal/tail"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/tenant"
)

// Upsert stores vectors[i] under ids[i]: ids not in the index are
// inserted, ids in it get the new vector (their old copies become stale and
// are never returned again). The batch is atomic: on error nothing of it
// is stored. Vectors are converted as Build converts them (normalised for
// Cosine, rounded for Float16, exact integers only for Uint8/Int8).
//
// An upsert routes each vector to its nearest heads, keeps up to Replicas
// of them by the RNG rule as Build does, and appends a copy to each of
// those postings' tails: one Pebble batch with the vector, its new version
// and the copies, no read or rewrite of the postings (SPFresh's append).
// Background maintenance later folds tails into the postings.
//
// Unless Options.NoSync is set, Upsert returns after the batch is synced
// to the write-ahead log: an acknowledged upsert survives a crash.
// Concurrent callers share syncs (group commit).
//
// Errors: ErrBadInput for an empty batch, len(ids) != len(vectors), an id
// twice in the batch, a zero vector under Cosine or a value the element
// type cannot hold; ErrDimensionMismatch; ErrNotFinite; the error that
// stopped background maintenance (MaintenanceErr), if it stopped.
func (ix *Index) Upsert(ids []uint64, vectors [][]float32) error {
	return ix.upsert(0, ids, vectors, nil)
}

// UpsertLabeled is Upsert (owner 0) or UpsertOwned that also replaces the
// labels of each ids[i] with labels[i] (nil or empty: none), in the same
// atomic batch. Plain upserts keep an id's labels.
func (ix *Index) UpsertLabeled(owner uint32, ids []uint64, vectors [][]float32, labels [][]uint32) error {
	if labels == nil {
		labels = make([][]uint32, len(ids))
	}
	return ix.upsertWith(tenant.ID(owner), ids, vectors, labels, nil)
}

// UpsertOwned is Upsert with owner as the owner of the vectors: they
// join its access list (and, as for any upsert, the shortlists of every
// tenant that may read them). An id owned by another tenant is
// ErrBadInput; an unknown owner ErrUnknownTenant.
func (ix *Index) UpsertOwned(owner uint32, ids []uint64, vectors [][]float32) error {
	if owner == 0 {
		return fmt.Errorf("%w: tenant 0", ErrUnknownTenant)
	}
	return ix.upsert(tenant.ID(owner), ids, vectors, nil)
}

// testHookUpsertPublished, when set by a test, runs in an upsert once its
// new copies are in the tails and current, still under the writer lock.
var testHookUpsertPublished func()

// upsert stores the vectors; labels, if not nil, replace the ids' labels.
func (ix *Index) upsert(owner tenant.ID, ids []uint64, vectors [][]float32, labels [][]uint32) error {
	return ix.upsertWith(owner, ids, vectors, labels, nil)
}

// upsertWith is upsert that also writes payloads (pw nil: none).
func (ix *Index) upsertWith(owner tenant.ID, ids []uint64, vectors [][]float32, labels [][]uint32, pw []payloadWrite) error {
	if err := ix.writeErr(); err != nil {
		return err
	}
	rows, xs, err := ix.prepareUpsert(ids, vectors)
	if err != nil {
		return err
	}
	if err := ix.maint.admit(); err != nil {
		return err
	}
	var norm [][]uint32
	if labels != nil {
		if norm, err = filter.NormalizeLabels(ids, labels); err != nil {
			return err
		}
	}
	dim, rb := ix.man.Dim, ix.rowBytes
	places := make([][]uint32, len(ids))
	ws := ix.pool.Get().(*workspace)
	for {
		// Route without the writer lock; if the tree changed meanwhile
		// (a split or merge committed), route again.
		gen := ix.treeGen.Load()
		ix.routing <- struct{}{}
		for lo := 0; lo < len(ids); lo += routeChunk {
			hi := min(lo+routeChunk, len(ids))
			ix.placeVectors(ws, xs[lo*dim:hi*dim], places[lo:hi])
		}
		<-ix.routing
		ix.wmu.Lock()
		if ix.treeGen.Load() == gen {
			break
		}
		ix.wmu.Unlock()
	}
	ix.pool.Put(ws)

	b := ix.store.NewBatch()
	defer b.Close()
	ix.vectors.NoteRecords() // before the first record is visible
	states := make([]uint8, len(ids))
	seq0 := ix.seq
	seq := seq0
	for i, id := range ids {
		row := rows[i*rb : (i+1)*rb]
		ver := (ix.stateOf(id)&versionMask + 1) & versionMask
		states[i] = liveState(ver)
		b.Set(keys.ID(keys.State, id), []byte{states[i]})
		b.Set(keys.ID(keys.Vector, id), row)
		val := tail.Value(id, ver, row)
		for _, p := range places[i] {
			seq++
			b.Set(keys.U32U64(keys.Append, p, seq), val)
		}
	}
	tw, err := ix.ten.StageUpsert(b, owner, ids, rows)
	if err != nil {
		ix.wmu.Unlock()
		return err
	}
	publishLabels := func() {}
	if norm != nil || pw != nil {
		if publishLabels, err = ix.stagePayloads(b, ids, norm, pw); err != nil {
			ix.wmu.Unlock()
			return err
		}
	}
	if err := b.Commit(false); err != nil {
		ix.wmu.Unlock()
		return fmt.Errorf("shoal: upsert: %w", err)
	}
	ix.seq = seq
	if err := ix.ten.Publish(tw); err != nil {
		// Committed but not published: memory no longer matches disk, so
		// no maintenance may act on it (a fold could drop the records
		// this write committed). Reopening rebuilds memory from disk.
		err = fmt.Errorf("shoal: upsert committed but not published: %w", err)
		ix.maint.fail(err)
		ix.wmu.Unlock()
		return err
	}
	publishLabels()
	// Publish the new copies and switch each id's version under one hold
	// of the route lock. Folds read the tails under it, without the
	// writer lock, and keep only the copies current when they look: a new
	// copy published before its version would look stale to them, and a
	// fold in between would drop it and delete its log record, leaving
	// the vector live with no current copy (TestFoldDuringUpsertKeepsNewCopies).
	// A search that routes after this sees the new copies; one that routed
	// before may miss the vector, as a search overlapping its upsert may.
	ix.rmu.Lock()
	seq = seq0
	added := 0
	for i, id := range ids {
		row := rows[i*rb : (i+1)*rb]
		for _, p := range places[i] {
			seq++
			ix.tails.Add(p, id, states[i]&versionMask, seq, row)
		}
		if ix.vers.get(id)&stateLive == 0 {
			added++
		}
		ix.vers.set(id, states[i])
	}
	ix.unpend(ids)
	ix.rmu.Unlock()
	if testHookUpsertPublished != nil {
		testHookUpsertPublished()
	}
	ix.live.Add(int64(added))
	ix.maint.noteStale(len(ids) - added)
	ix.wmu.Unlock()

	ix.ctr.upserts.Add(int64(len(ids)))
	ix.maint.poke()
	return ix.syncWrites()
}

// prepareUpsert checks a batch and converts it: rows in the element type,
// and the float32 vectors (normalised for Cosine) that route them.
func (ix *Index) prepareUpsert(ids []uint64, vectors [][]float32) (rows []byte, xs []float32, err error) {
	switch {
	case len(ids) == 0:
		return nil, nil, fmt.Errorf("%w: empty batch", ErrBadInput)
	case len(ids) != len(vectors):
		return nil, nil, fmt.Errorf("%w: %d ids for %d vectors", ErrBadInput, len(ids), len(vectors))
	}
	dim, rb := ix.man.Dim, ix.rowBytes
	rows = make([]byte, len(ids)*rb)
	xs = make([]float32, len(ids)*dim)
	seen := make(map[uint64]struct{}, len(ids))
	for i, id := range ids {
		if _, dup := seen[id]; dup {
			return nil, nil, fmt.Errorf("%w: id %d appears twice in the batch", ErrBadInput, id)
		}
		seen[id] = struct{}{}
		v := vectors[i]
		if len(v) != dim {
			return nil, nil, fmt.Errorf("%w: vector %d (id %d) has %d dimensions, index %d", ErrDimensionMismatch, i, id, len(v), dim)
		}
		if err := vec.CheckFinite(v); err != nil {
			return nil, nil, fmt.Errorf("%w: vector %d (id %d): %v", ErrNotFinite, i, id, err)
		}
		x := xs[i*dim : (i+1)*dim]
		copy(x, v)
		if ix.man.Metric == Cosine && !vec.Normalize(x) {
			return nil, nil, fmt.Errorf("%w: vector %d (id %d) is the zero vector, which has no cosine", ErrBadInput, i, id)
		}
		if err := vec.FromFloat32(ix.elem(), x, rows[i*rb:(i+1)*rb]); err != nil {
			return nil, nil, fmt.Errorf("%w: vector %d (id %d): %v", ErrBadInput, i, id, err)
		}
	}
	return rows, xs, nil
}

// routeChunk is how many vectors an upsert routes under one hold of the
// route lock: enough for the batched tree search to read each block of
// heads once for many vectors, few enough that a writer waiting for the
// lock (and the searches queued behind it) wait milliseconds, not the
// routing of a whole batch.
const routeChunk = 128

// placeVectors sets places[i] to the postings a new copy of vector i of
// xs goes to: its nearest heads filtered by the RNG rule, as at build.
// The vectors are routed together (cluster's SearchBatch) under one hold
// of rmu.
func (ix *Index) placeVectors(ws *workspace, xs []float32, places [][]uint32) {
	dim, c := ix.man.Dim, ix.opts.Candidates
	ix.rmu.RLock()
	defer ix.rmu.RUnlock()
	cands := ix.tree.SearchBatch(xs, c, 2*c, &ws.batch)
	for i := range places {
		ws.kept = cluster.SelectReplicas(ix.tree, ix.rule, xs[i*dim:(i+1)*dim], cands[i], ws.kept[:0])
		places[i] = places[i][:0]
		for _, h := range ws.kept {
			places[i] = append(places[i], h.Leaf)
		}
	}
}

// Delete removes the vectors of ids. Ids that hold no vector are skipped:
// Delete is idempotent and returns how many vectors it removed. The batch
// is atomic, and durable on return unless Options.NoSync is set.
// Deleted vectors are never returned by Search or Get again; their copies
// in postings are dropped when maintenance rewrites those postings.
//
// Errors: ErrBadInput for an empty batch or an id twice in it.
func (ix *Index) Delete(ids []uint64) (int, error) {
	if ix.closed.Load() {
		return 0, ErrClosed
	}
	if err := checkIDs(ids); err != nil {
		return 0, err
	}
	ix.wmu.Lock()
	b := ix.store.NewBatch()
	defer b.Close()
	gone, states := ix.stageDelete(b, ids)
	if len(gone) == 0 {
		ix.wmu.Unlock()
		return 0, nil
	}
	tw, err := ix.ten.StageDelete(b, gone)
	if err != nil {
		ix.wmu.Unlock()
		return 0, err
	}
	dropLabels := ix.lab.StageDelete(b, gone)
	ix.stagePayloadDelete(b, gone)
	if err := b.Commit(false); err != nil {
		ix.wmu.Unlock()
		return 0, fmt.Errorf("shoal: delete: %w", err)
	}
	ix.publishDelete(gone, states)
	dropLabels()
	if err = ix.ten.Publish(tw); err != nil {
		err = fmt.Errorf("shoal: delete committed but not published: %w", err)
		ix.maint.fail(err)
	}
	ix.wmu.Unlock()
	if err != nil {
		return 0, err
	}
	return len(gone), ix.syncWrites()
}

// stageDelete stages in b the deletion of those of ids that hold a vector
// and returns them, with the state each is left in. The caller holds wmu
// and calls publishDelete after b commits.
func (ix *Index) stageDelete(b posting.Batch, ids []uint64) (gone []uint64, states []uint8) {
	for _, id := range ids {
		st := ix.stateOf(id)
		if st&stateLive == 0 {
			continue
		}
		// Keep the version: a later upsert of id must not revive copies
		// written at it.
		b.Set(keys.ID(keys.State, id), []byte{st & versionMask})
		b.Delete(keys.ID(keys.Vector, id))
		gone = append(gone, id)
		states = append(states, st&versionMask)
	}
	return gone, states
}

// publishDelete makes the committed deletion of gone, leaving them in
// states, visible. The caller holds wmu.
func (ix *Index) publishDelete(gone []uint64, states []uint8) {
	for i, id := range gone {
		ix.vers.set(id, states[i])
	}
	ix.unpend(gone)
	ix.live.Add(-int64(len(gone)))
	ix.maint.noteStale(len(gone))
	ix.maint.poke()
	ix.ctr.deletes.Add(int64(len(gone)))
}

// Sync makes every write acknowledged so far durable. With Options.NoSync
// it is the group commit: many unsynced batches, then one Sync.
func (ix *Index) Sync() error {
	if ix.closed.Load() {
		return ErrClosed
	}
	return ix.store.SyncWAL()
}

func (ix *Index) syncWrites() error {
	if ix.opts.NoSync {
		return nil
	}
	if err := ix.store.SyncWAL(); err != nil {
		return fmt.Errorf("shoal: sync: %w", err)
	}
	return nil
}

// Get returns the stored vector of id (normalised for Cosine, as rounded
// to the element type), or ErrNotFound.
func (ix *Index) Get(id uint64) ([]float32, error) {
	if ix.closed.Load() {
		return nil, ErrClosed
	}
	if ix.vers.get(id)&stateLive == 0 {
		return nil, fmt.Errorf("id %d: %w", id, ErrNotFound)
	}
	row, err := ix.storedRow(id)
	if err != nil {
		return nil, err
	}
	out := make([]float32, ix.man.Dim)
	vec.ToFloat32(ix.elem(), row, out)
	return out, nil
}

// storedRows returns the stored vectors of ids (distinct and live), in
// the element type, row after row (vectors.Store.Rows).
func (ix *Index) storedRows(ids []uint64) ([]byte, error) { return ix.vectors.Rows(ids) }

// storedRow returns the stored vector of id, in the element type.
func (ix *Index) storedRow(id uint64) ([]byte, error) { return ix.vectors.Row(id) }

// IsCurrent reports whether a copy of id written at version (as a
// posting's Versions hold it) is current: id holds a vector and the copy
// is not stale. For inspection tools.
func (ix *Index) IsCurrent(id uint64, version uint8) bool {
	return ix.vers.live(id, version)
}

// Contains reports whether id holds a vector.
func (ix *Index) Contains(id uint64) bool {
	return ix.vers.get(id)&stateLive != 0
}

// recoverUpdates rebuilds the in-memory update state from the store at
// Open: id states ('r' keys) over the build's ids, and posting tails ('a'
// keys).
func (ix *Index) recoverUpdates() error {
	ix.vers = newVersionMap()
	ix.vers.setRangeLive(uint64(ix.man.Count))
	if err := scanStates(ix.store, ix.vers.set); err != nil {
		return err
	}
	ix.live.Store(int64(ix.vers.count()))
	tails, top, err := tail.Load(ix.store.ScanPrefix, ix.rowBytes)
	if err != nil {
		return err
	}
	ix.tails, ix.seq = tails, max(ix.seq, top)
	return nil
}
