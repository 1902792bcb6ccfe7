package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTenantCommands drives shoal tenant and shoal search -tenant on a
// built index: create, own, grant, revoke, list, drop, and a tenant's
// search returning only what it may read.
func TestTenantCommands(t *testing.T) {
	data := updateData(t, 2000, 8)
	ix := filepath.Join(t.TempDir(), "ix")
	mustShoal(t, []string{"build", "-q", "-data", filepath.Join(data, "base.fvecs"), "-out", ix})
	mustShoal(t, []string{"tenant", "-index", ix, "create", "1"}, "create tenant 1: done; it may read 0 vectors")
	mustShoal(t, []string{"tenant", "-index", ix, "create", "2"})
	mustShoal(t, []string{"tenant", "-index", ix, "own", "1", "-range", "0:100"}, "may read 100 vectors")
	ids := filepath.Join(t.TempDir(), "ids.ivecs")
	writeIvecs(t, ids, 500, 501, 502, 502)
	mustShoal(t, []string{"tenant", "-index", ix, "grant", "1", "-ids", ids}, "may read 103 vectors")
	mustShoal(t, []string{"tenant", "-index", ix, "revoke", "1", "-range", "501:503"}, "may read 101 vectors")
	mustShoal(t, []string{"tenant", "-index", ix, "own", "2", "-range", "100:300"}, "may read 200 vectors")
	out := mustShoal(t, []string{"tenant", "-index", ix, "list"}, "2 tenants")
	if !strings.Contains(out, "101") || !strings.Contains(out, "200") {
		t.Fatalf("list printed\n%s\nwant tenant 1 with 101 vectors and 2 with 200", out)
	}
	res := filepath.Join(t.TempDir(), "res.u64bin")
	for _, mode := range []string{"shortlists", "scan", "brute"} {
		mustShoal(t, []string{"search", "-index", ix, "-queries", filepath.Join(data, "query.fvecs"), "-tenant", "1", "-tenant-mode", mode, "-k", "5", "-out", res})
		got, err := readResults(res)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range got {
			if !(id < 100 || id == 500) {
				t.Fatalf("tenant 1's %s search returned id %d, which it may not read", mode, id)
			}
		}
	}
	mustShoal(t, []string{"tenant", "-index", ix, "drop", "2"})
	mustShoal(t, []string{"check", "-index", ix})
	for _, bad := range [][]string{
		{"tenant", "-index", ix, "create", "0"},
		{"tenant", "-index", ix, "create", "1"},
		{"tenant", "-index", ix, "grant", "1"},
		{"tenant", "-index", ix, "frob", "1"},
		{"tenant", "-index", ix, "grant", "9", "-range", "0:5"},
		{"search", "-index", ix, "-queries", filepath.Join(data, "query.fvecs"), "-tenant", "2"},
	} {
		if code, _, _ := shoal(t, bad...); code == 0 {
			t.Errorf("shoal %s exited 0, want an error", strings.Join(bad, " "))
		}
	}
}
