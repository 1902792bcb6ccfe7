package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

// updateData generates a small data set (n vectors of dim, 50 queries)
// and returns its directory.
func updateData(t *testing.T, n, dim int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := synth.Generate(context.Background(), nil, synth.Spec{N: n, Queries: 50, Dim: dim, K: 10, Clusters: 20, Seed: 5}, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeIvecs writes ids as an .ivecs of one id per row.
func writeIvecs(t *testing.T, path string, ids ...int32) {
	t.Helper()
	w, err := vecfile.Create(path, vecfile.IVecs, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := w.WriteInt32([]int32{id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// mustShoal runs the CLI and fails the test unless it exits 0 and its
// standard output contains every one of wants.
func mustShoal(t *testing.T, args []string, wants ...string) string {
	t.Helper()
	code, out, e := shoal(t, args...)
	if code != 0 {
		t.Fatalf("shoal %s exited %d, want 0:\n%s%s", strings.Join(args, " "), code, out, e)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("shoal %s printed\n%s\nwant it to contain %q", strings.Join(args, " "), out, w)
		}
	}
	return out
}

// TestUpdateCommands drives create → upsert → check → delete → upsert with
// ids → check on an empty index, the way a user grows one.
func TestUpdateCommands(t *testing.T) {
	data := updateData(t, 2000, 8)
	base := filepath.Join(data, "base.fvecs")
	dir := t.TempDir()
	ix := filepath.Join(dir, "ix")

	mustShoal(t, []string{"create", "-index", ix, "-dim", "8", "-cap", "64"},
		"created "+ix, "8-dim float32", "posting cap 64")
	mustShoal(t, []string{"check", "-index", ix}, "OK "+ix, " 0 vectors", "1 heads")

	// An empty index has no built vectors: ids start at 0.
	mustShoal(t, []string{"upsert", "-q", "-index", ix, "-data", base, "-batch", "300"},
		"upserted 2000 vectors (2000 new, 0 replaced)", "holds 2000 vectors", "drained maintenance")
	mustShoal(t, []string{"check", "-index", ix}, "OK", " 2000 vectors", "0B of unfolded posting tails",
		"by checksum", "sstables", "pebble logs", "segments", "tree")

	mustShoal(t, []string{"delete", "-index", ix, "-range", "0:500"},
		"deleted 500 of 500 requested ids (0 held no vector)", "holds 1500 vectors (was 2000)")
	ids := filepath.Join(dir, "del.ivecs")
	writeIvecs(t, ids, 100, 600, 600, 5000) // 100 is gone, 5000 never was
	mustShoal(t, []string{"delete", "-index", ix, "-ids", ids},
		"deleted 1 of 3 requested ids (2 held no vector)", "listed 1 ids more than once")

	// Re-insert 50 vectors under chosen ids: 10 replace live ids, 40 are new.
	newIDs := make([]int32, 50)
	for i := range newIDs {
		newIDs[i] = int32(1990 + i) // 1990..1999 are live
	}
	writeIvecs(t, filepath.Join(dir, "q.ivecs"), newIDs...)
	mustShoal(t, []string{"upsert", "-q", "-nosync", "-nodrain", "-index", ix, "-data", filepath.Join(data, "query.fvecs"), "-ids", filepath.Join(dir, "q.ivecs")},
		"(40 new, 10 replaced)", "holds 1539 vectors", "not drained")
	// The undrained tails survive Close and Open, and check out.
	mustShoal(t, []string{"check", "-index", ix}, "OK", " 1539 vectors")
	// Every read verb works on an index Check accepts, updated past its
	// build (splits grew the head ids past the first leaf count).
	mustShoal(t, []string{"inspect", ix}, "heads")
	mustShoal(t, []string{"inspect", "-json", ix}, "{")
	mustShoal(t, []string{"search", "-index", ix, "-queries", filepath.Join(data, "query.fvecs"), "-k", "5"}, "50 queries")
	mustShoal(t, []string{"tenant", "-index", ix, "list"})
}

// TestUpsertAfterBuild checks that upsert numbers rows after the built
// ids by default.
func TestUpsertAfterBuild(t *testing.T) {
	data := updateData(t, 1000, 8)
	ix := filepath.Join(t.TempDir(), "ix")
	mustShoal(t, []string{"build", "-q", "-data", filepath.Join(data, "base.fvecs"), "-out", ix, "-ratio", "0.05"})
	mustShoal(t, []string{"upsert", "-q", "-index", ix, "-data", filepath.Join(data, "query.fvecs")},
		"upserted 50 vectors (50 new, 0 replaced)", "holds 1050 vectors")
	mustShoal(t, []string{"upsert", "-q", "-index", ix, "-data", filepath.Join(data, "query.fvecs"), "-first-id", "1020"},
		"(20 new, 30 replaced)", "holds 1070 vectors")
	mustShoal(t, []string{"check", "-index", ix}, "OK", " 1070 vectors")
}

// TestUpdateBadInput lists inputs each command must refuse, with the exit
// status and a word of the message.
func TestUpdateBadInput(t *testing.T) {
	data := updateData(t, 500, 8)
	base := filepath.Join(data, "base.fvecs")
	dir := t.TempDir()
	ix := filepath.Join(dir, "ix")
	mustShoal(t, []string{"create", "-index", ix, "-dim", "8"})
	wrongDim := updateData(t, 20, 4)
	twoIDs := filepath.Join(dir, "two.ivecs")
	writeIvecs(t, twoIDs, 1, 2)
	negIDs := filepath.Join(dir, "neg.ivecs")
	writeIvecs(t, negIDs, -1)
	missing := filepath.Join(dir, "missing")

	// Exit status 2 is for flags that do not parse, 1 for everything else,
	// options that parse but do not validate included (as parseValid has
	// it for every command).
	cases := []struct {
		args []string
		code int
		msg  string // in stderr
	}{
		{[]string{"create", "-index", ix, "-dim", "8"}, 1, "not empty"},
		{[]string{"create", "-index", filepath.Join(dir, "x")}, 1, "-dim 0"},
		{[]string{"create", "-index", filepath.Join(dir, "x"), "-dim", "8", "-metric", "hamming"}, 1, "unknown metric"},
		{[]string{"create", "-index", filepath.Join(dir, "x"), "-dim", "8", "-elem", "f64"}, 1, "unknown element type"},
		{[]string{"upsert", "-index", ix}, 1, "-index and -data are required"},
		{[]string{"upsert", "-index", missing, "-data", base}, 1, "no index"},
		{[]string{"upsert", "-index", ix, "-data", filepath.Join(wrongDim, "base.fvecs")}, 1, "dimension mismatch"},
		{[]string{"upsert", "-index", ix, "-data", filepath.Join(dir, "nope.fvecs")}, 1, "no such file"},
		{[]string{"upsert", "-index", ix, "-data", base, "-ids", twoIDs}, 1, "2 ids for the 500 vectors"},
		{[]string{"upsert", "-index", ix, "-data", base, "-ids", twoIDs, "-first-id", "3"}, 1, "exclude each other"},
		{[]string{"delete", "-index", ix}, 1, "exactly one of -ids and -range"},
		{[]string{"delete", "-index", ix, "-ids", twoIDs, "-range", "0:3"}, 1, "exactly one of -ids and -range"},
		{[]string{"delete", "-index", ix, "-range", "5:5"}, 2, "bad range"},
		{[]string{"delete", "-index", ix, "-ids", filepath.Join(dir, "nope.ivecs")}, 1, "no such file"},
		{[]string{"delete", "-index", ix, "-ids", negIDs}, 1, "is -1"},
		{[]string{"delete", "-index", ix, "-ids", base}, 1, "not int32"},
		{[]string{"delete", "-index", missing, "-range", "0:3"}, 1, "no index"},
		{[]string{"check", "-index", missing}, 1, "no index"},
		{[]string{"check"}, 1, "give one of -index"},
	}
	for _, c := range cases {
		code, out, e := shoal(t, c.args...)
		if code != c.code || !strings.Contains(e, c.msg) {
			t.Errorf("shoal %s: exit %d, stderr\n%s\nwant exit %d and %q (stdout %q)", strings.Join(c.args, " "), code, e, c.code, c.msg, out)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a failed command created %s", missing)
	}
	// The index is unharmed by all of it.
	mustShoal(t, []string{"check", "-index", ix}, "OK", " 0 vectors")
}

// TestBuildFailureCleansUp: a build that fails part-way leaves no index
// behind: a directory it created is gone, an empty one it was given is
// empty again, and a non-empty one is never touched.
func TestBuildFailureCleansUp(t *testing.T) {
	data := updateData(t, 1000, 8)
	base := filepath.Join(data, "base.fvecs") // Gaussian floats: not exact uint8
	fail := func(out string) {
		t.Helper()
		code, _, e := shoal(t, "build", "-q", "-elem", "u8", "-data", base, "-out", out)
		if code != 1 || !strings.Contains(e, "not an exact uint8") {
			t.Fatalf("build -elem u8 of floats: exit %d, %q; want 1 and the lossy row", code, e)
		}
	}
	created := filepath.Join(t.TempDir(), "new")
	fail(created)
	if _, err := os.Stat(created); !os.IsNotExist(err) {
		t.Errorf("after a failed build %s exists (%v); want it removed", created, err)
	}
	empty := t.TempDir()
	fail(empty)
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("after a failed build the given empty directory holds %d entries (%v); want it empty and kept", len(entries), err)
	}
	full := t.TempDir()
	keep := filepath.Join(full, "keep.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := shoal(t, "build", "-q", "-data", base, "-out", full); code == 0 {
		t.Fatalf("build into a non-empty directory succeeded")
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "mine" {
		t.Errorf("a failed build touched a non-empty directory: %v %q", err, b)
	}
}

// TestBuildProgressInLogs: where stderr is no terminal (here a buffer),
// a build's progress is plain lines, no carriage returns, and the first
// line of a stage shows no rate.
func TestBuildProgressInLogs(t *testing.T) {
	data := updateData(t, 2000, 8)
	code, _, e := shoal(t, "build", "-data", filepath.Join(data, "base.fvecs"), "-out", filepath.Join(t.TempDir(), "ix"))
	if code != 0 {
		t.Fatalf("build exited %d: %s", code, e)
	}
	if strings.Contains(e, "\r") {
		t.Errorf("build progress has carriage returns in a log:\n%q", e)
	}
	var first string
	for _, l := range strings.Split(e, "\n") {
		if strings.HasPrefix(l, "assign") {
			first = l
			break
		}
	}
	if !strings.Contains(first, "-/s  ETA -") && !strings.Contains(first, " in ") {
		t.Errorf("first progress line of the assign stage %q: want no rate yet (or the final line)", first)
	}
}

// TestCreateQuant: create -quant makes an empty index whose postings
// hold RaBitQ codes (rabitq: the bits of the dimension), which grows by
// upserts, checks and searches; a bad -quant is refused naming it.
func TestCreateQuant(t *testing.T) {
	data := updateData(t, 1000, 8)
	ix := filepath.Join(t.TempDir(), "ix")
	mustShoal(t, []string{"create", "-index", ix, "-dim", "8", "-quant", "rabitq"},
		"created "+ix, "postings hold rabitq codes of 4 bits per dimension")
	mustShoal(t, []string{"upsert", "-q", "-index", ix, "-data", filepath.Join(data, "base.fvecs")}, "upserted 1000 vectors")
	mustShoal(t, []string{"check", "-index", ix}, "OK", " 1000 vectors")
	mustShoal(t, []string{"inspect", ix}, "rabitq codes, 4 bits per dimension")
	mustShoal(t, []string{"search", "-index", ix, "-queries", filepath.Join(data, "query.fvecs"), "-k", "5"}, "50 queries")
	for _, q := range []string{"rabitq9", "pq"} {
		if code, _, e := shoal(t, "create", "-index", filepath.Join(t.TempDir(), "bad"), "-dim", "8", "-quant", q); code == 0 || !strings.Contains(e, "-quant") {
			t.Errorf("create -quant %s: exit %d, %q; want a failure naming -quant", q, code, e)
		}
	}
}
