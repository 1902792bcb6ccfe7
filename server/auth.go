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
// tenant key (AdminService.CreateAPIKey) acts as one tenant. Checks
// happen twice: the interceptor lets a tenant key call only the methods
// in tenantMethods, and every handler of those calls Server.scope, which
// pins the call to the key's tenant.

// principal is who makes a call.
type principal struct {
	admin  bool
	tenant string // a tenant key's tenant
	keyID  string // a tenant key's id
}

func (p principal) String() string {
	if p.admin {
		return "admin"
	}
	return "tenant:" + p.tenant
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
	shoalv1.TenantService_ListTenants_FullMethodName:            true,
}

// public reports whether method needs no key: health checks and
// reflection.
func public(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(method, "/grpc.reflection.")
}

// authenticate returns the caller of a call to method, or the status
// that refuses it.
func (s *Server) authenticate(ctx context.Context, method string) (principal, error) {
	if s.opts.AdminKey == "" || public(method) {
		return principal{admin: true}, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return principal{}, status.Error(codes.Unauthenticated, `no API key: send metadata "authorization: Bearer <key>"`)
	}
	key, ok := strings.CutPrefix(vals[0], "Bearer ")
	if !ok {
		return principal{}, status.Error(codes.Unauthenticated, `malformed authorization metadata: want "Bearer <key>"`)
	}
	h := sha256.Sum256([]byte(key))
	admin := sha256.Sum256([]byte(s.opts.AdminKey))
	if subtle.ConstantTimeCompare(h[:], admin[:]) == 1 {
		return principal{admin: true}, nil
	}
	r, ok := s.cat.keyByHash(h)
	if !ok {
		return principal{}, status.Error(codes.Unauthenticated, "unknown API key")
	}
	p := principal{tenant: r.Tenant, keyID: r.ID}
	if !tenantMethods[method] {
		return p, status.Errorf(codes.PermissionDenied, "%s needs the admin key; a tenant key (tenant %q) may not call it", method, r.Tenant)
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
