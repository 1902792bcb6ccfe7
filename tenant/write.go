package tenant

import (
	"fmt"
	"slices"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
)

// Write is the tenant side of one write of the index, staged into its
// batch by a Stage method and made visible by Publish once the batch has
// committed. A Write whose batch fails is dropped: nothing of it is
// visible.
type Write struct {
	create []ID
	drop   ID
	parts  map[ID]*shortlists
	vv     map[uint64]uint8
	add    map[ID][]uint64
	remove map[ID][]uint64
	stale  int // shortlist rows the write makes stale
}

func newWrite() *Write {
	return &Write{parts: make(map[ID]*shortlists), vv: make(map[uint64]uint8), add: make(map[ID][]uint64), remove: make(map[ID][]uint64)}
}

// Publish makes a committed Write visible: new shortlists first, then
// value versions (a tenant search sees a vector's old row or its new
// one), then access list changes. The caller holds the writer lock. A nil
// Write is a no-op.
func (c *Curator) Publish(w *Write) error {
	if w == nil {
		return nil
	}
	for _, t := range w.create {
		if err := c.lists.Create(t); err != nil {
			return err
		}
	}
	for t, s := range w.parts {
		c.setPart(t, s)
	}
	for id, vv := range w.vv {
		c.vv.Set(id, vv)
	}
	for t, ids := range w.add {
		if _, err := c.lists.Add(t, ids...); err != nil {
			return err
		}
	}
	for t, ids := range w.remove {
		c.lists.Remove(t, ids...)
	}
	if w.drop != 0 {
		c.setPart(w.drop, nil)
		if _, err := c.lists.Drop(w.drop); err != nil {
			return err
		}
	}
	c.NoteStale(w.stale)
	return nil
}

// StageCreate stages the creation of tenants ts, none of which may exist,
// be 0 or repeat.
func (c *Curator) StageCreate(b Batch, ts []ID) (*Write, error) {
	seen := make(map[ID]bool, len(ts))
	for _, t := range ts {
		switch {
		case t == 0:
			return nil, fmt.Errorf("%w: tenant 0 is reserved", errs.BadInput)
		case seen[t]:
			return nil, fmt.Errorf("%w: tenant %d twice", errs.BadInput, t)
		case c.lists.Exists(t):
			return nil, fmt.Errorf("%w: %d", errs.TenantExists, t)
		}
		seen[t] = true
	}
	w := newWrite()
	for _, t := range ts {
		b.Set(keys.U32(keys.Tenant, uint32(t)), nil)
		w.create = append(w.create, t)
	}
	return w, nil
}

// StageUpsert stages the tenant side of an upsert of ids (rows in the
// element type) with owner (0: none): access records with new value
// versions, owner's list, and a row in the shortlists of every tenant
// that may read each vector. An id owned by another tenant is
// errs.BadInput.
func (c *Curator) StageUpsert(b Batch, owner ID, ids []uint64, rows []byte) (*Write, error) {
	if owner == 0 && c.lists.Len() == 0 {
		return nil, nil
	}
	if owner != 0 && !c.Exists(owner) {
		return nil, fmt.Errorf("%w: %d", errs.UnknownTenant, owner)
	}
	w := newWrite()
	rowsBy := make(map[ID]*posting.Posting)
	rb := c.rowBytes
	recs, found, err := c.accessMany(ids)
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
				a.granted = slices.DeleteFunc(a.granted, func(g ID) bool { return g == owner })
				w.add[owner] = append(w.add[owner], id)
			default:
				return nil, fmt.Errorf("%w: id %d is owned by tenant %d, not %d", errs.BadInput, id, a.owner, owner)
			}
		}
		b.Set(keys.ID(keys.Access, id), a.encode())
		w.vv[id] = a.vv
		for _, t := range a.readers() {
			m := rowsBy[t]
			if m == nil {
				m = c.rows()
				rowsBy[t] = m
			}
			m.Add(id, a.vv, rows[i*rb:(i+1)*rb])
		}
	}
	return w, c.stageShortlistRows(b, w, rowsBy)
}

// StageDelete stages the end of deleted ids' access: their records keep
// only the value version, and they leave every list once published.
func (c *Curator) StageDelete(b Batch, gone []uint64) (*Write, error) {
	if c.lists.Len() == 0 || len(gone) == 0 {
		return nil, nil
	}
	w := newWrite()
	recs, found, err := c.accessMany(gone)
	if err != nil {
		return nil, err
	}
	for i, id := range gone {
		if !found[i] {
			continue
		}
		a := recs[i]
		for _, t := range a.readers() {
			w.remove[t] = append(w.remove[t], id)
			w.stale++
		}
		b.Set(keys.ID(keys.Access, id), (&accessRec{vv: a.vv}).encode())
	}
	return w, nil
}

// StageDrop stages the removal of tenant t: its grants on other tenants'
// vectors end, its shortlists and record go. It returns the ids t owns:
// the caller stages their deletion in the same batch (their access
// records are staged here, keeping only the value version).
func (c *Curator) StageDrop(b Batch, t ID) (owned []uint64, w *Write, err error) {
	view, err := c.View(t)
	if err != nil {
		return nil, nil, err
	}
	w = newWrite()
	w.drop = t
	ids := view.ToArray()
	all, found, err := c.accessMany(ids)
	if err != nil {
		return nil, nil, err
	}
	for i, id := range ids {
		if !found[i] {
			continue
		}
		a := all[i]
		if a.owner == t {
			// The vector is deleted: it leaves every list.
			owned = append(owned, id)
			for _, g := range a.granted {
				w.remove[g] = append(w.remove[g], id)
			}
			w.stale += len(a.readers())
			b.Set(keys.ID(keys.Access, id), (&accessRec{vv: a.vv}).encode())
			continue
		}
		a.granted = slices.DeleteFunc(a.granted, func(g ID) bool { return g == t })
		b.Set(keys.ID(keys.Access, id), a.encode())
	}
	if s := c.part(t); s != nil {
		for _, p := range s.ids {
			b.DeletePosting(p)
			b.Delete(keys.U32U32(keys.Shortlist, uint32(t), p))
		}
	}
	b.Delete(keys.U32(keys.Tenant, uint32(t)))
	return owned, w, nil
}

// StageShare stages grants (or, with own, ownership) of each tenant of
// byTenant over its ids, which must hold vectors: they join its list and
// its shortlists. Ids a tenant may read already are skipped; with own, an
// id owned by another tenant is errs.BadInput.
func (c *Curator) StageShare(b Batch, byTenant map[ID][]uint64, own bool) (*Write, error) {
	ts := make([]ID, 0, len(byTenant))
	for t := range byTenant {
		if !c.Exists(t) {
			return nil, fmt.Errorf("%w: %d", errs.UnknownTenant, t)
		}
		ts = append(ts, t)
	}
	slices.Sort(ts)
	// Every id's access record once, changed by every tenant in turn.
	pos := make(map[uint64]int)
	var all []uint64
	for _, t := range ts {
		for _, id := range byTenant[t] {
			if _, ok := pos[id]; ok {
				continue
			}
			if !c.host.Live(id) {
				return nil, fmt.Errorf("id %d: %w", id, errs.NotFound)
			}
			pos[id] = len(all)
			all = append(all, id)
		}
	}
	recs, _, err := c.accessMany(all)
	if err != nil {
		return nil, err
	}
	changed := make([]bool, len(all))
	w := newWrite()
	rowsBy := make(map[ID]*posting.Posting)
	for _, t := range ts {
		var need []uint64
		var needVV []uint8
		for _, id := range byTenant[t] {
			a := &recs[pos[id]]
			granted := slices.Contains(a.granted, t)
			switch {
			case a.owner == t:
				continue
			case own && a.owner != 0:
				return nil, fmt.Errorf("%w: id %d is owned by tenant %d", errs.BadInput, id, a.owner)
			case own:
				a.owner = t
				a.granted = slices.DeleteFunc(a.granted, func(g ID) bool { return g == t })
			case granted:
				continue
			default:
				a.granted = append(a.granted, t)
			}
			changed[pos[id]] = true
			if granted {
				continue // already readable: it has its row
			}
			need = append(need, id)
			needVV = append(needVV, a.vv)
			w.add[t] = append(w.add[t], id)
		}
		if len(need) == 0 {
			continue
		}
		rows, err := c.host.StoredRows(need)
		if err != nil {
			return nil, err
		}
		rowsBy[t] = &posting.Posting{Elem: c.cfg.Elem, Dim: c.cfg.Dim, IDs: need, Versions: needVV, Vectors: rows}
	}
	for i, id := range all {
		if changed[i] {
			b.Set(keys.ID(keys.Access, id), recs[i].encode())
		}
	}
	return w, c.stageShortlistRows(b, w, rowsBy)
}

// StageRevoke stages the end of tenant t's access to the ids granted to
// it; ids it may not read are skipped, and an id it owns is errs.BadInput
// (delete it instead). It returns a nil Write when nothing changes. Rows
// leave t's shortlists when those are next rewritten.
func (c *Curator) StageRevoke(b Batch, t ID, ids []uint64) (*Write, error) {
	if !c.Exists(t) {
		return nil, fmt.Errorf("%w: %d", errs.UnknownTenant, t)
	}
	recs, found, err := c.accessMany(ids)
	if err != nil {
		return nil, err
	}
	w := newWrite()
	for i, id := range ids {
		a := recs[i]
		if !found[i] {
			continue
		}
		if a.owner == t {
			return nil, fmt.Errorf("%w: tenant %d owns id %d; delete it instead of revoking", errs.BadInput, t, id)
		}
		n := len(a.granted)
		a.granted = slices.DeleteFunc(a.granted, func(g ID) bool { return g == t })
		if len(a.granted) == n {
			continue
		}
		b.Set(keys.ID(keys.Access, id), a.encode())
		w.remove[t] = append(w.remove[t], id)
		w.stale++
	}
	if len(w.remove) == 0 {
		return nil, nil
	}
	return w, nil
}

// stageShortlistRows stages the rows of rowsBy into each tenant's
// shortlists.
func (c *Curator) stageShortlistRows(b Batch, w *Write, rowsBy map[ID]*posting.Posting) error {
	for t, m := range rowsBy {
		s, err := c.stageShortlists(b, t, m)
		if err != nil {
			return err
		}
		w.parts[t] = s
	}
	return nil
}
