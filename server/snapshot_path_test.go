package server_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// TestSnapshotPathRoundTrip: CreateSnapshot answers the directory as
// RestoreSnapshot takes it (relative to -snapshot-dir); RestoreSnapshot
// also takes the absolute path of a directory inside -snapshot-dir, and
// refuses any other absolute path; a link inside that leads out stays
// refused.
func TestSnapshotPathRoundTrip(t *testing.T) {
	snaps := t.TempDir()
	outside := t.TempDir()
	ts := start(t, "", &server.Options{SnapshotDir: snaps})
	admin := ts.dial("admin")
	ctx := context.Background()
	ingest(t, admin, "docs", 100, 4, 3)

	snap, err := admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: "./daily//one"})
	if err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	if snap.GetDirectory() != "daily/one" {
		t.Fatalf("CreateSnapshot answered directory %q, want daily/one (relative, cleaned)", snap.GetDirectory())
	}
	restore := func(dir, coll string) error {
		_, err := admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: dir, Collection: coll})
		return err
	}
	if err := restore(snap.GetDirectory(), "fromrel"); err != nil {
		t.Errorf("RestoreSnapshot of the directory CreateSnapshot answered: %v", err)
	}
	abs := filepath.Join(snaps, "daily", "one")
	if err := restore(abs, "fromabs"); err != nil {
		t.Errorf("RestoreSnapshot of %s (absolute, inside -snapshot-dir): %v", abs, err)
	}
	col, err := admin.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "fromabs"})
	if err != nil || col.GetVectorCount() != 100 {
		t.Errorf("restored from the absolute path: %v, %v; want 100 vectors", col, err)
	}

	// A copy of the snapshot outside, reached by an absolute path, by
	// .. out of -snapshot-dir, or through a link inside.
	if err := os.CopyFS(filepath.Join(outside, "one"), os.DirFS(abs)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "one"), filepath.Join(snaps, "link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir  string
		code codes.Code
	}{
		{filepath.Join(outside, "one"), codes.InvalidArgument},
		{snaps + "/../" + filepath.Base(outside) + "/one", codes.InvalidArgument},
		{snaps, codes.InvalidArgument},
		{filepath.Join(snaps, ".hidden"), codes.InvalidArgument},
		{filepath.Join(snaps, "link"), codes.PermissionDenied},
		{"link", codes.PermissionDenied},
	} {
		wantCode(t, "RestoreSnapshot of "+tc.dir, restore(tc.dir, "nope"), tc.code)
	}
}
