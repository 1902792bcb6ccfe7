package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/server"
	"github.com/shoaldb/shoal/tools/internal/clitest"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

// TestImport drives `shoal import` against a server on a loopback port:
// a local file streamed into an empty collection (built offline), then
// into the full one (upserted), a file on the server, a detached job,
// the job list, a cancel of a finished job, and the errors.
func TestImport(t *testing.T) {
	const key = "import-test-admin-key"
	dir := t.TempDir()
	addr := clitest.ServerWith(t, server.Options{DataDir: dir, AdminKey: key, ImportBuildMinRows: 100})
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.Generate(context.Background(), nil, synth.Spec{N: 600, Queries: 5, Dim: 8, Seed: 1}, data); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(data, "base.fvecs")
	run := func(cmd string, args ...string) (string, string) {
		t.Helper()
		code, out, e := shoal(t, append([]string{cmd, "-addr", addr, "-key", key}, args...)...)
		if code != 0 {
			t.Fatalf("shoal %s %s exited %d: %s", cmd, strings.Join(args, " "), code, e)
		}
		return out, e
	}
	run("client", "create", "docs", "-dim", "8")
	out, e := run("import", "docs", base)
	if !strings.Contains(out, "\tdocs\tDONE\tbuild\t600/600 rows") {
		t.Errorf("import into an empty collection printed %q, want a DONE build of 600 rows", out)
	}
	if !strings.Contains(e, "upload") || !strings.Contains(e, "build: ") {
		t.Errorf("import drew %q, want the upload and build progress bars", e)
	}
	if out, _ = run("import", "docs", base, "-first-id", "600", "-q"); !strings.Contains(out, "\tDONE\tupsert\t600/600 rows") {
		t.Errorf("import into a full collection printed %q, want a DONE upsert", out)
	}
	if out, _ = run("client", "describe", "docs"); !strings.Contains(out, "1200 vectors") {
		t.Errorf("describe printed %q, want 1200 vectors", out)
	}

	// A file on the server, in its import directory.
	b, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "import", "base.fvecs"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	run("client", "create", "docs2", "-dim", "8")
	if out, _ = run("import", "-server", "-q", "-method", "upsert", "docs2", "base.fvecs"); !strings.Contains(out, "\tdocs2\tDONE\tupsert\t600/600 rows") {
		t.Errorf("import -server printed %q", out)
	}
	run("client", "create", "docs3", "-dim", "8")
	out, _ = run("import", "-detach", "docs3", base)
	id, _, _ := strings.Cut(out, "\t")
	if !strings.HasPrefix(id, "imp-") || !strings.Contains(out, "\tRUNNING\t") {
		t.Fatalf("import -detach printed %q, want a RUNNING job", out)
	}
	if out, _ = run("import", "-job", id, "-q"); !strings.Contains(out, id+"\tdocs3\tDONE") {
		t.Errorf("import -job printed %q", out)
	}
	if out, _ = run("import", "-cancel", id); !strings.Contains(out, "\tDONE\t") {
		t.Errorf("import -cancel of a finished job printed %q", out)
	}
	if out, _ = run("import", "-list"); len(strings.Split(strings.TrimSpace(out), "\n")) != 4 {
		t.Errorf("import -list printed %q, want 4 jobs", out)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"nope", base}, 1, "NotFound"},
		{[]string{"docs", base, "-method", "build"}, 1, "FailedPrecondition"},
		{[]string{"docs", filepath.Join(data, "nope.fvecs")}, 1, "no such file"},
		{[]string{"docs"}, 2, "NAME FILE"},
		{[]string{"-list", "-job", "x"}, 1, "one of"},
		{[]string{"docs", base, "-method", "fast"}, 1, "-method \"fast\""},
	} {
		code, _, e := shoal(t, append([]string{"import", "-addr", addr, "-key", key}, tc.args...)...)
		if code != tc.code || !strings.Contains(e, tc.want) {
			t.Errorf("shoal import %v: exit %d, %q; want %d and %q", tc.args, code, e, tc.code, tc.want)
		}
	}
}
