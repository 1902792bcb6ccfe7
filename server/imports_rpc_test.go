package server_test

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// writeFvecs writes vecs as a TEXMEX .fvecs file at path.
func writeFvecs(t *testing.T, path string, vecs [][]float32) {
	t.Helper()
	var b []byte
	for _, v := range vecs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitImport polls GetImport until the job is no longer running.
func waitImport(t *testing.T, c *client.Client, id string) *shoalv1.ImportJob {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := c.Admin.GetImport(context.Background(), &shoalv1.GetImportRequest{Id: id})
		if err != nil {
			t.Fatalf("GetImport(%s): %v", id, err)
		}
		if j.GetState() != shoalv1.ImportJob_STATE_RUNNING {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %s still running after 30 s: %v", id, j)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestImport: a job imports every row of an .fvecs file in the import
// directory under first_id + row, owned by the tenant asked for; its
// progress is queryable and listed, and the vectors read back and
// search exactly.
func TestImport(t *testing.T) {
	const n, dim, first = 2500, 8, 5000
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	vecs := clustered(rand.New(rand.NewPCG(3, 4)), n, dim)
	writeFvecs(t, filepath.Join(ts.dir, "import", "a.fvecs"), vecs)

	j, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "a.fvecs", FirstId: first, Tenant: "acme"})
	if err != nil {
		t.Fatalf("StartImport: %v", err)
	}
	if j.GetTotal() != n || j.GetId() == "" {
		t.Fatalf("StartImport = %v, want a job of %d rows", j, n)
	}
	j = waitImport(t, admin, j.GetId())
	if j.GetState() != shoalv1.ImportJob_STATE_DONE || j.GetDone() != n || j.GetError() != "" || j.GetFinishedUnixMs() == 0 {
		t.Fatalf("job = %v, want DONE with %d rows", j, n)
	}
	list, err := admin.Admin.ListImports(ctx, &shoalv1.ListImportsRequest{})
	if err != nil || len(list.GetJobs()) != 1 || list.GetJobs()[0].GetId() != j.GetId() {
		t.Fatalf("ListImports = %v, %v; want the one job", list, err)
	}

	ids := []uint64{first, first + 1, first + n/2, first + n - 1, first + n}
	got, err := admin.Get(ctx, "docs", ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, n / 2, n - 1} {
		if !slices.Equal(got[uint64(first+i)], vecs[i]) {
			t.Errorf("Get(%d) = %v, want row %d %v", first+i, got[uint64(first+i)], i, vecs[i])
		}
	}
	if _, ok := got[first+n]; ok {
		t.Errorf("Get(%d): id past the last row holds a vector", first+n)
	}
	hits, err := admin.Search(ctx, "docs", vecs[77], 1, &shoalv1.SearchParams{Nprobe: 32})
	if err != nil || len(hits) != 1 || hits[0].GetId() != first+77 {
		t.Errorf("Search(row 77) = %v, %v; want id %d", hits, err, first+77)
	}

	// Owned by acme: its key reads them.
	k, err := admin.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: "docs", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	acme := ts.dial(k.GetSecret())
	got, err = acme.Get(ctx, "docs", []uint64{first + 3})
	if err != nil || len(got) != 1 {
		t.Errorf("acme Get(%d) = %v, %v; want its vector", first+3, got, err)
	}
	_, err = acme.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "a.fvecs"})
	wantCode(t, "StartImport with a tenant key", err, codes.PermissionDenied)
	_, err = acme.Admin.GetImport(ctx, &shoalv1.GetImportRequest{Id: j.GetId()})
	wantCode(t, "GetImport with a tenant key", err, codes.PermissionDenied)
}

// TestImportRefused: paths outside the import directory (.., absolute,
// a symbolic link out), missing files, a wrong dimension, an unknown
// collection or tenant are refused at start and start no job.
func TestImportRefused(t *testing.T) {
	const dim = 8
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		t.Fatal(err)
	}
	imp := filepath.Join(ts.dir, "import")
	vecs := clustered(rand.New(rand.NewPCG(1, 2)), 10, dim)
	writeFvecs(t, filepath.Join(imp, "ok.fvecs"), vecs)
	writeFvecs(t, filepath.Join(imp, "dim4.fvecs"), clustered(rand.New(rand.NewPCG(1, 2)), 10, 4))
	outside := filepath.Join(t.TempDir(), "secret.fvecs")
	writeFvecs(t, outside, vecs)
	if err := os.Symlink(outside, filepath.Join(imp, "link.fvecs")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(imp, "junk.fvecs"), []byte("not vectors"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, coll, path, tenant string
		code                     codes.Code
	}{
		{"dotdot", "docs", "../secret.fvecs", "", codes.PermissionDenied},
		{"dotdot inside then out", "docs", "sub/../../x.fvecs", "", codes.PermissionDenied},
		{"absolute outside", "docs", outside, "", codes.PermissionDenied},
		{"symlink out", "docs", "link.fvecs", "", codes.PermissionDenied},
		{"the directory itself", "docs", ".", "", codes.PermissionDenied},
		{"empty", "docs", "", "", codes.InvalidArgument},
		{"missing", "docs", "nope.fvecs", "", codes.NotFound},
		{"wrong dimension", "docs", "dim4.fvecs", "", codes.InvalidArgument},
		{"not a vector file", "docs", "junk.fvecs", "", codes.InvalidArgument},
		{"unknown collection", "nope", "ok.fvecs", "", codes.NotFound},
		{"unknown tenant", "docs", "ok.fvecs", "ghost", codes.NotFound},
	} {
		_, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: tc.coll, Path: tc.path, Tenant: tc.tenant})
		wantCode(t, tc.name, err, tc.code)
	}
	// An absolute path inside is fine.
	j, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: filepath.Join(imp, "ok.fvecs")})
	if err != nil {
		t.Fatalf("StartImport(absolute path inside): %v", err)
	}
	if j = waitImport(t, admin, j.GetId()); j.GetState() != shoalv1.ImportJob_STATE_DONE || j.GetDone() != 10 {
		t.Errorf("job = %v, want DONE with 10 rows", j)
	}
	list, err := admin.Admin.ListImports(ctx, &shoalv1.ListImportsRequest{})
	if err != nil || len(list.GetJobs()) != 1 {
		t.Errorf("ListImports = %v, %v; want only the one job started", list, err)
	}
	_, err = admin.Admin.GetImport(ctx, &shoalv1.GetImportRequest{Id: "imp-nope"})
	wantCode(t, "GetImport unknown", err, codes.NotFound)
	_, err = admin.Admin.CancelImport(ctx, &shoalv1.CancelImportRequest{Id: "imp-nope"})
	wantCode(t, "CancelImport unknown", err, codes.NotFound)
	// Cancelling a finished job changes nothing.
	c, err := admin.Admin.CancelImport(ctx, &shoalv1.CancelImportRequest{Id: j.GetId()})
	if err != nil || c.GetState() != shoalv1.ImportJob_STATE_DONE {
		t.Errorf("CancelImport(done job) = %v, %v; want it DONE", c, err)
	}
}

// TestImportCancel: CancelImport stops a running job after a batch and
// returns it CANCELLED with the rows before stored.
func TestImportCancel(t *testing.T) {
	const n, dim = 200_000, 4
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		t.Fatal(err)
	}
	vecs := clustered(rand.New(rand.NewPCG(5, 6)), n, dim)
	writeFvecs(t, filepath.Join(ts.dir, "import", "big.fvecs"), vecs)
	j, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "big.fvecs", FirstId: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := admin.Admin.CancelImport(ctx, &shoalv1.CancelImportRequest{Id: j.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetState() == shoalv1.ImportJob_STATE_DONE {
		t.Skipf("the job of %d rows finished before the cancel arrived", n)
	}
	if c.GetState() != shoalv1.ImportJob_STATE_CANCELLED || c.GetDone() >= n {
		t.Fatalf("CancelImport = %v, want CANCELLED before the end", c)
	}
	if g := waitImport(t, admin, j.GetId()); g.GetDone() != c.GetDone() {
		t.Errorf("done moved after the cancel: %d, then %d", c.GetDone(), g.GetDone())
	}
	coll, err := admin.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cancelled after %d of %d rows; collection %v", c.GetDone(), n, coll)
}
