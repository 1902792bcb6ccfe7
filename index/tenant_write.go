package index

import (
	"fmt"
	"slices"

	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/tenant"
)

// tenantWrite is the tenant side of one committed write, published by
// publishTenants.
type tenantWrite struct {
	parts map[tenant.ID]*shortlists
	vv    map[uint64]uint8
	add   map[tenant.ID][]uint64
	stale int // shortlist rows the write makes stale
}

func newTenantWrite() *tenantWrite {
	return &tenantWrite{parts: make(map[tenant.ID]*shortlists), vv: make(map[uint64]uint8), add: make(map[tenant.ID][]uint64)}
}

// publishTenants makes a committed tenantWrite visible: new shortlists
// first, then value versions (a tenant search sees a vector's old row or
// its new one), then access list additions. The caller holds wmu.
func (ix *Index) publishTenants(w *tenantWrite) {
	if w == nil {
		return
	}
	for t, s := range w.parts {
		ix.ten.setPart(t, s)
	}
	for id, vv := range w.vv {
		ix.ten.vv.set(id, vv)
	}
	for t, ids := range w.add {
		ix.ten.lists.Add(t, ids...)
	}
	ix.noteShortlistStale(w.stale)
}

// stageShortlistRows stages the rows of rowsBy into each tenant's
// shortlists.
func (ix *Index) stageShortlistRows(b *pebblestore.Batch, w *tenantWrite, rowsBy map[tenant.ID]*members) error {
	for t, m := range rowsBy {
		s, err := ix.stageShortlists(b, t, m)
		if err != nil {
			return err
		}
		w.parts[t] = s
	}
	return nil
}

// stageUpsertAccess stages the tenant side of an upsert of ids (rows in
// the element type): access records with new value versions, owner's
// list, and a row in the shortlists of every tenant that may read each
// vector. The caller holds wmu.
func (ix *Index) stageUpsertAccess(b *pebblestore.Batch, owner tenant.ID, ids []uint64, rows []byte) (*tenantWrite, error) {
	if owner == 0 && ix.ten.lists.Len() == 0 {
		return nil, nil
	}
	w := newTenantWrite()
	rowsBy := make(map[tenant.ID]*members)
	rb := ix.rowBytes
	recs, found, err := ix.accessMany(ids)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		a, ok := recs[i], found[i]
		if !ok && owner == 0 {
			continue
		}
		if ok {
			a.vv++
			w.stale += len(a.readers()) // their rows at the old vv
		}
		if owner != 0 {
			switch a.owner {
			case owner:
			case 0:
				a.owner = owner
				a.granted = slices.DeleteFunc(a.granted, func(g tenant.ID) bool { return g == owner })
				w.add[owner] = append(w.add[owner], id)
			default:
				return nil, fmt.Errorf("%w: id %d is owned by tenant %d, not %d", ErrBadInput, id, a.owner, owner)
			}
		}
		b.Set(idKey(keyAccess, id), a.encode())
		w.vv[id] = a.vv
		for _, t := range a.readers() {
			m := rowsBy[t]
			if m == nil {
				m = &members{}
				rowsBy[t] = m
			}
			m.add(id, a.vv, rows[i*rb:(i+1)*rb])
		}
	}
	return w, ix.stageShortlistRows(b, w, rowsBy)
}

// stageAccessDelete stages the end of deleted ids' access: their records
// keep only the value version. It returns the list removals to make
// once b commits.
func (ix *Index) stageAccessDelete(b *pebblestore.Batch, gone []uint64) (map[tenant.ID][]uint64, error) {
	if ix.ten.lists.Len() == 0 {
		return nil, nil
	}
	revoke := make(map[tenant.ID][]uint64)
	recs, found, err := ix.accessMany(gone)
	if err != nil {
		return nil, err
	}
	for i, id := range gone {
		a := recs[i]
		if !found[i] {
			continue
		}
		for _, t := range a.readers() {
			revoke[t] = append(revoke[t], id)
		}
		b.Set(idKey(keyAccess, id), (&accessRec{vv: a.vv}).encode())
	}
	return revoke, nil
}

// lockTenantWrite checks the arguments of a write of tenant t's access
// (and of ids, if withIDs) and takes wmu, which the caller unlocks when
// it gets no error.
func (ix *Index) lockTenantWrite(t uint32, ids []uint64, withIDs bool) (tenant.ID, error) {
	if ix.closed.Load() {
		return 0, ErrClosed
	}
	if withIDs {
		if err := checkIDs(ids); err != nil {
			return 0, err
		}
	}
	ix.wmu.Lock()
	tid, err := ix.checkTenant(t)
	if err != nil {
		ix.wmu.Unlock()
	}
	return tid, err
}

// checkIDs rejects an empty batch and duplicate ids.
func checkIDs(ids []uint64) error {
	if len(ids) == 0 {
		return fmt.Errorf("%w: empty batch", ErrBadInput)
	}
	seen := make(map[uint64]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: id %d appears twice in the batch", ErrBadInput, id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

// Grant lets tenant t read the vectors ids (which must exist): they join
// its access list and its shortlists. Ids it may read already are
// skipped. The batch is atomic and durable on return.
//
// Errors: ErrUnknownTenant, ErrNotFound for an id with no vector,
// ErrBadInput for an empty batch or an id twice in it.
func (ix *Index) Grant(t uint32, ids []uint64) error {
	return ix.share(map[uint32][]uint64{t: ids}, false)
}

// GrantMany is Grant for several tenants in one atomic, synced batch
// (bulk loads: one sync instead of one per tenant).
func (ix *Index) GrantMany(grants map[uint32][]uint64) error {
	return ix.share(grants, false)
}

// Own makes tenant t the owner of the vectors ids, which must exist and
// have no owner (vectors built offline, or upserted without one). Like
// Grant, it puts them on t's access list and in its shortlists; unlike a
// grant, Revoke cannot take them back and DropTenant deletes them.
func (ix *Index) Own(t uint32, ids []uint64) error {
	return ix.share(map[uint32][]uint64{t: ids}, true)
}

// OwnMany is Own for several tenants in one atomic, synced batch.
func (ix *Index) OwnMany(owned map[uint32][]uint64) error {
	return ix.share(owned, true)
}

// share grants (or, with own, gives) each tenant of byTenant its ids.
func (ix *Index) share(byTenant map[uint32][]uint64, own bool) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	if len(byTenant) == 0 {
		return fmt.Errorf("%w: no tenants", ErrBadInput)
	}
	ts := make([]uint32, 0, len(byTenant))
	for t, ids := range byTenant {
		if err := checkIDs(ids); err != nil {
			return fmt.Errorf("tenant %d: %w", t, err)
		}
		ts = append(ts, t)
	}
	slices.Sort(ts)
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	for _, t := range ts {
		if _, err := ix.checkTenant(t); err != nil {
			return err
		}
	}
	// Every id's access record once, changed by every tenant in turn.
	pos := make(map[uint64]int)
	var all []uint64
	for _, t := range ts {
		for _, id := range byTenant[t] {
			if _, ok := pos[id]; ok {
				continue
			}
			if !ix.Contains(id) {
				return fmt.Errorf("id %d: %w", id, ErrNotFound)
			}
			pos[id] = len(all)
			all = append(all, id)
		}
	}
	recs, _, err := ix.accessMany(all)
	if err != nil {
		return err
	}
	changed := make([]bool, len(all))
	b := ix.store.NewBatch()
	defer b.Close()
	w := newTenantWrite()
	rowsBy := make(map[tenant.ID]*members)
	for _, t := range ts {
		tid := tenant.ID(t)
		var need []uint64
		var needVV []uint8
		for _, id := range byTenant[t] {
			a := &recs[pos[id]]
			granted := slices.Contains(a.granted, tid)
			switch {
			case a.owner == tid:
				continue
			case own && a.owner != 0:
				return fmt.Errorf("%w: id %d is owned by tenant %d", ErrBadInput, id, a.owner)
			case own:
				a.owner = tid
				a.granted = slices.DeleteFunc(a.granted, func(g tenant.ID) bool { return g == tid })
			case granted:
				continue
			default:
				a.granted = append(a.granted, tid)
			}
			changed[pos[id]] = true
			if granted {
				continue // already readable: it has its row
			}
			need = append(need, id)
			needVV = append(needVV, a.vv)
			w.add[tid] = append(w.add[tid], id)
		}
		if len(need) == 0 {
			continue
		}
		rows, err := ix.storedRows(need)
		if err != nil {
			return err
		}
		rowsBy[tid] = &members{ids: need, vers: needVV, vecs: rows}
	}
	for i, id := range all {
		if changed[i] {
			b.Set(idKey(keyAccess, id), recs[i].encode())
		}
	}
	if err := ix.stageShortlistRows(b, w, rowsBy); err != nil {
		return err
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: grant to tenants %v: %w", ts[:min(len(ts), 8)], err)
	}
	ix.publishTenants(w)
	return nil
}

// Revoke ends tenant t's access to the vectors ids that were granted to
// it; ids it may not read are skipped. A tenant cannot lose a vector it
// owns (ErrBadInput): delete it instead. Atomic and durable on return;
// the tenant's searches stop returning the vectors at once, and their
// rows leave its shortlists when those are next rewritten.
func (ix *Index) Revoke(t uint32, ids []uint64) error {
	tid, err := ix.lockTenantWrite(t, ids, true)
	if err != nil {
		return err
	}
	defer ix.wmu.Unlock()
	b := ix.store.NewBatch()
	defer b.Close()
	var gone []uint64
	recs, found, err := ix.accessMany(ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		a := recs[i]
		if !found[i] {
			continue
		}
		if a.owner == tid {
			return fmt.Errorf("%w: tenant %d owns id %d; delete it instead of revoking", ErrBadInput, t, id)
		}
		n := len(a.granted)
		a.granted = slices.DeleteFunc(a.granted, func(g tenant.ID) bool { return g == tid })
		if len(a.granted) == n {
			continue
		}
		b.Set(idKey(keyAccess, id), a.encode())
		gone = append(gone, id)
	}
	if len(gone) == 0 {
		return nil
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: revoke from tenant %d: %w", t, err)
	}
	ix.ten.lists.Remove(tid, gone...)
	ix.noteShortlistStale(len(gone))
	return nil
}
