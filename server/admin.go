package server

import (
	"context"
	"crypto/sha256"
	"runtime"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// adminAPI implements shoal.v1 AdminService: API keys, bulk import
// (imports.go), snapshots (snapshot.go) and server stats.
type adminAPI struct {
	*Server
	shoalv1.UnimplementedAdminServiceServer // answers RPCs added to the API later
}

var _ shoalv1.AdminServiceServer = adminAPI{}

// CreateAPIKey makes a key bound to a tenant that exists in a
// collection (auth.go). It holds the collection shared and its tenants'
// lock while it checks the tenant and stores the key, so a concurrent
// DeleteTenant or DropCollection either sees the key (and revokes it)
// or runs first (and the tenant is NotFound).
func (a adminAPI) CreateAPIKey(ctx context.Context, req *shoalv1.CreateAPIKeyRequest) (*shoalv1.CreateAPIKeyResponse, error) {
	if req.GetCollection() == "" {
		return nil, status.Error(codes.InvalidArgument, "collection is required: a tenant key is bound to one tenant of one collection")
	}
	if err := checkName("collection", req.GetCollection()); err != nil {
		return nil, err
	}
	if err := checkName("tenant", req.GetTenant()); err != nil {
		return nil, err
	}
	if a.opts.AdminKey == "" {
		return nil, status.Error(codes.FailedPrecondition, "authentication is off (the server has no admin key), so tenant keys would not be checked")
	}
	c, err := a.acquire(req.GetCollection())
	if err != nil {
		return nil, err
	}
	defer c.release()
	c.tmu.Lock()
	defer c.tmu.Unlock()
	tid, ok := c.tenants[req.GetTenant()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "tenant %q does not exist in collection %q", req.GetTenant(), c.rec.Name)
	}
	if err := ctxError(ctx, "the key was made"); err != nil {
		return nil, err
	}
	secret, id := newSecret()
	r := keyRecord{
		ID: id, Collection: c.rec.Name, CollNumber: c.rec.Number, Tenant: req.GetTenant(), TenantID: tid,
		CreatedMs: time.Now().UnixMilli(),
	}
	if err := a.cat.putKey(r, sha256.Sum256([]byte(secret))); err != nil {
		return nil, internal("store API key: %v", err)
	}
	a.log.Info("API key created", "key", id, "collection", r.Collection, "tenant", r.Tenant, "tenant_id", tid)
	return &shoalv1.CreateAPIKeyResponse{Key: apiKey(r), Secret: secret}, nil
}

// apiKey is the API's view of a key; a legacy key shows no collection.
func apiKey(r keyRecord) *shoalv1.APIKey {
	return &shoalv1.APIKey{Id: r.ID, Collection: r.Collection, Tenant: r.Tenant, CreatedUnixMs: r.CreatedMs}
}

func (a adminAPI) RevokeAPIKey(ctx context.Context, req *shoalv1.RevokeAPIKeyRequest) (*shoalv1.RevokeAPIKeyResponse, error) {
	ok, err := a.cat.deleteKey(req.GetId())
	switch {
	case err != nil:
		return nil, internal("revoke API key: %v", err)
	case !ok:
		return nil, status.Errorf(codes.NotFound, "API key %s does not exist", clip(req.GetId()))
	}
	a.log.Info("API key revoked", "key", req.GetId())
	return &shoalv1.RevokeAPIKeyResponse{}, nil
}

func (a adminAPI) ListAPIKeys(ctx context.Context, req *shoalv1.ListAPIKeysRequest) (*shoalv1.ListAPIKeysResponse, error) {
	resp := &shoalv1.ListAPIKeysResponse{}
	for _, r := range a.cat.listKeys() {
		resp.Keys = append(resp.Keys, apiKey(r))
	}
	return resp, nil
}

func (a adminAPI) GetServerStats(ctx context.Context, req *shoalv1.GetServerStatsRequest) (*shoalv1.ServerStats, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	resp := &shoalv1.ServerStats{UptimeMs: time.Since(a.started).Milliseconds(), HeapBytes: ms.HeapAlloc}
	for _, name := range a.names() {
		c, err := a.acquire(name)
		if code := status.Code(err); code == codes.NotFound || code == codes.DataLoss {
			continue // dropped meanwhile, or damaged (not served)
		}
		if err != nil {
			return nil, err
		}
		resp.CollectionStats = append(resp.CollectionStats, collectionStats(c))
		c.release()
	}
	resp.Collections = uint64(len(resp.CollectionStats))
	return resp, nil
}
