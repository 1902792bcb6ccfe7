package server

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// TestImportShutdownResumes: closing the server stops a running upsert
// job after its batch in flight and leaves its record RUNNING with the
// rows done; the next Open resumes it from that row to DONE. The test
// holds the collection's write lock so that the job is certainly
// mid-file when the server closes.
func TestImportShutdownResumes(t *testing.T) {
	const n, dim = 5000, 4
	dir := t.TempDir()
	opts := &Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := (collectionsAPI{Server: s}).CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "docs", Config: &shoalv1.CollectionConfig{Dim: dim}}); err != nil {
		t.Fatal(err)
	}
	writeRows(t, filepath.Join(dir, "import", "v.fvecs"), n, dim)
	c, err := s.acquire("docs")
	if err != nil {
		t.Fatal(err)
	}
	c.release()
	c.wmu.Lock() // the job's first batch waits for this
	reached := make(chan struct{}, 1)
	testHookImportBatch = func() {
		select {
		case reached <- struct{}{}:
		default:
		}
	}
	defer func() { testHookImportBatch = nil }()
	j, err := (adminAPI{Server: s}).StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "v.fvecs", Method: shoalv1.ImportMethod_IMPORT_METHOD_UPSERT})
	if err != nil {
		c.wmu.Unlock()
		t.Fatal(err)
	}
	<-reached                         // the job is at its first batch
	time.Sleep(20 * time.Millisecond) // and, almost surely, waiting on the lock
	stopping := make(chan struct{})
	var once sync.Once
	testHookImportsStop = func() { once.Do(func() { close(stopping) }) }
	defer func() { testHookImportsStop = nil }()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	<-stopping                        // Close has cancelled the job
	time.Sleep(20 * time.Millisecond) // and waits for it
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a job's batch was in flight", err)
	default:
	}
	c.wmu.Unlock()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	testHookImportBatch = nil

	rec := importRecordOf(t, dir, j.GetId())
	if rec.State != shoalv1.ImportJob_STATE_RUNNING.String() || rec.Done != importBatch || rec.FinishedMs != 0 {
		t.Fatalf("record after Close = %+v, want RUNNING after one batch of %d", rec, importBatch)
	}
	s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	job, err := s.imports.get(j.GetId())
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	<-job.stopped
	got := job.proto()
	if got.GetState() != shoalv1.ImportJob_STATE_DONE || got.GetDone() != n || got.GetResumed() != 1 || got.GetMethod() != shoalv1.ImportMethod_IMPORT_METHOD_UPSERT {
		t.Fatalf("job after the restart = %v, want DONE with %d rows, resumed once", got, n)
	}
	if c, err = s.acquire("docs"); err != nil {
		t.Fatal(err)
	}
	defer c.release()
	if l := c.ix.Len(); l != n {
		t.Fatalf("collection holds %d vectors, want %d", l, n)
	}
}

// writeRows writes n vectors of dim, row i = (i, i+1, ...), as .fvecs.
func writeRows(t *testing.T, path string, n, dim int) {
	t.Helper()
	var b []byte
	for i := 0; i < n; i++ {
		b = binary.LittleEndian.AppendUint32(b, uint32(dim))
		for d := 0; d < dim; d++ {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i+d)))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// importRecordOf reads job id's record from the catalog of the closed
// server of dir.
func importRecordOf(t *testing.T, dir, id string) importRecord {
	t.Helper()
	db, err := index.OpenSharedDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cat, err := openCatalog(db)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := cat.imports()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no record of job %s", id)
	return importRecord{}
}

// TestImportBoundToTenant: a job started for a tenant writes only as that
// tenant; if the tenant is deleted and a new one of the same name made
// while the job runs, the job fails instead of writing into the new one.
func TestImportBoundToTenant(t *testing.T) {
	const n, dim = 3 * importBatch, 4
	dir := t.TempDir()
	s, err := Open(&Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.WithValue(context.Background(), principalKey{}, principal{admin: true})
	if _, err := (collectionsAPI{Server: s}).CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "docs", Config: &shoalv1.CollectionConfig{Dim: dim}}); err != nil {
		t.Fatal(err)
	}
	ten := tenantsAPI{Server: s}
	if _, err := ten.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "t"}); err != nil {
		t.Fatal(err)
	}
	writeRows(t, filepath.Join(dir, "import", "v.fvecs"), n, dim)
	second, resume := make(chan struct{}), make(chan struct{})
	calls := 0
	testHookImportBatch = func() {
		if calls++; calls == 2 {
			close(second)
			<-resume
		}
	}
	defer func() { testHookImportBatch = nil }()
	j, err := (adminAPI{Server: s}).StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "v.fvecs", Tenant: "t", Method: shoalv1.ImportMethod_IMPORT_METHOD_UPSERT})
	if err != nil {
		t.Fatal(err)
	}
	<-second // the first batch is in, as the old t
	if _, err := ten.DeleteTenant(ctx, &shoalv1.DeleteTenantRequest{Collection: "docs", Tenant: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ten.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "t"}); err != nil {
		t.Fatal(err)
	}
	close(resume)
	job, err := s.imports.get(j.GetId())
	if err != nil {
		t.Fatal(err)
	}
	<-job.stopped
	got := job.proto()
	if got.GetState() != shoalv1.ImportJob_STATE_FAILED || got.GetDone() != importBatch {
		t.Fatalf("job = %v, want FAILED after its first batch", got)
	}
	c, err := s.acquire("docs")
	if err != nil {
		t.Fatal(err)
	}
	defer c.release()
	id, err := c.tenantID("t")
	if err != nil {
		t.Fatal(err)
	}
	if l, err := c.ix.TenantLen(id); err != nil || l != 0 {
		t.Fatalf("the new tenant t holds %d vectors (%v), want 0", l, err)
	}
}

// TestImportBuildCrash: the two states a crash may leave a build job in
// are completed by Open. Before the swap (a complete build in its own
// namespace, the collection's record still naming the old one): the
// build is dropped and the job runs again from the start, to DONE.
// After the swap (the record names the build; the old namespace and the
// job's RUNNING record are still there): the old namespace is dropped
// and the job is DONE without running.
func TestImportBuildCrash(t *testing.T) {
	const n, dim = 1500, 4
	ctx := context.Background()
	open := func(dir string) *Server {
		t.Helper()
		s, err := Open(&Options{DataDir: dir, ImportBuildMinRows: 100, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// setup returns a server with an empty collection and a file to
	// import into it.
	setup := func() (string, *Server, *collection) {
		dir := t.TempDir()
		s := open(dir)
		if _, err := (collectionsAPI{Server: s}).CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "docs", Config: &shoalv1.CollectionConfig{Dim: dim}}); err != nil {
			t.Fatal(err)
		}
		writeRows(t, filepath.Join(dir, "import", "v.fvecs"), n, dim)
		c, err := s.acquire("docs")
		if err != nil {
			t.Fatal(err)
		}
		c.release()
		return dir, s, c
	}
	// check reopens dir and waits for job id: DONE, all rows stored, and
	// the collection's namespace the only one.
	check := func(dir, id string, resumed uint32) {
		t.Helper()
		s := open(dir)
		defer s.Close()
		j, err := s.imports.get(id)
		if err != nil {
			t.Fatal(err)
		}
		<-j.stopped
		if p := j.proto(); p.GetState() != shoalv1.ImportJob_STATE_DONE || p.GetDone() != n || p.GetResumed() != resumed {
			t.Fatalf("job after the restart = %v, want DONE with %d rows, resumed %d times", p, n, resumed)
		}
		c, err := s.acquire("docs")
		if err != nil {
			t.Fatal(err)
		}
		defer c.release()
		if c.ix.Len() != n {
			t.Errorf("the collection holds %d vectors, want %d", c.ix.Len(), n)
		}
		if ns := s.db.Namespaces(); len(ns) != 1 || ns[0] != c.rec.Dir {
			t.Errorf("namespaces %v, want only the collection's %s", ns, c.rec.Dir)
		}
		ents, err := os.ReadDir(filepath.Join(dir, collectionsDir))
		if err != nil || len(ents) != 1 {
			t.Errorf("%s holds %d entries (%v), want the collection's directory alone", collectionsDir, len(ents), err)
		}
		if v, err := c.ix.Get(7); err != nil || v[0] != 7 {
			t.Errorf("Get(7) = %v, %v; want row 7", v, err)
		}
	}

	t.Run("before the swap", func(t *testing.T) {
		dir, s, c := setup()
		path := filepath.Join(dir, "import", "v.fvecs")
		f, err := index.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := importRecord{
			ID: "imp-00000000000000aa", Collection: "docs", CollNumber: c.rec.Number, Path: path,
			Method: methodBuild, BuildDir: buildDir(c.rec.Number, "imp-00000000000000aa", 0),
			State: shoalv1.ImportJob_STATE_RUNNING.String(), Total: n, StartedMs: time.Now().UnixMilli(),
		}
		// The build finished (its manifest is written), the swap did not.
		if _, err := index.Build(filepath.Join(dir, filepath.FromSlash(r.BuildDir)), f, &index.Options{Shared: s.db}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := s.cat.putImport(r); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		check(dir, r.ID, 1)
	})

	t.Run("after the swap", func(t *testing.T) {
		dir, s, c := setup()
		oldDir := c.rec.Dir
		j, err := (adminAPI{Server: s}).StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "v.fvecs"})
		if err != nil {
			t.Fatal(err)
		}
		job, err := s.imports.get(j.GetId())
		if err != nil {
			t.Fatal(err)
		}
		<-job.stopped
		if p := job.proto(); p.GetState() != shoalv1.ImportJob_STATE_DONE || p.GetMethod() != shoalv1.ImportMethod_IMPORT_METHOD_BUILD {
			t.Fatalf("job = %v, want a DONE build", p)
		}
		// Undo what follows the swap: the old namespace is back, the
		// job's record says RUNNING.
		if _, err := index.Create(filepath.Join(dir, filepath.FromSlash(oldDir)), dim, &index.Options{Shared: s.db}); err != nil {
			t.Fatal(err)
		}
		r := job.record()
		r.State, r.FinishedMs = shoalv1.ImportJob_STATE_RUNNING.String(), 0
		if err := s.cat.putImport(r); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		check(dir, r.ID, 0)
	})
}
