package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

const internalAdminKey = "internal-admin-key-0123456789"

func openInternal(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := Open(&Options{DataDir: dir, AdminKey: internalAdminKey, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// adminCtx is a context as the interceptor makes it for the admin key.
func adminCtx() context.Context {
	return context.WithValue(context.Background(), principalKey{}, principal{admin: true})
}

func tenantNumberOf(t *testing.T, s *Server, coll, name string) uint32 {
	t.Helper()
	c, err := s.acquire(coll)
	if err != nil {
		t.Fatal(err)
	}
	defer c.release()
	id, err := c.tenantID(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestTenantNumbersNeverReused: a tenant deleted and created again gets a
// new number, also when it had the highest number, across a restart,
// and in a catalog written before the tenant sequence record existed.
func TestTenantNumbersNeverReused(t *testing.T) {
	dir := t.TempDir()
	s := openInternal(t, dir)
	ctx := adminCtx()
	ta := tenantsAPI{Server: s}
	create := func(name string) uint32 {
		t.Helper()
		if _, err := ta.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "c", Tenant: name}); err != nil {
			t.Fatalf("CreateTenant(%s): %v", name, err)
		}
		return tenantNumberOf(t, s, "c", name)
	}
	del := func(name string) {
		t.Helper()
		if _, err := ta.DeleteTenant(ctx, &shoalv1.DeleteTenantRequest{Collection: "c", Tenant: name}); err != nil {
			t.Fatalf("DeleteTenant(%s): %v", name, err)
		}
	}
	if _, err := (collectionsAPI{Server: s}).CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "c", Config: &shoalv1.CollectionConfig{Dim: 2}}); err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]string{}
	use := func(id uint32, what string) {
		t.Helper()
		if prev, ok := seen[id]; ok {
			t.Errorf("%s got tenant number %d, already used by %s", what, id, prev)
		}
		seen[id] = what
	}
	use(create("t"), "t")
	del("t")
	use(create("t"), "t again")
	use(create("u"), "u")
	del("u") // the highest number
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openInternal(t, dir)
	ta = tenantsAPI{Server: s}
	use(create("u"), "u after a restart")
	// A catalog older than the sequence record: the highest tenant's
	// delete records its number.
	c, err := s.acquire("c")
	if err != nil {
		t.Fatal(err)
	}
	num := c.rec.Number
	c.release()
	if err := s.db.Delete(tenantSeqKey(num)); err != nil {
		t.Fatal(err)
	}
	del("u")
	use(create("u"), "u in a catalog without a tenant sequence")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// putRawKey stores a key record as JSON, as an older or newer server
// would, and returns its secret.
func putRawKey(t *testing.T, s *Server, rec map[string]any) string {
	t.Helper()
	secret, id := newSecret()
	h := sha256.Sum256([]byte(secret))
	rec["id"], rec["sha256"] = id, hex.EncodeToString(h[:])
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set([]byte(prefixKey+id), b); err != nil {
		t.Fatal(err)
	}
	return secret
}

func authAs(s *Server, secret, method string) error {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+secret))
	_, err := s.authenticate(ctx, method)
	return err
}

// TestKeyRecordVersions: a version 1 key record (a tenant name, from
// before keys were bound to a collection) is read, listed and revocable
// but refused with a message that says what to do; a key record whose
// tenant is gone (a delete cut short) is deleted at Open; a record of a
// newer version fails Open with a message that says so.
func TestKeyRecordVersions(t *testing.T) {
	dir := t.TempDir()
	s := openInternal(t, dir)
	ctx := adminCtx()
	if _, err := (collectionsAPI{Server: s}).CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "c", Config: &shoalv1.CollectionConfig{Dim: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := (tenantsAPI{Server: s}).CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "c", Tenant: "t"}); err != nil {
		t.Fatal(err)
	}
	c, err := s.acquire("c")
	if err != nil {
		t.Fatal(err)
	}
	num := c.rec.Number
	c.release()
	legacy := putRawKey(t, s, map[string]any{"v": 1, "tenant": "t", "created_unix_ms": 1})
	putRawKey(t, s, map[string]any{"v": 2, "collection": "c", "collection_number": num, "tenant": "gone", "tenant_id": 99, "created_unix_ms": 1})
	putRawKey(t, s, map[string]any{"v": 2, "collection": "dropped", "collection_number": num + 7, "tenant": "t", "tenant_id": 1, "created_unix_ms": 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openInternal(t, dir)
	keys, err := (adminAPI{Server: s}).ListAPIKeys(ctx, &shoalv1.ListAPIKeysRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(keys.GetKeys()); n != 1 || keys.GetKeys()[0].GetCollection() != "" || keys.GetKeys()[0].GetTenant() != "t" {
		t.Fatalf("keys after Open: %v; want only the version 1 key, without a collection (the others' tenant and collection are gone)", keys.GetKeys())
	}
	err = authAs(s, legacy, shoalv1.VectorService_Search_FullMethodName)
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "CreateAPIKey{collection, tenant}") {
		t.Errorf("a version 1 key: %v; want Unauthenticated, saying to make a new key", err)
	}
	if _, err := (adminAPI{Server: s}).RevokeAPIKey(ctx, &shoalv1.RevokeAPIKeyRequest{Id: keys.GetKeys()[0].GetId()}); err != nil {
		t.Errorf("RevokeAPIKey of a version 1 key: %v", err)
	}
	putRawKey(t, s, map[string]any{"v": 3, "collection": "c", "collection_number": num, "tenant": "t", "tenant_id": 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(&Options{DataDir: dir, AdminKey: internalAdminKey, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "newer server") {
		t.Errorf("Open with a version 3 key record: %v; want an error naming a newer server", err)
	}
}
