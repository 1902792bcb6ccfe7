package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/tenant"
)

// Tenants, after Curator (Jin et al., arXiv 2401.07119).
//
// A tenant is a uint32 id other than 0. Every vector has at most one owner
// tenant (UpsertOwned) and may be granted to other tenants (Grant, Revoke);
// a tenant may read the vectors on its access list, which holds what it
// owns and what it was granted (package tenant's roaring lists).
//
// A tenant search (SearchParams.Tenant) does not filter the shared
// postings: every tenant has its own shortlists (shortlist.go), postings
// holding the rows of the vectors it may read, cut along the shared
// clustering tree, and reads the nearest of them. Memory per tenant is one
// centroid per shortlist; the shared tree and heads are not copied.
//
// Records, in the posting store's caller namespace, written in the same
// Pebble batch as the write they belong to:
//
//	'n' tenant u32 (BE)               → (empty)             the tenant exists
//	'o' id u64 (BE)                   → vv u8, u32 LE × n   id's access record: its
//	                                                        value version and the tenants
//	                                                        that may read it, owner (or 0) first
//	's' tenant u32 (BE), posting u32  → rows u32 LE, centroid f32 LE × dim
//	                                                        one shortlist of the tenant
//
// Concurrency: tenant writes (CreateTenant, DropTenant, UpsertOwned, Own,
// Grant, Revoke, and upserts or deletes of vectors tenants may read) are
// serialised with the other writers; searches never wait for them. A
// tenant search that overlaps a write may miss what the write changes,
// including rows a split of one of its shortlists moved to the new
// shortlist (the rule upserts follow; splits and merges of the shared
// postings give the stronger guarantee of publish.go).
//
// The value version vv counts upserts of an id with an access record;
// shortlist rows carry it in their version byte, so a row is current when
// its id is live, its vv is the id's and the tenant may read the id. (The
// version of the shared copies does not serve: maintenance changes it
// when it re-places a vector, without changing the vector.) An id's
// record outlives a Delete, with no tenants, to keep its vv.

// Tenant errors.
var (
	// ErrUnknownTenant reports a tenant that was never created or was
	// dropped, or tenant 0.
	ErrUnknownTenant = errors.New("shoal: unknown tenant")
	// ErrTenantExists reports CreateTenant of a tenant that exists.
	ErrTenantExists = errors.New("shoal: tenant exists")
)

const (
	keyTenant    = 'n'
	keyAccess    = 'o'
	keyShortlist = 's'
)

// tenants is an index's tenant state. Writers change it holding ix.wmu;
// searches read lists (snapshot views) and parts (immutable values).
type tenants struct {
	lists *tenant.Lists
	vv    *versionMap // value version per id with an access record

	mu    sync.RWMutex
	parts map[tenant.ID]*shortlists // replaced whole, never changed
	// next is the lowest posting id above every shortlist (under wmu).
	next uint32
	// sweep collects stale shortlist rows (shortlist_sweep.go).
	sweep slSweep
}

func newTenants() *tenants {
	return &tenants{lists: tenant.NewLists(), vv: newVersionMap(), parts: make(map[tenant.ID]*shortlists)}
}

// part returns tenant t's shortlists (nil for none).
func (ts *tenants) part(t tenant.ID) *shortlists {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	return ts.parts[t]
}

// setPart publishes tenant t's shortlists (nil: none).
func (ts *tenants) setPart(t tenant.ID, s *shortlists) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if s == nil || len(s.ids) == 0 {
		delete(ts.parts, t)
		return
	}
	ts.parts[t] = s
}

// allocPosting returns a fresh posting id for a new leaf or shortlist:
// above every leaf id the tree ever used and every shortlist. The caller
// holds wmu.
func (ix *Index) allocPosting() uint32 {
	id := max(uint32(ix.tree.NumLeaves()), ix.ten.next)
	ix.ten.next = id + 1
	return id
}

func tenantKey(t tenant.ID) []byte {
	k := make([]byte, 5)
	k[0] = keyTenant
	binary.BigEndian.PutUint32(k[1:], uint32(t))
	return k
}

func shortlistKey(t tenant.ID, p uint32) []byte {
	k := make([]byte, 9)
	k[0] = keyShortlist
	binary.BigEndian.PutUint32(k[1:], uint32(t))
	binary.BigEndian.PutUint32(k[5:], p)
	return k
}

// accessRec is an id's access record.
type accessRec struct {
	vv      uint8
	owner   tenant.ID   // 0: none
	granted []tenant.ID // other tenants that may read the id
}

func (a *accessRec) encode() []byte {
	b := make([]byte, 1, 5+4*len(a.granted))
	b[0] = a.vv
	b = binary.LittleEndian.AppendUint32(b, uint32(a.owner))
	for _, t := range a.granted {
		b = binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	return b
}

func decodeAccess(b []byte) (accessRec, error) {
	if len(b) < 5 || (len(b)-1)%4 != 0 {
		return accessRec{}, fmt.Errorf("%w: access record of %d bytes", ErrCorrupt, len(b))
	}
	a := accessRec{vv: b[0], owner: tenant.ID(binary.LittleEndian.Uint32(b[1:]))}
	for o := 5; o < len(b); o += 4 {
		a.granted = append(a.granted, tenant.ID(binary.LittleEndian.Uint32(b[o:])))
	}
	return a, nil
}

// readers returns every tenant that may read the id.
func (a *accessRec) readers() []tenant.ID {
	out := make([]tenant.ID, 0, 1+len(a.granted))
	if a.owner != 0 {
		out = append(out, a.owner)
	}
	return append(out, a.granted...)
}

// accessMany returns the access records of ids, which must be distinct
// (ok[i] is false for an id with none), reading them in id order with one
// iterator.
func (ix *Index) accessMany(ids []uint64) (recs []accessRec, ok []bool, err error) {
	order, keys := sortedIDKeys(keyAccess, ids)
	recs, ok = make([]accessRec, len(ids)), make([]bool, len(ids))
	err = ix.store.GetSorted(keys, func(j int, v []byte) error {
		i := order[j]
		a, err := decodeAccess(v)
		if err != nil {
			return fmt.Errorf("id %d: %w", ids[i], err)
		}
		recs[i], ok[i] = a, true
		return nil
	})
	return recs, ok, err
}

// checkTenant returns t as a tenant.ID if it exists.
func (ix *Index) checkTenant(t uint32) (tenant.ID, error) {
	if t == 0 || !ix.ten.lists.Exists(tenant.ID(t)) {
		return 0, fmt.Errorf("%w: %d", ErrUnknownTenant, t)
	}
	return tenant.ID(t), nil
}

// CreateTenant adds tenant t (not 0) with an empty access list. It is
// durable on return.
func (ix *Index) CreateTenant(t uint32) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	if t == 0 {
		return fmt.Errorf("%w: tenant 0 is reserved", ErrBadInput)
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if ix.ten.lists.Exists(tenant.ID(t)) {
		return fmt.Errorf("%w: %d", ErrTenantExists, t)
	}
	b := ix.store.NewBatch()
	defer b.Close()
	b.Set(tenantKey(tenant.ID(t)), nil)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: create tenant %d: %w", t, err)
	}
	return ix.ten.lists.Create(tenant.ID(t))
}

// CreateTenants is CreateTenant for several tenants in one atomic,
// durable batch; none is created if any exists or repeats, or is 0.
func (ix *Index) CreateTenants(ts []uint32) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	seen := make(map[uint32]bool, len(ts))
	for _, t := range ts {
		switch {
		case t == 0:
			return fmt.Errorf("%w: tenant 0 is reserved", ErrBadInput)
		case seen[t]:
			return fmt.Errorf("%w: tenant %d twice", ErrBadInput, t)
		case ix.ten.lists.Exists(tenant.ID(t)):
			return fmt.Errorf("%w: %d", ErrTenantExists, t)
		}
		seen[t] = true
	}
	b := ix.store.NewBatch()
	defer b.Close()
	for _, t := range ts {
		b.Set(tenantKey(tenant.ID(t)), nil)
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: create tenants: %w", err)
	}
	for _, t := range ts {
		if err := ix.ten.lists.Create(tenant.ID(t)); err != nil {
			return err
		}
	}
	return nil
}

// Tenants returns the tenants, in increasing order.
func (ix *Index) Tenants() []uint32 {
	ts := ix.ten.lists.Tenants()
	out := make([]uint32, len(ts))
	for i, t := range ts {
		out[i] = uint32(t)
	}
	return out
}

// TenantLen returns the number of vectors tenant t may read.
func (ix *Index) TenantLen(t uint32) (int, error) {
	id, err := ix.checkTenant(t)
	if err != nil {
		return 0, err
	}
	n, err := ix.ten.lists.Count(id)
	return int(n), err
}

// CanRead reports whether tenant t may read vector id.
func (ix *Index) CanRead(t uint32, id uint64) bool {
	return ix.ten.lists.Can(tenant.ID(t), id) && ix.Contains(id)
}

// DropTenant removes tenant t: the vectors it owns are deleted, its grants
// on other tenants' vectors end, and its shortlists go. It is atomic and
// durable on return.
func (ix *Index) DropTenant(t uint32) error {
	tid, err := ix.lockTenantWrite(t, nil, false)
	if err != nil {
		return err
	}
	defer ix.wmu.Unlock()
	view, err := ix.ten.lists.View(tid)
	if err != nil {
		return err
	}
	b := ix.store.NewBatch()
	defer b.Close()
	var owned []uint64
	recs := make(map[uint64]accessRec)
	ids := view.ToArray()
	all, found, err := ix.accessMany(ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		a := all[i]
		if !found[i] {
			continue
		}
		if a.owner == tid {
			owned = append(owned, id)
			a.owner = 0
		}
		a.granted = slices.DeleteFunc(a.granted, func(g tenant.ID) bool { return g == tid })
		recs[id] = a
		b.Set(idKey(keyAccess, id), a.encode())
	}
	gone := ix.stageDelete(b, owned)
	dropLabels := ix.stageLabelDelete(b, gone)
	for _, id := range gone {
		// Deleted vectors leave every list (their record keeps vv only).
		a := recs[id]
		for _, g := range a.readers() {
			ix.ten.lists.Remove(g, id)
		}
		ix.noteShortlistStale(len(a.readers()))
		b.Set(idKey(keyAccess, id), (&accessRec{vv: a.vv}).encode())
	}
	if s := ix.ten.part(tid); s != nil {
		for _, p := range s.ids {
			b.DeletePosting(p)
			b.Delete(shortlistKey(tid, p))
		}
	}
	b.Delete(tenantKey(tid))
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: drop tenant %d: %w", t, err)
	}
	ix.ten.setPart(tid, nil)
	if _, err := ix.ten.lists.Drop(tid); err != nil {
		return err
	}
	ix.publishDelete(gone)
	dropLabels()
	return nil
}

// tenantLoadBatch is how many tenants' ids loadTenants gathers before it
// adds them to their lists (a variable for tests).
var tenantLoadBatch = 4096

// loadTenants rebuilds the tenant state at Open from its records.
func (ix *Index) loadTenants() error {
	ts := newTenants()
	ix.ten = ts
	err := ix.store.ScanPrefix([]byte{keyTenant}, func(k, _ []byte) error {
		if len(k) != 5 {
			return fmt.Errorf("%w: tenant record %x", ErrCorrupt, k)
		}
		return ts.lists.Create(tenant.ID(binary.BigEndian.Uint32(k[1:])))
	})
	if err != nil {
		return err
	}
	byTenant := make(map[tenant.ID][]uint64)
	flush := func() error {
		for t, ids := range byTenant {
			if _, err := ts.lists.Add(t, ids...); err != nil {
				return fmt.Errorf("%w: access record names tenant %d: %v", ErrCorrupt, t, err)
			}
			delete(byTenant, t)
		}
		return nil
	}
	err = ix.store.ScanPrefix([]byte{keyAccess}, func(k, v []byte) error {
		if len(k) != 9 {
			return fmt.Errorf("%w: access record key %x", ErrCorrupt, k)
		}
		id := binary.BigEndian.Uint64(k[1:])
		a, err := decodeAccess(v)
		if err != nil {
			return fmt.Errorf("id %d: %w", id, err)
		}
		ts.vv.set(id, a.vv)
		for _, t := range a.readers() {
			byTenant[t] = append(byTenant[t], id)
		}
		if len(byTenant) > tenantLoadBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	dim := ix.man.Dim
	parts := make(map[tenant.ID]*shortlists)
	err = ix.store.ScanPrefix([]byte{keyShortlist}, func(k, v []byte) error {
		if len(k) != 9 || len(v) != 4+4*dim {
			return fmt.Errorf("%w: shortlist record %x of %d bytes", ErrCorrupt, k, len(v))
		}
		t := tenant.ID(binary.BigEndian.Uint32(k[1:]))
		p := binary.BigEndian.Uint32(k[5:])
		s := parts[t]
		if s == nil {
			s = &shortlists{}
			parts[t] = s
		}
		s.ids = append(s.ids, p)
		s.rows = append(s.rows, int32(binary.LittleEndian.Uint32(v)))
		for i := 0; i < dim; i++ {
			s.cents = append(s.cents, vec.Float16bits(math.Float32frombits(binary.LittleEndian.Uint32(v[4+4*i:]))))
		}
		ts.next = max(ts.next, p+1)
		return nil
	})
	if err != nil {
		return err
	}
	for t, s := range parts {
		if !ts.lists.Exists(t) {
			return fmt.Errorf("%w: shortlists of unknown tenant %d", ErrCorrupt, t)
		}
		ts.setPart(t, s.trim())
	}
	return nil
}

// viewOf returns the access list snapshot of tenant t.
func (ix *Index) viewOf(t uint32) (*roaring64.Bitmap, error) {
	tid, err := ix.checkTenant(t)
	if err != nil {
		return nil, err
	}
	return ix.ten.lists.View(tid)
}

// shortlistOwners maps every shortlist's posting id to its tenant (Check).
func (ts *tenants) shortlistOwners() map[uint32]tenant.ID {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	of := make(map[uint32]tenant.ID)
	for t, s := range ts.parts {
		for _, p := range s.ids {
			of[p] = t
		}
	}
	return of
}

// checkShortlistRows notes the current rows of shortlist p of tenant t
// in rows[t] and checks each against its stored vector (Check).
func (ix *Index) checkShortlistRows(t tenant.ID, p uint32, dec *posting.Posting, rows map[tenant.ID]map[uint64]struct{}, sameAsStored func(uint32, uint64, []byte)) {
	m := rows[t]
	if m == nil {
		m = make(map[uint64]struct{})
		rows[t] = m
	}
	view, err := ix.ten.lists.View(t)
	if err != nil {
		return
	}
	for i, id := range dec.IDs {
		if ix.rowCurrent(view, id, dec.Versions[i]) {
			m[id] = struct{}{}
			sameAsStored(p, id, dec.Row(i))
		}
	}
}

// checkTenants checks, for Check, that every live vector a tenant may
// read has a current row in its shortlists (rows, as the posting scan
// found them), that access lists match the access records, and that every
// shortlist is stored (stored: the shortlists the scan found). The caller
// holds wmu.
func (ix *Index) checkTenants(rows map[tenant.ID]map[uint64]struct{}, stored map[uint32]struct{}) []string {
	var out []string
	for _, t := range ix.ten.lists.Tenants() {
		view, err := ix.ten.lists.View(t)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		ids := view.ToArray()
		recs, found, err := ix.accessMany(ids)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		for i, id := range ids {
			if len(out) >= 20 {
				break
			}
			if !ix.Contains(id) {
				out = append(out, fmt.Sprintf("tenant %d: list holds id %d, which holds no vector", t, id))
				continue
			}
			if _, ok := rows[t][id]; !ok {
				out = append(out, fmt.Sprintf("tenant %d may read id %d but no shortlist of it holds a current row", t, id))
			}
			if !found[i] || !slices.Contains(recs[i].readers(), t) {
				out = append(out, fmt.Sprintf("tenant %d: list holds id %d, its access record does not", t, id))
			}
		}
		if s := ix.ten.part(t); s != nil {
			for _, p := range s.ids {
				if _, ok := stored[p]; !ok {
					out = append(out, fmt.Sprintf("tenant %d: shortlist %d is not stored", t, p))
				}
			}
		}
	}
	err := ix.store.ScanPrefix([]byte{keyAccess}, func(k, v []byte) error {
		id := binary.BigEndian.Uint64(k[1:])
		a, err := decodeAccess(v)
		if err != nil {
			return err
		}
		for _, t := range a.readers() {
			if !ix.ten.lists.Can(t, id) {
				out = append(out, fmt.Sprintf("access record of id %d names tenant %d, whose list lacks it", id, t))
			}
		}
		if len(out) >= 20 {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		out = append(out, err.Error())
	}
	return out
}

// TenantStats describe the tenant state of an index and the memory it
// holds.
type TenantStats struct {
	Tenants int
	// Shortlists and ShortlistRows count every tenant's shortlists and
	// the rows stored in them (stale ones included).
	Shortlists    int
	ShortlistRows int64
	// ShortlistBytes is the memory of the shortlists' centroids and ids;
	// ListBytes of the access lists; VersionBytes of the value versions.
	ShortlistBytes int64
	ListBytes      int64
	VersionBytes   int64
}

// TenantStats returns the tenant state's counts and memory.
func (ix *Index) TenantStats() TenantStats {
	st := TenantStats{Tenants: ix.ten.lists.Len(), ListBytes: ix.ten.lists.Bytes(), VersionBytes: ix.ten.vv.bytes()}
	ix.ten.mu.RLock()
	defer ix.ten.mu.RUnlock()
	for _, s := range ix.ten.parts {
		st.Shortlists += len(s.ids)
		for _, r := range s.rows {
			st.ShortlistRows += int64(r)
		}
		st.ShortlistBytes += int64(cap(s.ids))*4 + int64(cap(s.rows))*4 + int64(cap(s.cents))*2 + 80
	}
	return st
}

// Owner returns the tenant that owns vector id: 0 for a vector with no
// owner; ErrNotFound for an id that holds no vector.
func (ix *Index) Owner(id uint64) (uint32, error) {
	if ix.closed.Load() {
		return 0, ErrClosed
	}
	if !ix.Contains(id) {
		return 0, fmt.Errorf("id %d: %w", id, ErrNotFound)
	}
	recs, _, err := ix.accessMany([]uint64{id})
	if err != nil {
		return 0, err
	}
	return uint32(recs[0].owner), nil
}
