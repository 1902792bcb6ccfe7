package index

import (
	"fmt"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/tenant"
)

// Tenants, after Curator (Jin et al., arXiv 2401.07119): package tenant
// holds the tenant state (access lists, access records, shortlists) as a
// tenant.Curator; the methods below are the public face, each one write
// of the index (writer lock, one batch, synced commit, publish) or one
// read of the curator. The concurrency rules are tenant's: writes are
// serialised with the index's other writers, searches never wait.

// Tenant errors.
var (
	// ErrUnknownTenant reports a tenant that was never created or was
	// dropped, or tenant 0.
	ErrUnknownTenant = errs.UnknownTenant
	// ErrTenantExists reports CreateTenant of a tenant that exists.
	ErrTenantExists = errs.TenantExists
)

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

// tenantHost is the index as package tenant sees it (tenant.Host).
type tenantHost struct{ ix *Index }

var _ tenant.Host = tenantHost{}

func (h tenantHost) Live(id uint64) bool                     { return h.ix.Contains(id) }
func (h tenantHost) StoredRows(ids []uint64) ([]byte, error) { return h.ix.storedRows(ids) }
func (h tenantHost) Tree() *cluster.Tree                     { return h.ix.tree }
func (h tenantHost) AllocPosting() uint32                    { return h.ix.allocPosting() }

func (h tenantHost) Write(stage func(tenant.Batch) (func(), error)) error {
	return h.ix.writeSynced("tenant write", func(b posting.Batch) (func() error, error) {
		publish, err := stage(b)
		if err != nil {
			return nil, err
		}
		return func() error { publish(); return nil }, nil
	})
}

// writeSynced runs one write under the writer lock: stage fills a batch
// and returns what to publish once it has committed, synced (nil:
// nothing to write).
func (ix *Index) writeSynced(what string, stage func(b posting.Batch) (publish func() error, err error)) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	b := ix.store.NewBatch()
	defer b.Close()
	publish, err := stage(b)
	if err != nil || publish == nil {
		return err
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: %s: %w", what, err)
	}
	return publish()
}

// allocPosting returns a fresh posting id for a new leaf or shortlist:
// above every leaf id the tree ever used and every shortlist. The caller
// holds wmu.
func (ix *Index) allocPosting() uint32 {
	id := max(uint32(ix.tree.NumLeaves()), ix.nextPosting)
	ix.nextPosting = id + 1
	return id
}

// tenantLoadBatch, if set, is tenant.Config.LoadBatch (a variable for
// tests).
var tenantLoadBatch int

// loadTenants rebuilds the tenant state at Open.
func (ix *Index) loadTenants() error {
	c, err := tenant.Load(ix.store, tenantHost{ix}, tenant.Config{
		Dim: ix.man.Dim, Elem: ix.elem(), Metric: vec.Metric(ix.man.Metric), Seed: ix.man.Seed, MaxSLSize: ix.opts.MaxSLSize,
		LoadBatch: tenantLoadBatch,
	})
	if err != nil {
		return err
	}
	ix.ten = c
	ix.nextPosting = c.NextPosting()
	return nil
}

// tenantWrite runs one tenant write: stage under the writer lock, a
// synced commit, then publish.
func (ix *Index) tenantWrite(what string, stage func(b posting.Batch) (*tenant.Write, error)) error {
	return ix.tenantWriteThen(what, func(b posting.Batch) (*tenant.Write, func(), error) {
		w, err := stage(b)
		return w, nil, err
	})
}

// tenantWriteThen is tenantWrite whose stage also returns what the index
// publishes of the write itself (nil: nothing), after the tenant side and
// still under the writer lock.
func (ix *Index) tenantWriteThen(what string, stage func(b posting.Batch) (*tenant.Write, func(), error)) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	return ix.writeSynced(what, func(b posting.Batch) (func() error, error) {
		w, then, err := stage(b)
		if err != nil || w == nil {
			return nil, err
		}
		return func() error {
			if err := ix.ten.Publish(w); err != nil {
				return err
			}
			if then != nil {
				then()
			}
			return nil
		}, nil
	})
}

// CreateTenant adds tenant t (not 0) with an empty access list. It is
// durable on return.
func (ix *Index) CreateTenant(t uint32) error {
	return ix.CreateTenants([]uint32{t})
}

// CreateTenants is CreateTenant for several tenants in one atomic,
// durable batch; none is created if any exists or repeats, or is 0.
func (ix *Index) CreateTenants(ts []uint32) error {
	ids := make([]tenant.ID, len(ts))
	for i, t := range ts {
		ids[i] = tenant.ID(t)
	}
	return ix.tenantWrite("create tenants", func(b posting.Batch) (*tenant.Write, error) {
		return ix.ten.StageCreate(b, ids)
	})
}

// Tenants returns the tenants, in increasing order.
func (ix *Index) Tenants() []uint32 {
	ts := ix.ten.Tenants()
	out := make([]uint32, len(ts))
	for i, t := range ts {
		out[i] = uint32(t)
	}
	return out
}

// TenantLen returns the number of vectors tenant t may read.
func (ix *Index) TenantLen(t uint32) (int, error) {
	n, err := ix.ten.Count(tenant.ID(t))
	return int(n), err
}

// CanRead reports whether tenant t may read vector id.
func (ix *Index) CanRead(t uint32, id uint64) bool {
	return ix.ten.Can(tenant.ID(t), id) && ix.Contains(id)
}

// DropTenant removes tenant t: the vectors it owns are deleted, its grants
// on other tenants' vectors end, and its shortlists go. It is atomic and
// durable on return.
func (ix *Index) DropTenant(t uint32) error {
	return ix.tenantWriteThen(fmt.Sprintf("drop tenant %d", t), func(b posting.Batch) (*tenant.Write, func(), error) {
		owned, w, err := ix.ten.StageDrop(b, tenant.ID(t))
		if err != nil {
			return nil, nil, err
		}
		gone, states := ix.stageDelete(b, owned)
		dropLabels := ix.lab.StageDelete(b, gone)
		ix.stagePayloadDelete(b, gone)
		return w, func() {
			ix.publishDelete(gone, states)
			dropLabels()
		}, nil
	})
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
	if len(byTenant) == 0 {
		return fmt.Errorf("%w: no tenants", ErrBadInput)
	}
	by := make(map[tenant.ID][]uint64, len(byTenant))
	for t, ids := range byTenant {
		if err := checkIDs(ids); err != nil {
			return fmt.Errorf("tenant %d: %w", t, err)
		}
		by[tenant.ID(t)] = ids
	}
	return ix.tenantWrite("grant", func(b posting.Batch) (*tenant.Write, error) {
		return ix.ten.StageShare(b, by, own)
	})
}

// Revoke ends tenant t's access to the vectors ids that were granted to
// it; ids it may not read are skipped. A tenant cannot lose a vector it
// owns (ErrBadInput): delete it instead. Atomic and durable on return;
// the tenant's searches stop returning the vectors at once, and their
// rows leave its shortlists when those are next rewritten.
func (ix *Index) Revoke(t uint32, ids []uint64) error {
	if err := checkIDs(ids); err != nil {
		return err
	}
	return ix.tenantWrite(fmt.Sprintf("revoke from tenant %d", t), func(b posting.Batch) (*tenant.Write, error) {
		return ix.ten.StageRevoke(b, tenant.ID(t), ids)
	})
}

// TenantStats returns the tenant state's counts and memory.
func (ix *Index) TenantStats() TenantStats {
	s := ix.ten.Stats()
	return TenantStats{
		Tenants: s.Tenants, Shortlists: s.Shortlists, ShortlistRows: s.ShortlistRows,
		ShortlistBytes: s.ShortlistBytes, ListBytes: s.ListBytes, VersionBytes: s.VersionBytes,
	}
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
	o, err := ix.ten.Owner(id)
	return uint32(o), err
}

// viewOf returns the access list snapshot of tenant t.
func (ix *Index) viewOf(t uint32) (*roaring64.Bitmap, error) {
	return ix.ten.View(tenant.ID(t))
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
