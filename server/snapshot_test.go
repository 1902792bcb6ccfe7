package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
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
	if snap.GetDirectory() != "daily/one" || snap.GetBytes() == 0 {
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
	// Damaged copies: a byte flipped in the largest file, a file cut
	// short, a file missing, a file left out of the manifest. Each is
	// DataLoss and leaves nothing behind.
	for _, tc := range []struct {
		name   string
		damage func(dir string, m map[string]any)
	}{
		{"flipped", func(dir string, m map[string]any) {
			p := filepath.Join(dir, largestFile(m))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"short", func(dir string, m map[string]any) {
			if err := os.Truncate(filepath.Join(dir, largestFile(m)), 4096); err != nil {
				t.Fatal(err)
			}
		}},
		{"missing", func(dir string, m map[string]any) {
			if err := os.Remove(filepath.Join(dir, largestFile(m))); err != nil {
				t.Fatal(err)
			}
		}},
		{"unlisted", func(dir string, m map[string]any) {
			var keep []any
			for _, f := range m["files"].([]any) {
				if !strings.HasPrefix(f.(map[string]any)["name"].(string), "index/MANIFEST-") {
					keep = append(keep, f)
				}
			}
			m["files"] = keep
		}},
	} {
		damagedCopy(t, filepath.Join(snaps, "daily", "one"), filepath.Join(snaps, "bad", tc.name), tc.damage)
		_, err = admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "bad/" + tc.name, Collection: "docs3"})
		wantCode(t, "RestoreSnapshot of a damaged snapshot ("+tc.name+")", err, codes.DataLoss)
		if msg := status.Convert(err).Message(); strings.Contains(msg, ts.dir) {
			t.Errorf("%s: the message names the data directory: %q", tc.name, msg)
		}
	}
	if ents, err := os.ReadDir(filepath.Join(ts.dir, "collections")); err != nil || len(ents) != 1 {
		t.Errorf("collection directories after the refused restores: %v, %v; want docs's only", ents, err)
	}
	if tmps, _ := filepath.Glob(filepath.Join(ts.dir, ".restore-*")); len(tmps) != 0 {
		t.Errorf("temporary restore directories left: %v", tmps)
	}
	// The snapshot's index is an index of its own: a copy of it opens
	// and passes Check.
	cp := filepath.Join(t.TempDir(), "index")
	if err := os.CopyFS(cp, os.DirFS(filepath.Join(snaps, "daily", "one", "index"))); err != nil {
		t.Fatal(err)
	}
	if ix, err := index.Open(cp, nil); err != nil {
		t.Errorf("Open of the snapshot's index: %v", err)
	} else {
		if err := ix.Check(); err != nil || ix.Len() != got {
			t.Errorf("the snapshot's index: Check %v, %d vectors, want %d", err, ix.Len(), got)
		}
		ix.Close()
	}

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

// largestFile returns the name of the largest file of a snapshot
// manifest.
func largestFile(m map[string]any) string {
	var name string
	var size float64 = -1
	for _, f := range m["files"].([]any) {
		f := f.(map[string]any)
		if b := f["bytes"].(float64); b > size {
			name, size = f["name"].(string), b
		}
	}
	return name
}

// damagedCopy copies the snapshot in src to dst and lets damage change
// the copy and its manifest (decoded; written back after).
func damagedCopy(t *testing.T, src, dst string, damage func(dir string, m map[string]any)) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dst, "manifest.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	damage(dst, m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotRestoreLogical: a logical snapshot (version 2), as servers
// before physical snapshots wrote them, still restores: vectors, owners,
// grants and labels.
func TestSnapshotRestoreLogical(t *testing.T) {
	const dim = 4
	snaps := t.TempDir()
	ts := start(t, "", &server.Options{SnapshotDir: snaps})
	admin := ts.dial("admin")
	ctx := context.Background()
	var vs []server.LogicalVector
	for i := range 2500 {
		v := server.LogicalVector{ID: uint64(10 + i), Values: []float32{float32(i), float32(i % 7), 1, float32(i % 3)}}
		switch {
		case i < 3:
			v.Owner = 1
		case i == 3:
			v.Owner, v.Granted = 2, []uint32{1}
		}
		if i%2 == 0 {
			v.Labels = []uint32{5}
		}
		vs = append(vs, v)
	}
	if err := server.WriteLogicalSnapshot(filepath.Join(snaps, "old"), dim, map[string]uint32{"acme": 1, "beta": 2}, vs, 1000); err != nil {
		t.Fatal(err)
	}
	col, err := admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "old", Collection: "copy"})
	if err != nil {
		t.Fatalf("RestoreSnapshot of a version 2 snapshot: %v", err)
	}
	if col.GetVectorCount() != uint64(len(vs)) {
		t.Errorf("restored %d vectors, want %d", col.GetVectorCount(), len(vs))
	}
	got, err := admin.Get(ctx, "copy", []uint64{10, 1000, 2509})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 990, 2499} {
		if !slices.Equal(got[vs[i].ID], vs[i].Values) {
			t.Errorf("id %d: restored %v, want %v", vs[i].ID, got[vs[i].ID], vs[i].Values)
		}
	}
	res, err := admin.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "copy", Query: vs[1].Values, TopK: 10, Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, h := range res.GetHits() {
		ids = append(ids, h.GetId())
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []uint64{10, 11, 12, 13}) {
		t.Errorf("acme sees %v, want its 10, 11, 12 and 13 granted by beta", ids)
	}
	res, err = admin.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "copy", Query: vs[1].Values, TopK: 3, FilterExpr: "5", Params: &shoalv1.SearchParams{Nprobe: 64}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range res.GetHits() {
		if (h.GetId()-10)%2 != 0 {
			t.Errorf("filter on label 5 returned id %d, which has none", h.GetId())
		}
	}
}
