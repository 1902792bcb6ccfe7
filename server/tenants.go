package server

import (
	"context"
	"errors"
	"math"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Tenants (Curator, through package index's tenant API). The API names
// tenants; the index numbers them (uint32, not 0). Each collection maps
// its tenant names to numbers in catalog records (catalog.go) and in
// collection.tenants. A collection never reuses a tenant number, so a
// tenant deleted and created again is a new tenant: the keys of the old
// one (bound to its number, auth.go) were revoked by the delete and do
// not reach the new one.

// tenantsAPI implements shoal.v1 TenantService.
type tenantsAPI struct {
	*Server
	shoalv1.UnimplementedTenantServiceServer // answers RPCs added to the API later
}

var _ shoalv1.TenantServiceServer = tenantsAPI{}

// loadTenants reads a collection's tenant records and makes the index
// agree with them (the catalog wins: see catalog.go).
func (s *Server) loadTenants(c *collection) error {
	recs, err := s.cat.tenants(c.rec.Number)
	if err != nil {
		return err
	}
	c.tenants = make(map[string]uint32, len(recs))
	inIndex := c.ix.Tenants()
	named := map[uint32]bool{}
	for _, r := range recs {
		c.tenants[r.Name] = r.ID
		named[r.ID] = true
		if !slices.Contains(inIndex, r.ID) {
			s.log.Warn("creating a tenant missing from its index (a create was cut short)", "collection", c.rec.Name, "tenant", r.Name)
			if err := c.ix.CreateTenant(r.ID); err != nil {
				return err
			}
		}
	}
	for _, id := range inIndex {
		if !named[id] {
			s.log.Warn("dropping a tenant without a catalog record (a delete was cut short)", "collection", c.rec.Name, "tenant_id", id)
			if err := c.ix.DropTenant(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// tenantID returns the index's number of tenant name in c.
func (c *collection) tenantID(name string) (uint32, error) {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	id, ok := c.tenants[name]
	if !ok {
		return 0, status.Errorf(codes.NotFound, "tenant %q does not exist in collection %q", name, c.rec.Name)
	}
	return id, nil
}

// tenantFor returns the index's number in c of the tenant a data call
// acts for, name being what scope returned for it: for the admin key,
// name's number (0 for none); for a tenant key, its own tenant's, once
// keyTenant has checked that the key still holds.
func tenantFor(ctx context.Context, c *collection, name string) (uint32, error) {
	p := principalOf(ctx)
	if p.admin {
		return tenantNumber(c, name)
	}
	return c.keyTenant(p)
}

// keyTenant returns the index's number in c of tenant key p's tenant,
// after checking the key's binding against c as it is now: c must be
// the key's collection by number (not a namesake made after a drop) and
// hold the key's tenant under the key's number (not a namesake made
// after a delete). A binding that no longer holds is a revoked key
// (Unauthenticated); another collection is PermissionDenied.
func (c *collection) keyTenant(p principal) (uint32, error) {
	switch {
	case p.admin:
		panic("server: keyTenant of the admin key")
	case c.rec.Number == p.collNum:
	case c.rec.Name == p.coll:
		return 0, status.Errorf(codes.Unauthenticated, "API key %s was revoked: its collection %q was dropped", p.keyID, p.coll)
	default:
		return 0, p.reaches(c.rec.Name)
	}
	c.tmu.Lock()
	id, ok := c.tenants[p.tenant]
	c.tmu.Unlock()
	if !ok || id != p.tenantID {
		return 0, status.Errorf(codes.Unauthenticated, "API key %s was revoked: its tenant %q of collection %q was deleted", p.keyID, p.tenant, p.coll)
	}
	return id, nil
}

// tenantCall checks a tenant call's names and returns its collection,
// held shared: the caller releases it.
func (a tenantsAPI) tenantCall(collection, tenant string) (*collection, error) {
	if err := checkName("tenant", tenant); err != nil {
		return nil, err
	}
	return a.acquire(collection)
}

func (a tenantsAPI) CreateTenant(ctx context.Context, req *shoalv1.CreateTenantRequest) (*shoalv1.CreateTenantResponse, error) {
	c, err := a.tenantCall(req.GetCollection(), req.GetTenant())
	if err != nil {
		return nil, err
	}
	defer c.release()
	wdone, err := c.writing()
	if err != nil {
		return nil, err
	}
	defer wdone()
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if _, ok := c.tenants[req.GetTenant()]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "tenant %q already exists in collection %q", req.GetTenant(), c.rec.Name)
	}
	if err := ctxError(ctx, "the tenant was created"); err != nil {
		return nil, err
	}
	// A number the collection never used: above its sequence (every
	// number handed out or deleted since the sequence record exists) and
	// above every tenant it holds (catalogs older than the record,
	// restored snapshots).
	last, err := a.cat.lastTenantID(c.rec.Number)
	if err != nil {
		return nil, internal("tenant sequence: %v", err)
	}
	for _, t := range c.ix.Tenants() {
		last = max(last, t)
	}
	for _, t := range c.tenants {
		last = max(last, t)
	}
	if last == math.MaxUint32 {
		return nil, status.Errorf(codes.ResourceExhausted, "collection %q has no tenant numbers left", c.rec.Name)
	}
	id := last + 1
	if err := a.cat.useTenantID(c.rec.Number, id); err != nil {
		return nil, internal("store tenant sequence: %v", err)
	}
	if err := a.cat.putTenant(c.rec.Number, tenantRecord{Name: req.GetTenant(), ID: id}); err != nil {
		return nil, internal("store tenant: %v", err)
	}
	if err := c.ix.CreateTenant(id); err != nil {
		_ = a.cat.deleteTenant(c.rec.Number, req.GetTenant())
		return nil, indexError(err)
	}
	c.tenants[req.GetTenant()] = id
	a.log.Info("tenant created", "collection", c.rec.Name, "tenant", req.GetTenant(), "tenant_id", id)
	return &shoalv1.CreateTenantResponse{}, nil
}

func (a tenantsAPI) DeleteTenant(ctx context.Context, req *shoalv1.DeleteTenantRequest) (*shoalv1.DeleteTenantResponse, error) {
	c, err := a.tenantCall(req.GetCollection(), req.GetTenant())
	if err != nil {
		return nil, err
	}
	defer c.release()
	wdone, err := c.writing()
	if err != nil {
		return nil, err
	}
	defer wdone()
	c.tmu.Lock()
	defer c.tmu.Unlock()
	id, ok := c.tenants[req.GetTenant()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "tenant %q does not exist in collection %q", req.GetTenant(), c.rec.Name)
	}
	if err := ctxError(ctx, "the tenant was deleted"); err != nil {
		return nil, err
	}
	// The number stays used (a catalog older than the sequence record
	// may not have it there yet), then the keys go, then the tenant.
	if err := a.cat.useTenantID(c.rec.Number, id); err != nil {
		return nil, internal("store tenant sequence: %v", err)
	}
	revoked, err := a.cat.deleteKeys(func(r keyRecord) bool {
		return !r.legacy() && r.CollNumber == c.rec.Number && r.TenantID == id
	})
	for _, r := range revoked {
		a.log.Info("API key revoked: its tenant is deleted", "key", r.ID, "collection", c.rec.Name, "tenant", req.GetTenant())
	}
	if err != nil {
		return nil, internal("revoke the tenant's API keys: %v", err)
	}
	if err := a.cat.deleteTenant(c.rec.Number, req.GetTenant()); err != nil {
		return nil, internal("delete tenant record: %v", err)
	}
	delete(c.tenants, req.GetTenant())
	if err := c.ix.DropTenant(id); err != nil {
		// The record is gone: the next Open drops the tenant.
		return nil, internal("drop tenant %q: %v", req.GetTenant(), err)
	}
	a.log.Info("tenant deleted", "collection", c.rec.Name, "tenant", req.GetTenant())
	return &shoalv1.DeleteTenantResponse{}, nil
}

func (a tenantsAPI) ListTenants(ctx context.Context, req *shoalv1.ListTenantsRequest) (*shoalv1.ListTenantsResponse, error) {
	c, err := a.acquire(req.GetCollection())
	if err != nil {
		return nil, err
	}
	defer c.release()
	p := principalOf(ctx)
	if !p.admin {
		// A tenant key sees only its own tenant.
		if _, err := c.keyTenant(p); err != nil {
			return nil, err
		}
		return &shoalv1.ListTenantsResponse{Tenants: []string{p.tenant}}, nil
	}
	c.tmu.Lock()
	defer c.tmu.Unlock()
	resp := &shoalv1.ListTenantsResponse{}
	for name := range c.tenants {
		resp.Tenants = append(resp.Tenants, name)
	}
	slices.Sort(resp.Tenants)
	return resp, nil
}

func (a tenantsAPI) Grant(ctx context.Context, req *shoalv1.GrantRequest) (*shoalv1.GrantResponse, error) {
	return &shoalv1.GrantResponse{}, a.share(ctx, req.GetCollection(), req.GetTenant(), req.GetIds(), false)
}

func (a tenantsAPI) Revoke(ctx context.Context, req *shoalv1.RevokeRequest) (*shoalv1.RevokeResponse, error) {
	return &shoalv1.RevokeResponse{}, a.share(ctx, req.GetCollection(), req.GetTenant(), req.GetIds(), true)
}

// share runs Grant, or Revoke if revoke.
func (a tenantsAPI) share(ctx context.Context, coll, tenant string, ids []uint64, revoke bool) error {
	if err := a.checkBatch("ids", len(ids)); err != nil {
		return err
	}
	c, err := a.tenantCall(coll, tenant)
	if err != nil {
		return err
	}
	defer c.release()
	id, err := c.tenantID(tenant)
	if err != nil {
		return err
	}
	wdone, err := c.writing()
	if err != nil {
		return err
	}
	defer wdone()
	// What the index would refuse with tenant numbers in its message.
	seen := make(map[uint64]int, len(ids))
	for i, x := range ids {
		if j, dup := seen[x]; dup {
			return status.Errorf(codes.InvalidArgument, "id %d appears twice in the request (ids %d and %d)", x, j, i)
		}
		seen[x] = i
		if owner, err := c.ix.Owner(x); revoke && err == nil && owner == id {
			return status.Errorf(codes.InvalidArgument, "tenant %q owns id %d: delete the vector instead of revoking it; nothing was revoked", tenant, x)
		}
	}
	if err := ctxError(ctx, "the access list changed"); err != nil {
		return err
	}
	if revoke {
		return indexError(c.ix.Revoke(id, ids))
	}
	return indexError(c.ix.Grant(id, ids))
}

// checkTenantWrite refuses a tenant's upsert of ids that hold a vector
// the tenant t (named tname) does not own: another tenant's, no
// tenant's, or one merely granted to it (an upsert would overwrite it,
// or take it over), as deletes and labels are refused. Like theirs, the
// refusal tells the tenant that the id holds a vector.
func checkTenantWrite(c *collection, t uint32, tname string, ids []uint64) error {
	for _, id := range ids {
		owner, err := c.ix.Owner(id)
		switch {
		case errors.Is(err, index.ErrNotFound):
		case err != nil:
			return indexError(err)
		case owner != t:
			return status.Errorf(codes.PermissionDenied, "id %d holds a vector tenant %q does not own; nothing was upserted", id, tname)
		}
	}
	return nil
}

// tenantDeletable returns the ids of a delete by tenant t (named
// tname) that hold a vector, after checking that t owns every one of
// them: an id that holds a vector of another owner, of no owner, or one
// granted to t, is PermissionDenied and nothing is deleted. (As for
// upserts, the refusal tells the tenant that the id holds a vector.)
// Ownership changes only by the owner's own writes or the admin's, so
// the ids stay t's until the delete unless the admin key writes them
// meanwhile.
func tenantDeletable(c *collection, t uint32, tname string, ids []uint64) ([]uint64, error) {
	out := make([]uint64, 0, len(ids))
	seen := make(map[uint64]int, len(ids))
	for i, id := range ids {
		if j, dup := seen[id]; dup {
			return nil, status.Errorf(codes.InvalidArgument, "id %d appears twice in the request (ids %d and %d)", id, j, i)
		}
		seen[id] = i
		owner, err := c.ix.Owner(id)
		switch {
		case errors.Is(err, index.ErrNotFound):
			continue
		case err != nil:
			return nil, indexError(err)
		case owner != t:
			return nil, status.Errorf(codes.PermissionDenied, "id %d holds a vector tenant %q does not own; nothing was deleted", id, tname)
		}
		out = append(out, id)
	}
	return out, nil
}
