package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/tools/internal/clitest"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

// TestClient drives `shoal client` against a server on a loopback port:
// create, upsert a file, search with a file, describe, stats, list,
// snapshot, restore, drop.
func TestClient(t *testing.T) {
	const key = "client-test-admin-key"
	addr := clitest.Server(t, key)
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.Generate(context.Background(), nil, synth.Spec{N: 600, Queries: 5, Dim: 8, Seed: 1}, data); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		code, out, e := shoal(t, append([]string{"client", "-addr", addr, "-key", key}, args...)...)
		if code != 0 {
			t.Fatalf("shoal client %s exited %d: %s", strings.Join(args, " "), code, e)
		}
		return out
	}
	if out := run("create", "docs", "-dim", "8", "-metric", "cosine"); !strings.Contains(out, "docs\t0 vectors\tdim 8\tCOSINE\tFLOAT32") {
		t.Errorf("create printed %q", out)
	}
	if out := run("upsert", "docs", filepath.Join(data, "base.fvecs"), "-first-id", "100"); !strings.Contains(out, "upserted 600 vectors") {
		t.Errorf("upsert printed %q", out)
	}
	out := run("search", "docs", filepath.Join(data, "query.fvecs"), "-k", "3")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || len(strings.Split(lines[0], "\t")) != 4 {
		t.Errorf("search printed %q, want 5 lines of a row and 3 neighbours", out)
	}
	if out := run("describe", "docs"); !strings.Contains(out, "600 vectors") {
		t.Errorf("describe printed %q", out)
	}
	if out := run("stats", "docs"); !strings.Contains(out, "5 queries") {
		t.Errorf("stats printed %q", out)
	}
	if out := run("list"); !strings.HasPrefix(out, "docs\t") {
		t.Errorf("list printed %q", out)
	}
	if out := run("snapshot", "docs", "snap/1"); !strings.Contains(out, "600 vectors") {
		t.Errorf("snapshot printed %q", out)
	}
	if out := run("restore", "docs2", "snap/1"); !strings.Contains(out, "docs2\t600 vectors\tdim 8\tCOSINE") {
		t.Errorf("restore printed %q", out)
	}
	run("drop", "docs")
	code, _, e := shoal(t, "client", "-addr", addr, "-key", key, "describe", "docs")
	if code != 1 || !strings.Contains(e, "NotFound") {
		t.Errorf("describe of a dropped collection: exit %d, %q; want 1 and NotFound", code, e)
	}
	if code, _, e := shoal(t, "client", "frobnicate"); code == 0 || !strings.Contains(e, `unknown verb "frobnicate"`) {
		t.Errorf("an unknown verb: exit %d, %q; want an error naming it", code, e)
	}
}
