package server_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// tree lists every path under dir with its type and size, for checking
// that nothing under it changed.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, p+" "+info.Mode().String()+" "+strings.Repeat("#", int(min(info.Size(), 64))))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSnapshotConfined: no snapshot call reaches outside -snapshot-dir
// through a symbolic link in it (absolute or climbing out with ..), nor
// reads a snapshot whose files are links out; each is refused with
// PERMISSION_DENIED (an existing link is ALREADY_EXISTS for a create)
// and nothing outside changes. Temporary snapshot directories that a
// crash left are removed when the server opens.
func TestSnapshotConfined(t *testing.T) {
	const dim = 4
	snaps := t.TempDir()
	outside := t.TempDir() // a sibling of snaps
	if err := os.MkdirAll(filepath.Join(outside, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"abs": outside,                                     // absolute
		"up":  filepath.Join("..", filepath.Base(outside)), // relative, climbing out
	} {
		if err := os.Symlink(target, filepath.Join(snaps, link)); err != nil {
			t.Fatal(err)
		}
	}
	ts := start(t, "", &server.Options{SnapshotDir: snaps})
	admin := ts.dial("admin")
	ctx := context.Background()
	ingest(t, admin, "docs", 50, dim, 5)
	if _, err := admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: "good"}); err != nil {
		t.Fatalf("CreateSnapshot good: %v", err)
	}
	// A copy of it outside, and a snapshot directory inside whose files
	// are links to that copy.
	if err := os.CopyFS(filepath.Join(outside, "copy"), os.DirFS(filepath.Join(snaps, "good"))); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(outside, "copy"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(snaps, "linked"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.Symlink(filepath.Join(outside, "copy", e.Name()), filepath.Join(snaps, "linked", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	before := tree(t, outside)

	create := func(dir string) error {
		_, err := admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: dir})
		return err
	}
	restore := func(dir string) error {
		_, err := admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Collection: "restored", Directory: dir})
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		code codes.Code
	}{
		{"create through an absolute link", create("abs/s1"), codes.PermissionDenied},
		{"create deeper through an absolute link", create("abs/sub/s1"), codes.PermissionDenied},
		{"create through a relative link out", create("up/s1"), codes.PermissionDenied},
		{"create onto a link", create("abs"), codes.AlreadyExists},
		{"restore through an absolute link", restore("abs/copy"), codes.PermissionDenied},
		{"restore through a relative link out", restore("up/copy"), codes.PermissionDenied},
		{"restore of a link", restore("abs"), codes.PermissionDenied},
		{"restore of files linked out", restore("linked"), codes.PermissionDenied},
	} {
		wantCode(t, tc.name, tc.err, tc.code)
		if msg := status.Convert(tc.err).Message(); tc.code == codes.PermissionDenied && !strings.Contains(msg, "outside the snapshot directory") {
			t.Errorf("%s: message %q does not say the path leads outside the snapshot directory", tc.name, msg)
		}
	}
	if after := tree(t, outside); !slices.Equal(before, after) {
		t.Errorf("outside the snapshot directory changed:\nbefore %q\nafter  %q", before, after)
	}
	list, err := admin.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
	if err != nil || len(list.GetCollections()) != 1 {
		t.Errorf("collections after the refused restores: %v, %v; want docs only", list, err)
	}
	// A snapshot through a link that stays inside is fine.
	if err := os.Symlink("good", filepath.Join(snaps, "alias")); err != nil {
		t.Fatal(err)
	}
	if err := restore("alias"); err != nil {
		t.Errorf("restore through a link inside the snapshot directory: %v", err)
	}

	// Temporary directories left by a crash, at the top and deeper, go
	// at the next start; a link of that name is not followed.
	ts.stop()
	for _, d := range []string{".tmp-snapshot-1", "daily/.tmp-snapshot-2"} {
		if err := os.MkdirAll(filepath.Join(snaps, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(snaps, d, "vectors-000000.zst"), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(outside, "copy"), filepath.Join(snaps, ".tmp-snapshot-3")); err != nil {
		t.Fatal(err)
	}
	ts.restart()
	for _, d := range []string{".tmp-snapshot-1", "daily/.tmp-snapshot-2"} {
		if _, err := os.Lstat(filepath.Join(snaps, d)); !os.IsNotExist(err) {
			t.Errorf("leftover %s after a restart: %v", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(snaps, "good", "manifest.json")); err != nil {
		t.Errorf("a complete snapshot went at the start: %v", err)
	}
	if after := tree(t, outside); !slices.Equal(before, after) {
		t.Errorf("the start's clean-up changed what lies outside:\nbefore %q\nafter  %q", before, after)
	}
}
