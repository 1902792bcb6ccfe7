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

func (a adminAPI) CreateAPIKey(ctx context.Context, req *shoalv1.CreateAPIKeyRequest) (*shoalv1.CreateAPIKeyResponse, error) {
	if err := checkName("tenant", req.GetTenant()); err != nil {
		return nil, err
	}
	if a.opts.AdminKey == "" {
		return nil, status.Error(codes.FailedPrecondition, "authentication is off (the server has no admin key), so tenant keys would not be checked")
	}
	secret, id := newSecret()
	r := keyRecord{ID: id, Tenant: req.GetTenant(), CreatedMs: time.Now().UnixMilli()}
	if err := a.cat.putKey(r, sha256.Sum256([]byte(secret))); err != nil {
		return nil, internal("store API key: %v", err)
	}
	a.log.Info("API key created", "key", id, "tenant", r.Tenant)
	return &shoalv1.CreateAPIKeyResponse{Key: apiKey(r), Secret: secret}, nil
}

func apiKey(r keyRecord) *shoalv1.APIKey {
	return &shoalv1.APIKey{Id: r.ID, Tenant: r.Tenant, CreatedUnixMs: r.CreatedMs}
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
		if status.Code(err) == codes.NotFound {
			continue
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
