package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// API keys. A call carries its key in the "authorization" metadata as
// "Bearer <key>". The admin key (Options.AdminKey) may do anything; a
// tenant key (AdminService.CreateAPIKey) acts as one tenant of one
// collection, bound to the tenant's and the collection's numbers, which
// are never reused (catalog.go): a namesake made after a delete or drop
// is another tenant. Checks happen in three places: the interceptor lets
// a tenant key call only the methods in tenantMethods, and only on its
// own collection (by name, before the collection is looked up, so the
// answer says nothing of other collections); every handler of those
// calls scope, which pins the call to the key's tenant name; and the
// handler resolves the tenant with collection.keyTenant, which checks
// the key's numbers against the collection it acquired, so a key whose
// tenant was deleted or whose collection was dropped while the call was
// on its way acts for nobody.

// principal is who makes a call. It is comparable (logging compares it
// with the zero principal).
type principal struct {
	admin    bool
	keyID    string // a tenant key's id
	coll     string // a tenant key's collection
	collNum  uint64 // its number
	tenant   string // a tenant key's tenant
	tenantID uint32 // its number in the collection
}

func (p principal) String() string {
	if p.admin {
		return "admin"
	}
	return "tenant:" + p.coll + "/" + p.tenant
}

// reaches refuses a tenant key's call on a collection other than its
// own. An empty name is left to the handler (InvalidArgument).
func (p principal) reaches(coll string) error {
	if p.admin || coll == "" || coll == p.coll {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "API key %s is bound to collection %q; it may not reach collection %s", p.keyID, p.coll, clip(coll))
}

// requestCollection returns the collection a request of a tenant method
// names; false for one that names none (ListCollections).
func requestCollection(req any) (string, bool) {
	switch r := req.(type) {
	case *shoalv1.DescribeCollectionRequest:
		return r.GetName(), true
	case interface{ GetCollection() string }:
		return r.GetCollection(), true
	}
	return "", false
}

type principalKey struct{}

// principalOf returns the caller of ctx, set by the interceptor.
func principalOf(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// tenantMethods are the methods a tenant key may call; every other
// method of the Shoal API needs the admin key.
var tenantMethods = map[string]bool{
	shoalv1.CollectionService_DescribeCollection_FullMethodName: true,
	shoalv1.CollectionService_ListCollections_FullMethodName:    true,
	shoalv1.VectorService_Upsert_FullMethodName:                 true,
	shoalv1.VectorService_UpsertStream_FullMethodName:           true,
	shoalv1.VectorService_Delete_FullMethodName:                 true,
	shoalv1.VectorService_Get_FullMethodName:                    true,
	shoalv1.VectorService_Search_FullMethodName:                 true,
	shoalv1.VectorService_SearchBatch_FullMethodName:            true,
	shoalv1.VectorService_SearchBatchStream_FullMethodName:      true,
	shoalv1.VectorService_SetLabels_FullMethodName:              true,
	shoalv1.VectorService_SetPayloads_FullMethodName:            true,
	shoalv1.VectorService_ListLabels_FullMethodName:             true,
	shoalv1.TenantService_ListTenants_FullMethodName:            true,
}

// public reports whether method needs no key: health checks and
// reflection.
func public(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(method, "/grpc.reflection.")
}

// keyHint says where the keys come from, for the errors of calls without
// a valid one.
const keyHint = "shoal client and shoal import send the key of -key, default $SHOAL_API_KEY; the admin key is the one shoal serve was given with -admin-key, default $SHOAL_ADMIN_KEY"

// authenticate returns the caller of a call to method, or the status
// that refuses it.
func (s *Server) authenticate(ctx context.Context, method string) (principal, error) {
	if s.opts.AdminKey == "" || public(method) {
		return principal{admin: true}, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return principal{}, status.Error(codes.Unauthenticated, `no API key: send it in the metadata "authorization: Bearer <key>" (`+keyHint+`)`)
	}
	key, ok := strings.CutPrefix(vals[0], "Bearer ")
	if !ok {
		return principal{}, status.Error(codes.Unauthenticated, `malformed authorization metadata: want "Bearer <key>", the word Bearer, one space, then the key`)
	}
	h := sha256.Sum256([]byte(key))
	admin := sha256.Sum256([]byte(s.opts.AdminKey))
	if subtle.ConstantTimeCompare(h[:], admin[:]) == 1 {
		return principal{admin: true}, nil
	}
	r, ok := s.cat.keyByHash(h)
	if !ok {
		return principal{}, status.Error(codes.Unauthenticated, "unknown or revoked API key: send the server's admin key or a tenant key made by CreateAPIKey and not revoked ("+keyHint+")")
	}
	if r.legacy() {
		return principal{}, status.Errorf(codes.Unauthenticated, "API key %s (tenant %q) was made before keys were bound to a collection and no longer authenticates: revoke it and make a new one with CreateAPIKey{collection, tenant}", r.ID, r.Tenant)
	}
	p := principal{keyID: r.ID, coll: r.Collection, collNum: r.CollNumber, tenant: r.Tenant, tenantID: r.TenantID}
	if !tenantMethods[method] {
		return p, status.Errorf(codes.PermissionDenied, "%s needs the admin key; a tenant key (tenant %q of collection %q) may not call it", method, r.Tenant, r.Collection)
	}
	return p, nil
}

// scope returns the tenant a data call acts for: the tenant it names,
// which a tenant key must leave empty or set to its own.
func scope(ctx context.Context, requested string) (string, error) {
	p := principalOf(ctx)
	if p.admin {
		return requested, nil
	}
	if requested != "" && requested != p.tenant {
		return "", status.Errorf(codes.PermissionDenied, "a key of tenant %q may not act for tenant %q", p.tenant, requested)
	}
	return p.tenant, nil
}

// newSecret returns a new tenant key secret and its public id.
func newSecret() (secret, id string) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("server: crypto/rand: " + err.Error())
	}
	secret = "shoal_" + hex.EncodeToString(b[:])
	h := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(h[:6])
}

// Interceptors.

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	var p principal
	done := s.logCall(ctx, info.FullMethod)
	defer func() { done(p, &err) }()
	defer s.recoverPanic(info.FullMethod, &err)
	if p, err = s.authenticate(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	if coll, ok := requestCollection(req); ok {
		if err := p.reaches(coll); err != nil {
			return nil, err
		}
	}
	if err := ctxError(ctx, "the call started"); err != nil {
		return nil, err
	}
	return handler(context.WithValue(ctx, principalKey{}, p), req)
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	ctx := ss.Context()
	var p principal
	done := s.logCall(ctx, info.FullMethod)
	defer func() { done(p, &err) }()
	defer s.recoverPanic(info.FullMethod, &err)
	if p, err = s.authenticate(ctx, info.FullMethod); err != nil {
		return err
	}
	if err := ctxError(ctx, "the call started"); err != nil {
		return err
	}
	return handler(srv, &scopedStream{ServerStream: ss, ctx: context.WithValue(ctx, principalKey{}, p)})
}

// scopedStream carries the principal in its context.
type scopedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *scopedStream) Context() context.Context { return s.ctx }
