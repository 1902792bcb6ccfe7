package server

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// TestImportShutdownCancels: closing the server cancels a running job,
// waits for its batch in flight, and leaves it CANCELLED with the rows
// before stored. The test holds the collection's write lock so that the
// job is certainly mid-file when the server closes.
func TestImportShutdownCancels(t *testing.T) {
	const n, dim = 5000, 4
	dir := t.TempDir()
	s, err := Open(&Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := (collectionsAPI{Server: s}).CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "docs", Config: &shoalv1.CollectionConfig{Dim: dim}}); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := 0; i < n; i++ {
		b = binary.LittleEndian.AppendUint32(b, dim)
		for d := 0; d < dim; d++ {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i+d)))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "import", "v.fvecs"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	reached := make(chan struct{}, 1)
	block := make(chan struct{}) // the job's first batch waits for this
	testHookImportBatch = func() {
		select {
		case reached <- struct{}{}:
			<-block
		default:
		}
	}
	defer func() { testHookImportBatch = nil }()
	j, err := (adminAPI{Server: s}).StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "v.fvecs"})
	if err != nil {
		close(block)
		t.Fatal(err)
	}
	<-reached // the job is at its first batch, held there
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(50 * time.Millisecond) // let Close cancel the job
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a job's batch was in flight", err)
	default:
	}
	close(block)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	job, err := s.imports.get(j.GetId())
	if err != nil {
		t.Fatal(err)
	}
	got := job.proto()
	if got.GetState() != shoalv1.ImportJob_STATE_CANCELLED || got.GetDone() != importBatch {
		t.Errorf("job after Close = %v, want CANCELLED after one batch of %d", got, importBatch)
	}
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
	var b []byte
	for i := 0; i < n; i++ {
		b = binary.LittleEndian.AppendUint32(b, dim)
		for d := 0; d < dim; d++ {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i+d)))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "import", "v.fvecs"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	second, resume := make(chan struct{}), make(chan struct{})
	calls := 0
	testHookImportBatch = func() {
		if calls++; calls == 2 {
			close(second)
			<-resume
		}
	}
	defer func() { testHookImportBatch = nil }()
	j, err := (adminAPI{Server: s}).StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "v.fvecs", Tenant: "t"})
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
