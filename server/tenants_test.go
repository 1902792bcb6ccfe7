package server_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// TestTenants: tenant keys write and read only their own tenant's
// vectors; grants and revokes change what a tenant sees; tenants survive
// a restart; deleting a tenant deletes what it owns.
func TestTenants(t *testing.T) {
	const dim = 4
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, name := range []string{"acme", "beta"} {
		if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: name}); err != nil {
			t.Fatalf("CreateTenant(%s): %v", name, err)
		}
		k, err := admin.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: "docs", Tenant: name})
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = k.GetSecret()
	}
	_, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "acme"})
	wantCode(t, "CreateTenant twice", err, codes.AlreadyExists)

	// acme owns 1..3, beta 11..13, nobody 21.
	acme, beta := ts.dial(keys["acme"]), ts.dial(keys["beta"])
	v := func(x float32) []float32 { return []float32{x, x, x, x} }
	if err := acme.Upsert(ctx, "docs", []uint64{1, 2, 3}, [][]float32{v(1), v(2), v(3)}); err != nil {
		t.Fatalf("acme Upsert: %v", err)
	}
	if err := beta.Upsert(ctx, "docs", []uint64{11, 12, 13}, [][]float32{v(1.1), v(2.1), v(3.1)}); err != nil {
		t.Fatalf("beta Upsert: %v", err)
	}
	if err := admin.Upsert(ctx, "docs", []uint64{21}, [][]float32{v(1.05)}); err != nil {
		t.Fatal(err)
	}
	ids := func(c *client.Client) []uint64 {
		t.Helper()
		hits, err := c.Search(ctx, "docs", v(1), 10, nil)
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		var out []uint64
		for _, h := range hits {
			out = append(out, h.GetId())
		}
		slices.Sort(out)
		return out
	}
	if got := ids(acme); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("acme sees %v, want its own [1 2 3]", got)
	}
	if got := ids(beta); !slices.Equal(got, []uint64{11, 12, 13}) {
		t.Errorf("beta sees %v, want its own [11 12 13]", got)
	}
	if got := ids(admin); len(got) != 7 {
		t.Errorf("admin sees %v, want all 7", got)
	}
	// Reading, overwriting or deleting another tenant's vectors fails.
	if got, err := acme.Get(ctx, "docs", []uint64{1, 11, 21}); err != nil || len(got) != 1 || got[1] == nil {
		t.Errorf("acme Get(1, 11, 21) = %v, %v; want only its own 1", got, err)
	}
	err = acme.Upsert(ctx, "docs", []uint64{11}, [][]float32{v(9)})
	wantCode(t, "acme overwrites beta's vector", err, codes.PermissionDenied)
	err = acme.Upsert(ctx, "docs", []uint64{21}, [][]float32{v(9)})
	wantCode(t, "acme overwrites a vector of no tenant", err, codes.PermissionDenied)
	_, err = acme.Delete(ctx, "docs", []uint64{11})
	wantCode(t, "acme deletes beta's vector", err, codes.PermissionDenied)
	_, err = acme.Delete(ctx, "docs", []uint64{1, 21})
	wantCode(t, "acme deletes its own and a vector of no tenant", err, codes.PermissionDenied)
	if got, _ := admin.Get(ctx, "docs", []uint64{1, 11, 21}); !slices.Equal(got[1], v(1)) || !slices.Equal(got[11], v(1.1)) || !slices.Equal(got[21], v(1.05)) {
		t.Errorf("refused writes changed vectors: %v", got)
	}
	col, err := acme.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil || col.GetVectorCount() != 3 {
		t.Errorf("acme Describe: %v vectors, %v; want its own 3", col.GetVectorCount(), err)
	}
	list, err := acme.Tenants.ListTenants(ctx, &shoalv1.ListTenantsRequest{Collection: "docs"})
	if err != nil || !slices.Equal(list.GetTenants(), []string{"acme"}) {
		t.Errorf("acme ListTenants = %v, %v; want only [acme]", list, err)
	}

	// Grant beta's 12 to acme; revoke it.
	if _, err := admin.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: "docs", Tenant: "acme", Ids: []uint64{12}}); err != nil {
		t.Fatalf("Grant: %v", err)
	}
	if got := ids(acme); !slices.Equal(got, []uint64{1, 2, 3, 12}) {
		t.Errorf("acme after the grant sees %v, want [1 2 3 12]", got)
	}
	_, err = acme.Delete(ctx, "docs", []uint64{3, 12})
	wantCode(t, "acme deletes a vector granted to it", err, codes.PermissionDenied)

	// Restart: tenants, their numbers and keys are intact.
	ts.stop()
	ts.restart()
	admin, acme, beta = ts.dial("admin"), ts.dial(keys["acme"]), ts.dial(keys["beta"])
	if got := ids(acme); !slices.Equal(got, []uint64{1, 2, 3, 12}) {
		t.Errorf("acme after a restart sees %v, want [1 2 3 12]", got)
	}
	if _, err := admin.Tenants.Revoke(ctx, &shoalv1.RevokeRequest{Collection: "docs", Tenant: "acme", Ids: []uint64{12}}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if got := ids(acme); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("acme after the revoke sees %v, want [1 2 3]", got)
	}
	// The admin key searches as a tenant when it names one.
	res, err := admin.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: v(1), TopK: 10, Tenant: "beta"})
	if err != nil || len(res.GetHits()) != 3 {
		t.Errorf("admin searching as beta: %v, %v; want beta's 3", res, err)
	}

	// A tenant deletes its own vectors; absent ids are not counted.
	if n, err := acme.Delete(ctx, "docs", []uint64{2, 999}); err != nil || n != 1 {
		t.Errorf("acme deletes its own 2 and absent 999: %d, %v; want 1 deleted", n, err)
	}
	_, err = acme.Delete(ctx, "docs", []uint64{1, 1})
	wantCode(t, "acme deletes an id twice", err, codes.InvalidArgument)
	if got := ids(acme); !slices.Equal(got, []uint64{1, 3}) {
		t.Errorf("acme after deleting 2 sees %v, want [1 3]", got)
	}

	// Deleting beta deletes what it owns.
	if _, err := admin.Tenants.DeleteTenant(ctx, &shoalv1.DeleteTenantRequest{Collection: "docs", Tenant: "beta"}); err != nil {
		t.Fatalf("DeleteTenant: %v", err)
	}
	if got := ids(admin); !slices.Equal(got, []uint64{1, 3, 21}) {
		t.Errorf("admin after deleting beta sees %v, want [1 3 21]", got)
	}
	_, err = beta.Search(ctx, "docs", v(1), 1, nil)
	wantCode(t, "beta's key after beta was deleted (revoked with it)", err, codes.Unauthenticated)
	list, err = admin.Tenants.ListTenants(ctx, &shoalv1.ListTenantsRequest{Collection: "docs"})
	if err != nil || !slices.Equal(list.GetTenants(), []string{"acme"}) {
		t.Errorf("ListTenants = %v, %v; want [acme]", list, err)
	}
}
