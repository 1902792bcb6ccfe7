package server_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// buildOpts are the options of the servers of these tests: a build for
// files of 500 rows and more.
var buildOpts = &server.Options{ImportBuildMinRows: 500}

// TestImportBuild: a file imported into an empty collection is built
// offline (method BUILD) under the ids of its rows, owned by the tenant
// asked for; it reads back and searches exactly; afterwards the
// collection takes writes, and an import into it, no longer empty,
// upserts.
func TestImportBuild(t *testing.T) {
	const n, dim = 3000, 8
	ts := start(t, "", buildOpts)
	admin := ts.dial("admin")
	ctx := context.Background()
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim, Metric: shoalv1.Metric_METRIC_COSINE, IndexedPayloadFields: []string{"color"}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"acme", "beta"} {
		if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: name}); err != nil {
			t.Fatal(err)
		}
	}
	vecs := clustered(rand.New(rand.NewPCG(8, 9)), n, dim)
	writeFvecs(t, filepath.Join(ts.dir, "import", "a.fvecs"), vecs)
	j, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "a.fvecs", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if j.GetMethod() != shoalv1.ImportMethod_IMPORT_METHOD_BUILD || j.GetState() != shoalv1.ImportJob_STATE_RUNNING {
		t.Fatalf("StartImport = %v, want a RUNNING BUILD job", j)
	}
	j = waitImport(t, admin, j.GetId())
	if j.GetState() != shoalv1.ImportJob_STATE_DONE || j.GetDone() != n || j.GetFinishedUnixMs() == 0 || j.GetStage() != "" {
		t.Fatalf("job = %v, want DONE with %d rows", j, n)
	}
	col, err := admin.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil || col.GetVectorCount() != n {
		t.Fatalf("DescribeCollection = %v, %v; want %d vectors", col, err, n)
	}
	got, err := admin.Get(ctx, "docs", []uint64{0, 1, n - 1, n})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, n - 1} {
		if !near(got[uint64(i)], normalized(vecs[i])) {
			t.Errorf("Get(%d) = %v, want row %d normalised %v", i, got[uint64(i)], i, normalized(vecs[i]))
		}
	}
	if _, ok := got[n]; ok {
		t.Errorf("Get(%d): an id past the last row holds a vector", n)
	}
	hits, err := admin.Search(ctx, "docs", vecs[77], 1, &shoalv1.SearchParams{Nprobe: 32})
	if err != nil || len(hits) != 1 || hits[0].GetId() != 77 {
		t.Errorf("Search(row 77) = %v, %v; want id 77", hits, err)
	}
	// Owned by acme, not beta.
	for tenant, want := range map[string]int{"acme": n, "beta": 0} {
		k, err := admin.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: "docs", Tenant: tenant})
		if err != nil {
			t.Fatal(err)
		}
		col, err := ts.dial(k.GetSecret()).Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
		if err != nil || col.GetVectorCount() != uint64(want) {
			t.Errorf("%s sees %v, %v; want %d vectors", tenant, col, err, want)
		}
	}
	// A snapshot of the built collection restores whole, owners
	// included.
	if _, err := admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: "built"}); err != nil {
		t.Fatal(err)
	}
	if col, err := admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "built", Collection: "copy"}); err != nil || col.GetVectorCount() != n {
		t.Fatalf("RestoreSnapshot = %v, %v; want %d vectors", col, err, n)
	}
	// Writable again; no longer empty, so the next import upserts. The
	// built index kept the collection's indexed payload fields.
	if err := admin.UpsertRecords(ctx, "docs", []client.Record{{ID: n, Values: vecs[0], Payload: map[string]any{"color": "red"}}}); err != nil {
		t.Errorf("Upsert after the build: %v", err)
	}
	if hits, err := admin.SearchWith(ctx, "docs", vecs[0], 5, &client.SearchOptions{Filter: "color=red", IncludePayload: true}); err != nil || len(hits) != 1 || hits[0].GetId() != n {
		t.Errorf("search color=red after the build = %v, %v; want id %d alone", hits, err, n)
	}
	j2, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "a.fvecs", FirstId: n + 1})
	if err != nil || j2.GetMethod() != shoalv1.ImportMethod_IMPORT_METHOD_UPSERT {
		t.Fatalf("StartImport into the loaded collection = %v, %v; want an UPSERT job", j2, err)
	}
	if j2 = waitImport(t, admin, j2.GetId()); j2.GetState() != shoalv1.ImportJob_STATE_DONE {
		t.Fatalf("second job = %v, want DONE", j2)
	}
	// The replaced, empty index is gone: one directory per collection.
	if ents, err := os.ReadDir(filepath.Join(ts.dir, "collections")); err != nil || len(ents) != 2 {
		t.Errorf("collections/ holds %d entries (%v), want 2 (docs and its restored copy)", len(ents), err)
	}
	ts.stop()
	ts.restart()
	admin = ts.dial("admin")
	col, err = admin.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil || col.GetVectorCount() != 2*n+1 {
		t.Fatalf("after a restart: %v, %v; want %d vectors", col, err, 2*n+1)
	}
	list, err := admin.Admin.ListImports(ctx, &shoalv1.ListImportsRequest{})
	if err != nil || len(list.GetJobs()) != 2 || list.GetJobs()[0].GetId() != j.GetId() || list.GetJobs()[1].GetState() != shoalv1.ImportJob_STATE_DONE {
		t.Fatalf("ListImports after a restart = %v, %v; want both jobs, DONE, oldest first", list, err)
	}
}

func normalized(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(s))
	}
	return out
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d > 1e-5 || d < -1e-5 {
			return false
		}
	}
	return true
}

// TestImportBuildRefusesWrites: while a build job holds its collection,
// every write to it is FAILED_PRECONDITION and changes nothing, as is
// another import into it; searches answer (from the empty index); other
// collections are not affected. Once the job is DONE writes are taken.
func TestImportBuildRefusesWrites(t *testing.T) {
	const n, dim = 1000, 4
	ts := start(t, "", buildOpts)
	admin := ts.dial("admin")
	ctx := context.Background()
	other := ingest(t, admin, "other", 50, dim, 1)
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	vecs := clustered(rand.New(rand.NewPCG(1, 1)), n, dim)
	writeFvecs(t, filepath.Join(ts.dir, "import", "a.fvecs"), vecs)
	reached, release := server.HoldImportSwap(t)
	j, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "a.fvecs"})
	if err != nil {
		t.Fatal(err)
	}
	<-reached
	v := []float32{1, 2, 3, 4}
	for what, call := range map[string]func() error{
		"Upsert": func() error { return admin.Upsert(ctx, "docs", []uint64{1}, [][]float32{v}) },
		"UpsertStream": func() error {
			_, err := admin.UpsertStream(ctx, "docs", []uint64{1}, [][]float32{v})
			return err
		},
		"Delete": func() error { _, err := admin.Delete(ctx, "docs", []uint64{1}); return err },
		"SetLabels": func() error {
			_, err := admin.Vectors.SetLabels(ctx, &shoalv1.SetLabelsRequest{Collection: "docs", Vectors: []*shoalv1.LabelSet{{Id: 1, Labels: []uint32{3}}}})
			return err
		},
		"CreateTenant": func() error {
			_, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "beta"})
			return err
		},
		"DeleteTenant": func() error {
			_, err := admin.Tenants.DeleteTenant(ctx, &shoalv1.DeleteTenantRequest{Collection: "docs", Tenant: "acme"})
			return err
		},
		"Grant": func() error {
			_, err := admin.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: "docs", Tenant: "acme", Ids: []uint64{1}})
			return err
		},
		"StartImport": func() error {
			_, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "a.fvecs", FirstId: 5000, Method: shoalv1.ImportMethod_IMPORT_METHOD_UPSERT})
			return err
		},
	} {
		err := call()
		wantCode(t, what+" during the build", err, codes.FailedPrecondition)
		if err != nil && !strings.Contains(err.Error(), j.GetId()) {
			t.Errorf("%s: %v does not name the job", what, err)
		}
	}
	if hits, err := admin.Search(ctx, "docs", v, 3, nil); err != nil || len(hits) != 0 {
		t.Errorf("Search during the build = %v, %v; want no hits, no error", hits, err)
	}
	if err := admin.Upsert(ctx, "other", []uint64{9999}, [][]float32{other.vecs[0]}); err != nil {
		t.Errorf("Upsert into another collection during the build: %v", err)
	}
	if p, err := admin.Admin.GetImport(ctx, &shoalv1.GetImportRequest{Id: j.GetId()}); err != nil || p.GetStage() != "write" && p.GetStage() != "tenants" {
		t.Logf("job held before its swap: %v, %v", p, err)
	}
	release()
	if j = waitImport(t, admin, j.GetId()); j.GetState() != shoalv1.ImportJob_STATE_DONE || j.GetDone() != n {
		t.Fatalf("job = %v, want DONE", j)
	}
	if err := admin.Upsert(ctx, "docs", []uint64{n}, [][]float32{v}); err != nil {
		t.Errorf("Upsert after the build: %v", err)
	}
	if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "beta"}); err != nil {
		t.Errorf("CreateTenant after the build: %v", err)
	}
	col, err := admin.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil || col.GetVectorCount() != n+1 {
		t.Errorf("DescribeCollection = %v, %v; want %d vectors", col, err, n+1)
	}
}

// TestImportMethod: the method a job gets, and BUILD refused where it
// may not be used.
func TestImportMethod(t *testing.T) {
	const dim = 4
	ts := start(t, "", buildOpts)
	admin := ts.dial("admin")
	ctx := context.Background()
	ingest(t, admin, "full", 10, dim, 2)
	rng := rand.New(rand.NewPCG(2, 2))
	writeFvecs(t, filepath.Join(ts.dir, "import", "small.fvecs"), clustered(rng, 100, dim))
	writeFvecs(t, filepath.Join(ts.dir, "import", "big.fvecs"), clustered(rng, 600, dim))
	for i, tc := range []struct {
		coll, path string
		firstID    uint64
		method     shoalv1.ImportMethod
		want       shoalv1.ImportMethod
		code       codes.Code
	}{
		{"full", "big.fvecs", 100, shoalv1.ImportMethod_IMPORT_METHOD_AUTO, shoalv1.ImportMethod_IMPORT_METHOD_UPSERT, codes.OK},
		{"full", "big.fvecs", 0, shoalv1.ImportMethod_IMPORT_METHOD_BUILD, 0, codes.FailedPrecondition},
		{"e1", "big.fvecs", 5, shoalv1.ImportMethod_IMPORT_METHOD_BUILD, 0, codes.FailedPrecondition},
		{"e1", "big.fvecs", 5, shoalv1.ImportMethod_IMPORT_METHOD_AUTO, shoalv1.ImportMethod_IMPORT_METHOD_UPSERT, codes.OK},
		{"e2", "small.fvecs", 0, shoalv1.ImportMethod_IMPORT_METHOD_AUTO, shoalv1.ImportMethod_IMPORT_METHOD_UPSERT, codes.OK},
		{"e3", "small.fvecs", 0, shoalv1.ImportMethod_IMPORT_METHOD_BUILD, shoalv1.ImportMethod_IMPORT_METHOD_BUILD, codes.OK},
		{"e4", "big.fvecs", 0, shoalv1.ImportMethod_IMPORT_METHOD_UPSERT, shoalv1.ImportMethod_IMPORT_METHOD_UPSERT, codes.OK},
		{"e5", "big.fvecs", 0, shoalv1.ImportMethod_IMPORT_METHOD_AUTO, shoalv1.ImportMethod_IMPORT_METHOD_BUILD, codes.OK},
		{"e6", "big.fvecs", 0, 7, 0, codes.InvalidArgument},
	} {
		if tc.coll != "full" {
			if _, err := admin.CreateCollection(ctx, tc.coll, &shoalv1.CollectionConfig{Dim: dim}); err != nil && !strings.Contains(err.Error(), "exists") {
				t.Fatal(err)
			}
		}
		j, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: tc.coll, Path: tc.path, FirstId: tc.firstID, Method: tc.method})
		if tc.code != codes.OK {
			wantCode(t, tc.coll+" "+tc.method.String(), err, tc.code)
			continue
		}
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if j.GetMethod() != tc.want {
			t.Errorf("case %d: %s into %s with %v: method %v, want %v", i, tc.path, tc.coll, tc.method, j.GetMethod(), tc.want)
		}
		if j = waitImport(t, admin, j.GetId()); j.GetState() != shoalv1.ImportJob_STATE_DONE {
			t.Errorf("case %d: job = %v, want DONE", i, j)
		}
	}
}

// TestImportBuildCancelAndDrop: a build cancelled, or whose collection is
// dropped, ends CANCELLED or FAILED and leaves nothing: the collection
// is empty and writable, or gone, and no build directory stays.
func TestImportBuildCancelAndDrop(t *testing.T) {
	const n, dim = 1000, 4
	ts := start(t, "", buildOpts)
	admin := ts.dial("admin")
	ctx := context.Background()
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		t.Fatal(err)
	}
	writeFvecs(t, filepath.Join(ts.dir, "import", "a.fvecs"), clustered(rand.New(rand.NewPCG(3, 3)), n, dim))
	reached, release := server.HoldImportSwap(t)
	dirs := func() []string {
		ents, _ := os.ReadDir(filepath.Join(ts.dir, "collections"))
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	before := dirs()

	j, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "a.fvecs"})
	if err != nil {
		t.Fatal(err)
	}
	<-reached
	cancelSeen := server.OnImportCancel(t)
	cancelled := make(chan *shoalv1.ImportJob, 1)
	go func() {
		c, err := admin.Admin.CancelImport(ctx, &shoalv1.CancelImportRequest{Id: j.GetId()})
		if err != nil {
			t.Error(err)
		}
		cancelled <- c
	}()
	<-cancelSeen // the job is cancelled, and held
	release()
	if c := <-cancelled; c.GetState() != shoalv1.ImportJob_STATE_CANCELLED || c.GetDone() != 0 {
		t.Fatalf("CancelImport = %v, want CANCELLED with nothing done", c)
	}
	if got := dirs(); !slices.Equal(got, before) {
		t.Errorf("after the cancel collections/ holds %v, want %v", got, before)
	}
	if err := admin.Upsert(ctx, "docs", []uint64{1}, [][]float32{{1, 2, 3, 4}}); err != nil {
		t.Errorf("Upsert after the cancel: %v", err)
	}
	if _, err := admin.Delete(ctx, "docs", []uint64{1}); err != nil {
		t.Fatal(err)
	}

	reached, release = server.HoldImportSwap(t)
	j, err = admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "a.fvecs"})
	if err != nil {
		t.Fatal(err)
	}
	if j.GetMethod() != shoalv1.ImportMethod_IMPORT_METHOD_BUILD {
		t.Fatalf("second job = %v, want BUILD (the collection is empty again)", j)
	}
	<-reached
	if err := admin.DropCollection(ctx, "docs"); err != nil {
		t.Fatal(err)
	}
	release()
	j = waitImport(t, admin, j.GetId())
	if j.GetState() != shoalv1.ImportJob_STATE_FAILED || !strings.Contains(j.GetError(), "dropped") {
		t.Fatalf("job = %v, want FAILED: the collection was dropped", j)
	}
	if got := dirs(); len(got) != 0 {
		t.Errorf("after the drop collections/ holds %v, want nothing", got)
	}
}

// TestImportResumeAfterRestart: a server restart stops running jobs and
// the next start resumes them: an upsert job from its last recorded row,
// a build job from the start; both end DONE with every row, listed with
// the restart counted.
func TestImportResumeAfterRestart(t *testing.T) {
	const n, dim = 10_000, 4
	ts := start(t, "", buildOpts)
	admin := ts.dial("admin")
	ctx := context.Background()
	for _, name := range []string{"up", "built"} {
		if _, err := admin.CreateCollection(ctx, name, &shoalv1.CollectionConfig{Dim: dim}); err != nil {
			t.Fatal(err)
		}
	}
	vecs := clustered(rand.New(rand.NewPCG(4, 4)), n, dim)
	writeFvecs(t, filepath.Join(ts.dir, "import", "a.fvecs"), vecs)
	// Each job is held mid-way: the upsert job before its batch 3, the
	// build before its swap.
	batchHeld, releaseBatch := server.HoldImportBatch(t, 3)
	up, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "up", Path: "a.fvecs", FirstId: 1})
	if err != nil {
		t.Fatal(err)
	}
	swapHeld, releaseSwap := server.HoldImportSwap(t)
	built, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "built", Path: "a.fvecs"})
	if err != nil {
		t.Fatal(err)
	}
	<-batchHeld
	<-swapHeld
	stopping := server.OnImportsStop(t)
	stopped := make(chan struct{})
	go func() {
		ts.stop()
		close(stopped)
	}()
	<-stopping // the jobs are cancelled: they stop as they leave the holds
	releaseBatch()
	releaseSwap()
	<-stopped
	ts.restart()
	admin = ts.dial("admin")
	for _, id := range []string{up.GetId(), built.GetId()} {
		j := waitImport(t, admin, id)
		if j.GetState() != shoalv1.ImportJob_STATE_DONE || j.GetDone() != n {
			t.Errorf("job %s after the restart = %v, want DONE with %d rows", id, j, n)
		}
		if j.GetResumed() != 1 {
			t.Errorf("job %s resumed %d times, want once", id, j.GetResumed())
		}
		t.Logf("%v", j)
	}
	for name, first := range map[string]uint64{"up": 1, "built": 0} {
		col, err := admin.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: name})
		if err != nil || col.GetVectorCount() != n {
			t.Errorf("%s: %v, %v; want %d vectors", name, col, err, n)
		}
		got, err := admin.Get(ctx, name, []uint64{first, first + n/2, first + n - 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, n / 2, n - 1} {
			if !slices.Equal(got[first+uint64(i)], vecs[i]) {
				t.Errorf("%s: Get(%d) = %v, want row %d", name, first+uint64(i), got[first+uint64(i)], i)
			}
		}
	}
}

// TestImportConcurrentStarts: imports started at once into one empty
// collection never build it twice: at most one job builds, the others
// are refused (FAILED_PRECONDITION) or upsert; every job ends, and the
// collection holds the file's rows.
func TestImportConcurrentStarts(t *testing.T) {
	const n, dim, starts = 800, 4, 4
	ts := start(t, "", buildOpts)
	admin := ts.dial("admin")
	ctx := context.Background()
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		t.Fatal(err)
	}
	writeFvecs(t, filepath.Join(ts.dir, "import", "a.fvecs"), clustered(rand.New(rand.NewPCG(7, 7)), n, dim))
	type result struct {
		j   *shoalv1.ImportJob
		err error
	}
	results := make(chan result, starts)
	for range starts {
		go func() {
			j, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "a.fvecs"})
			results <- result{j, err}
		}()
	}
	builds := 0
	for range starts {
		r := <-results
		if r.err != nil {
			wantCode(t, "a concurrent start", r.err, codes.FailedPrecondition)
			continue
		}
		if r.j.GetMethod() == shoalv1.ImportMethod_IMPORT_METHOD_BUILD {
			builds++
		}
		j := waitImport(t, admin, r.j.GetId())
		t.Logf("%v %v %s", j.GetMethod(), j.GetState(), j.GetError())
	}
	if builds > 1 {
		t.Errorf("%d jobs built the collection, want at most 1", builds)
	}
	col, err := admin.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil || col.GetVectorCount() != n {
		t.Errorf("DescribeCollection = %v, %v; want %d vectors", col, err, n)
	}
}
