package fleet

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Tenant operations travel the shards' logs like writes: a tenant is
// created and deleted in every shard (opCreateTenant and opDeleteTenant
// go to every log), a grant or revoke goes to the shards of its ids.
// Every shard therefore holds the same tenants, and shard 0 answers
// ListTenants. A write or read naming a tenant is checked against shard
// 0's tenants first, so that an unknown tenant is NOT_FOUND before
// anything is logged.
const (
	opCreateTenant = "tenant-create"
	opDeleteTenant = "tenant-delete"
	opGrant        = "grant"
	opRevoke       = "revoke"
)

// tenantsAPI is the cluster's TenantService.
type tenantsAPI struct {
	shoalv1.UnimplementedTenantServiceServer
	n *Node
}

// tenants lists the tenants of r, read from a replica of shard 0.
func (n *Node) tenants(ctx context.Context, r collRecord) ([]string, error) {
	res, err := n.fanout(ctx, r, []int{0}, func(ctx context.Context, p peerClients, local string) (any, error) {
		return p.ten.ListTenants(ctx, &shoalv1.ListTenantsRequest{Collection: local})
	})
	if err != nil {
		return nil, err
	}
	return res[0].(*shoalv1.ListTenantsResponse).GetTenants(), nil
}

// checkTenant fails with NOT_FOUND unless r has tenant t.
func (n *Node) checkTenant(ctx context.Context, r collRecord, t string) error {
	ts, err := n.tenants(ctx, r)
	if err != nil {
		return err
	}
	if !slices.Contains(ts, t) {
		return status.Errorf(codes.NotFound, "tenant %s not found in collection %s", clip(t), r.Name)
	}
	return nil
}

// everyShard is message m for every shard (publish only reads it).
func everyShard(r collRecord, m proto.Message) []shardOp {
	ops := make([]shardOp, r.Shards)
	for s := range ops {
		ops[s] = shardOp{shard: s, msgs: []proto.Message{m}}
	}
	return ops
}

// tenantEverywhere logs op, the creation (exists false) or deletion
// (exists true) of tenant t, to every shard, after checking that t does
// not or does exist.
func (a tenantsAPI) tenantEverywhere(ctx context.Context, coll, t string, exists bool, op string, m proto.Message) error {
	n := a.n
	r, _, err := n.logTarget(ctx, coll)
	if err != nil {
		return err
	}
	if t == "" && !exists {
		return status.Error(codes.InvalidArgument, "tenant is required")
	}
	ts, err := n.tenants(ctx, r)
	if err != nil {
		return err
	}
	switch has := slices.Contains(ts, t); {
	case has && !exists:
		return status.Errorf(codes.AlreadyExists, "tenant %s exists in collection %s", clip(t), r.Name)
	case !has && exists:
		return status.Errorf(codes.NotFound, "tenant %s not found in collection %s", clip(t), r.Name)
	}
	_, err = n.publish(ctx, r, op, everyShard(r, m))
	return err
}

func (a tenantsAPI) CreateTenant(ctx context.Context, req *shoalv1.CreateTenantRequest) (*shoalv1.CreateTenantResponse, error) {
	if err := a.tenantEverywhere(ctx, req.GetCollection(), req.GetTenant(), false, opCreateTenant, &shoalv1.CreateTenantRequest{Tenant: req.GetTenant()}); err != nil {
		return nil, err
	}
	return &shoalv1.CreateTenantResponse{}, nil
}

func (a tenantsAPI) DeleteTenant(ctx context.Context, req *shoalv1.DeleteTenantRequest) (*shoalv1.DeleteTenantResponse, error) {
	if err := a.tenantEverywhere(ctx, req.GetCollection(), req.GetTenant(), true, opDeleteTenant, &shoalv1.DeleteTenantRequest{Tenant: req.GetTenant()}); err != nil {
		return nil, err
	}
	return &shoalv1.DeleteTenantResponse{}, nil
}

func (a tenantsAPI) ListTenants(ctx context.Context, req *shoalv1.ListTenantsRequest) (*shoalv1.ListTenantsResponse, error) {
	n := a.n
	if isReplicaCall(ctx) {
		if _, err := n.servingReplica(ctx, req.GetCollection()); err != nil {
			return nil, err
		}
		return shoalv1.NewTenantServiceClient(n.localConn).ListTenants(n.localCtx(ctx), req)
	}
	r, _, err := n.collection(ctx, req.GetCollection())
	if err != nil {
		return nil, err
	}
	ts, err := n.tenants(ctx, r)
	if err != nil {
		return nil, err
	}
	return &shoalv1.ListTenantsResponse{Tenants: ts}, nil
}

// grant logs a grant or revoke of ids to t, split by shard.
func (a tenantsAPI) grant(ctx context.Context, coll, t string, ids []uint64, op string) error {
	n := a.n
	r, _, err := n.logTarget(ctx, coll)
	if err != nil {
		return err
	}
	if len(ids) == 0 || len(ids) > n.maxBatch() {
		return status.Errorf(codes.InvalidArgument, "%d ids, want 1..%d", len(ids), n.maxBatch())
	}
	if err := n.checkTenant(ctx, r, t); err != nil {
		return err
	}
	byShard := groupIDs(ids, r.Shards)
	var ops []shardOp
	for s, ids := range byShard {
		var m proto.Message = &shoalv1.GrantRequest{Tenant: t, Ids: ids}
		if op == opRevoke {
			m = &shoalv1.RevokeRequest{Tenant: t, Ids: ids}
		}
		ops = append(ops, shardOp{shard: s, msgs: []proto.Message{m}})
	}
	_, err = n.publish(ctx, r, op, ops)
	return err
}

func (a tenantsAPI) Grant(ctx context.Context, req *shoalv1.GrantRequest) (*shoalv1.GrantResponse, error) {
	if err := a.grant(ctx, req.GetCollection(), req.GetTenant(), req.GetIds(), opGrant); err != nil {
		return nil, err
	}
	return &shoalv1.GrantResponse{}, nil
}

func (a tenantsAPI) Revoke(ctx context.Context, req *shoalv1.RevokeRequest) (*shoalv1.RevokeResponse, error) {
	if err := a.grant(ctx, req.GetCollection(), req.GetTenant(), req.GetIds(), opRevoke); err != nil {
		return nil, err
	}
	return &shoalv1.RevokeResponse{}, nil
}
