package server_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// TestSnapshotRestore: a snapshot taken while writers run holds whole
// batches only; restored as a new collection it has the same vectors,
// tenants, owners and grants, searches as well, and survives a restart.
// Bad names, existing targets and corrupt files are refused and leave
// nothing behind.
func TestSnapshotRestore(t *testing.T) {
	const n, dim = 3000, 16
	snaps := t.TempDir()
	ts := start(t, "", &server.Options{SnapshotDir: snaps})
	admin := ts.dial("admin")
	ctx := context.Background()
	f := ingest(t, admin, "docs", n, dim, 11)
	deleted := map[uint64]bool{}
	var del []uint64
	for i := 0; i < n; i += 7 {
		del = append(del, f.ids[i])
		deleted[f.ids[i]] = true
	}
	if _, err := admin.Delete(ctx, "docs", del); err != nil {
		t.Fatal(err)
	}
	// Tenants: acme owns 1..3, beta owns 11, 12 and grants 12 to acme.
	for _, name := range []string{"acme", "beta"} {
		if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: name}); err != nil {
			t.Fatal(err)
		}
	}
	v := func(x float32) []float32 { return slices.Repeat([]float32{x}, dim) }
	up := func(tenant string, ids ...uint64) {
		t.Helper()
		req := &shoalv1.UpsertRequest{Collection: "docs", Tenant: tenant}
		for _, id := range ids {
			req.Vectors = append(req.Vectors, &shoalv1.Vector{Id: id, Values: v(float32(id))})
		}
		if _, err := admin.Vectors.Upsert(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	up("acme", 1, 2, 3)
	up("beta", 11, 12)
	if _, err := admin.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: "docs", Tenant: "acme", Ids: []uint64{12}}); err != nil {
		t.Fatal(err)
	}
	base := n - len(del) + 5

	// Writers upsert batches of 50 new ids while the snapshot runs.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ; b++ {
				select {
				case <-stop:
					return
				default:
				}
				req := &shoalv1.UpsertRequest{Collection: "docs"}
				for i := range 50 {
					id := uint64(1_000_000*(w+1) + 50*b + i)
					req.Vectors = append(req.Vectors, &shoalv1.Vector{Id: id, Values: v(float32(i))})
				}
				if _, err := admin.Vectors.Upsert(ctx, req); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	snap, err := admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: "daily/one"})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	got := int(snap.GetVectors())
	if got < base || (got-base)%50 != 0 {
		t.Fatalf("snapshot holds %d vectors: want %d plus whole batches of 50", got, base)
	}
	t.Logf("snapshot: %d vectors, %d bytes, %d raw bytes (%.0f %%)", got, snap.GetBytes(), snap.GetRawBytes(), 100*float64(snap.GetBytes())/float64(snap.GetRawBytes()))
	if snap.GetDirectory() != filepath.Join(snaps, "daily", "one") || snap.GetBytes() == 0 {
		t.Errorf("CreateSnapshot = %v", snap)
	}
	if _, err := os.Stat(filepath.Join(snaps, "daily", "one", "manifest.json")); err != nil {
		t.Errorf("no manifest: %v", err)
	}

	// Refusals.
	_, err = admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: "daily/one"})
	wantCode(t, "CreateSnapshot into an existing directory", err, codes.AlreadyExists)
	_, err = admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: "../out"})
	wantCode(t, "CreateSnapshot outside the snapshot directory", err, codes.InvalidArgument)
	_, err = admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "nope", Directory: "x"})
	wantCode(t, "CreateSnapshot of an unknown collection", err, codes.NotFound)
	_, err = admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "daily/one", Collection: "docs"})
	wantCode(t, "RestoreSnapshot onto an existing collection", err, codes.AlreadyExists)
	_, err = admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "missing", Collection: "docs3"})
	wantCode(t, "RestoreSnapshot of a missing snapshot", err, codes.NotFound)
	// A corrupt copy: one byte of a chunk file flipped.
	bad := filepath.Join(snaps, "bad")
	if err := os.CopyFS(bad, os.DirFS(filepath.Join(snaps, "daily", "one"))); err != nil {
		t.Fatal(err)
	}
	chunk := filepath.Join(bad, "vectors-000000.zst")
	b, err := os.ReadFile(chunk)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(chunk, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "bad", Collection: "docs3"})
	wantCode(t, "RestoreSnapshot of a corrupt snapshot", err, codes.DataLoss)

	// Restore, then compare with the source.
	col, err := admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "daily/one", Collection: "docs2"})
	if err != nil {
		t.Fatalf("RestoreSnapshot: %v", err)
	}
	if col.GetVectorCount() != uint64(got) || col.GetConfig().GetDim() != dim {
		t.Errorf("restored collection = %v, want %d vectors of dim %d", col, got, dim)
	}
	sample := append([]uint64{1, 2, 3, 11, 12}, f.ids[:40]...)
	src, err := admin.Get(ctx, "docs", sample)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := admin.Get(ctx, "docs2", sample)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range sample {
		if !slices.Equal(src[id], dst[id]) {
			t.Errorf("id %d: restored %v, source %v", id, dst[id], src[id])
		}
	}
	if r := meanRecall(t, admin, "docs2", f, 20, deleted); r < 0.9 {
		t.Errorf("recall@10 of the restored collection = %.3f, want >= 0.9", r)
	}
	list, err := admin.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
	if err != nil || len(list.GetCollections()) != 2 {
		t.Errorf("collections after the refused restores and one restore: %v, %v; want docs and docs2", list, err)
	}
	check := func(coll string) {
		t.Helper()
		for tenant, want := range map[string][]uint64{"acme": {1, 2, 3, 12}, "beta": {11, 12}} {
			res, err := admin.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: coll, Query: v(5), TopK: 10, Tenant: tenant})
			if err != nil {
				t.Fatalf("%s: Search as %s: %v", coll, tenant, err)
			}
			var ids []uint64
			for _, h := range res.GetHits() {
				ids = append(ids, h.GetId())
			}
			slices.Sort(ids)
			if !slices.Equal(ids, want) {
				t.Errorf("%s: %s sees %v, want %v", coll, tenant, ids, want)
			}
		}
		owned, err := admin.Tenants.ListTenants(ctx, &shoalv1.ListTenantsRequest{Collection: coll})
		if err != nil || !slices.Equal(owned.GetTenants(), []string{"acme", "beta"}) {
			t.Errorf("%s: tenants %v, %v", coll, owned, err)
		}
	}
	check("docs2")
	// Owners came along: beta may delete its 12 in docs2, acme may not.
	k, err := admin.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: "docs2", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.dial(k.GetSecret()).Delete(ctx, "docs2", []uint64{12})
	wantCode(t, "acme deletes beta's 12 in the restored collection", err, codes.PermissionDenied)

	ts.stop()
	ts.restart()
	admin = ts.dial("admin")
	check("docs2")
	col, err = admin.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs2"})
	if err != nil || col.GetVectorCount() != uint64(got) {
		t.Errorf("after a restart docs2 = %v, %v; want %d vectors", col, err, got)
	}
	if ents, _ := os.ReadDir(snaps); len(ents) != 2 {
		t.Errorf("snapshot directory holds %d entries, want daily and bad (no temporary left)", len(ents))
	}
}
