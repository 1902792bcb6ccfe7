package server_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Tenant API keys are bound to one tenant of one collection, as that
// tenant exists when the key is made (issue 14, defect 8).

// keyFixture makes collections, each with the tenants named, through the
// admin client.
func keyFixture(t *testing.T, admin *client.Client, tenants map[string][]string) {
	t.Helper()
	ctx := context.Background()
	for coll, names := range tenants {
		if _, err := admin.CreateCollection(ctx, coll, &shoalv1.CollectionConfig{Dim: 2}); err != nil {
			t.Fatalf("CreateCollection(%s): %v", coll, err)
		}
		for _, name := range names {
			if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: coll, Tenant: name}); err != nil {
				t.Fatalf("CreateTenant(%s, %s): %v", coll, name, err)
			}
		}
	}
}

// newKey makes a key for tenant of coll and returns its secret and id.
func newKey(t *testing.T, admin *client.Client, coll, tenant string) (secret, id string) {
	t.Helper()
	k, err := admin.Admin.CreateAPIKey(context.Background(), &shoalv1.CreateAPIKeyRequest{Collection: coll, Tenant: tenant})
	if err != nil {
		t.Fatalf("CreateAPIKey(%s, %s): %v", coll, tenant, err)
	}
	if k.GetKey().GetCollection() != coll || k.GetKey().GetTenant() != tenant {
		t.Errorf("CreateAPIKey(%s, %s) answered key %v", coll, tenant, k.GetKey())
	}
	return k.GetSecret(), k.GetKey().GetId()
}

// keyIDs lists the ids of the server's tenant keys.
func keyIDs(t *testing.T, admin *client.Client) []string {
	t.Helper()
	resp, err := admin.Admin.ListAPIKeys(context.Background(), &shoalv1.ListAPIKeysRequest{})
	if err != nil {
		t.Fatalf("ListAPIKeys: %v", err)
	}
	var out []string
	for _, k := range resp.GetKeys() {
		out = append(out, k.GetId())
	}
	slices.Sort(out)
	return out
}

// TestKeyRevokedByTenantDelete: a key of tenant t stops working when t is
// deleted, and a tenant t created again under the same name does not
// inherit it (UNAUTHENTICATED: the key is revoked), before and after a
// restart.
func TestKeyRevokedByTenantDelete(t *testing.T) {
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	keyFixture(t, admin, map[string][]string{"docs": {"t", "u"}})
	secret, id := newKey(t, admin, "docs", "t")
	_, other := newKey(t, admin, "docs", "u")
	key := ts.dial(secret)
	if err := key.Upsert(ctx, "docs", []uint64{1}, [][]float32{{1, 1}}); err != nil {
		t.Fatalf("Upsert with t's key: %v", err)
	}

	if _, err := admin.Tenants.DeleteTenant(ctx, &shoalv1.DeleteTenantRequest{Collection: "docs", Tenant: "t"}); err != nil {
		t.Fatal(err)
	}
	if got := keyIDs(t, admin); !slices.Equal(got, []string{other}) {
		t.Errorf("keys after deleting t: %v, want only u's %v (t's %s revoked)", got, other, id)
	}
	if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "t"}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		err := key.Upsert(ctx, "docs", []uint64{2}, [][]float32{{2, 2}})
		wantCode(t, when+": Upsert with the old t's key", err, codes.Unauthenticated)
		_, err = key.Search(ctx, "docs", []float32{1, 1}, 10, nil)
		wantCode(t, when+": Search with the old t's key", err, codes.Unauthenticated)
		_, err = key.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
		wantCode(t, when+": ListCollections with the old t's key", err, codes.Unauthenticated)
		if got, err := admin.Get(ctx, "docs", []uint64{2}); err != nil || len(got) != 0 {
			t.Errorf("%s: the refused upsert stored %v, %v", when, got, err)
		}
	}
	check("t deleted and created again")
	ts.stop()
	ts.restart()
	admin, key = ts.dial("admin"), ts.dial(secret)
	check("after a restart")
	if got := keyIDs(t, admin); !slices.Equal(got, []string{other}) {
		t.Errorf("keys after a restart: %v, want only u's %v", got, other)
	}
	_, err := admin.Admin.RevokeAPIKey(ctx, &shoalv1.RevokeAPIKeyRequest{Id: id})
	wantCode(t, "RevokeAPIKey of a key its tenant's delete revoked", err, codes.NotFound)
}

// TestKeyRevokedByCollectionDrop: dropping a collection revokes the keys
// of its tenants; a collection and tenant made again under the same names
// do not inherit them.
func TestKeyRevokedByCollectionDrop(t *testing.T) {
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	keyFixture(t, admin, map[string][]string{"docs": {"t"}, "keep": {"t"}})
	secret, _ := newKey(t, admin, "docs", "t")
	_, kept := newKey(t, admin, "keep", "t")
	if err := admin.DropCollection(ctx, "docs"); err != nil {
		t.Fatal(err)
	}
	keyFixture(t, admin, map[string][]string{"docs": {"t"}})
	if got := keyIDs(t, admin); !slices.Equal(got, []string{kept}) {
		t.Errorf("keys after dropping docs: %v, want only keep's %v", got, kept)
	}
	key := ts.dial(secret)
	err := key.Upsert(ctx, "docs", []uint64{1}, [][]float32{{1, 1}})
	wantCode(t, "Upsert with a key of the dropped docs into the new docs", err, codes.Unauthenticated)
}

// TestKeyBoundToCollection: a key of collection A's tenant t may not
// reach collection B, not even B's own tenant t, nor a collection that
// does not exist (PERMISSION_DENIED, before the collection is looked
// up); nothing is written.
func TestKeyBoundToCollection(t *testing.T) {
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	keyFixture(t, admin, map[string][]string{"a": {"t"}, "b": {"t"}})
	secret, _ := newKey(t, admin, "a", "t")
	key := ts.dial(secret)
	if err := key.Upsert(ctx, "a", []uint64{1}, [][]float32{{1, 1}}); err != nil {
		t.Fatalf("Upsert into its own collection: %v", err)
	}
	q := []float32{1, 1}
	for _, coll := range []string{"b", "nonexistent"} {
		calls := map[string]func() error{
			"Upsert": func() error { return key.Upsert(ctx, coll, []uint64{2}, [][]float32{q}) },
			"Upsert naming tenant t": func() error {
				_, err := key.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: coll, Tenant: "t", Vectors: []*shoalv1.Vector{{Id: 2, Values: q}}})
				return err
			},
			"UpsertStream": func() error {
				_, err := key.UpsertStream(ctx, coll, []uint64{2}, [][]float32{q})
				return err
			},
			"Search": func() error {
				_, err := key.Search(ctx, coll, q, 10, nil)
				return err
			},
			"SearchBatch": func() error {
				_, err := key.Vectors.SearchBatch(ctx, &shoalv1.SearchBatchRequest{Collection: coll, Queries: []*shoalv1.Query{{Values: q}}, TopK: 10})
				return err
			},
			"Get": func() error {
				_, err := key.Get(ctx, coll, []uint64{1})
				return err
			},
			"Delete": func() error {
				_, err := key.Delete(ctx, coll, []uint64{1})
				return err
			},
			"SetLabels": func() error {
				_, err := key.Vectors.SetLabels(ctx, &shoalv1.SetLabelsRequest{Collection: coll, Vectors: []*shoalv1.LabelSet{{Id: 1}}})
				return err
			},
			"DescribeCollection": func() error {
				_, err := key.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: coll})
				return err
			},
			"ListTenants": func() error {
				_, err := key.Tenants.ListTenants(ctx, &shoalv1.ListTenantsRequest{Collection: coll})
				return err
			},
		}
		for name, call := range calls {
			wantCode(t, "key of a's t: "+name+" on "+coll, call(), codes.PermissionDenied)
		}
	}
	if got, err := admin.Get(ctx, "b", []uint64{1, 2}); err != nil || len(got) != 0 {
		t.Errorf("refused calls wrote into b: %v, %v", got, err)
	}
	if got, err := admin.Get(ctx, "a", []uint64{1}); err != nil || len(got) != 1 {
		t.Errorf("a's vector 1 after the refused calls: %v, %v; want it kept", got, err)
	}
}

// TestKeyForMissingTenant: a key is made only for a tenant that exists
// in an existing collection.
func TestKeyForMissingTenant(t *testing.T) {
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	keyFixture(t, admin, map[string][]string{"docs": {"t"}})
	for _, tc := range []struct {
		what       string
		coll, name string
		code       codes.Code
	}{
		{"a tenant that does not exist", "docs", "ghost", codes.NotFound},
		{"a collection that does not exist", "nope", "t", codes.NotFound},
		{"no collection", "", "t", codes.InvalidArgument},
		{"no tenant", "docs", "", codes.InvalidArgument},
	} {
		_, err := admin.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: tc.coll, Tenant: tc.name})
		wantCode(t, "CreateAPIKey for "+tc.what, err, tc.code)
	}
	if got := keyIDs(t, admin); len(got) != 0 {
		t.Errorf("refused CreateAPIKey calls made keys %v", got)
	}
}

// TestListCollectionsTenantKey: a tenant key lists only its collection.
func TestListCollectionsTenantKey(t *testing.T) {
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	keyFixture(t, admin, map[string][]string{"a": {"t"}, "b": {"t"}, "c": nil})
	secret, _ := newKey(t, admin, "b", "t")
	resp, err := ts.dial(secret).Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
	var got []string
	for _, c := range resp.GetCollections() {
		got = append(got, c.GetName())
	}
	if err != nil || !slices.Equal(got, []string{"b"}) {
		t.Errorf("ListCollections with b's key = %v, %v; want [b]", got, err)
	}
	resp, err = admin.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
	if err != nil || len(resp.GetCollections()) != 3 {
		t.Errorf("ListCollections with the admin key = %v, %v; want all 3", resp, err)
	}
}
