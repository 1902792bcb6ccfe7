package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/clitest"
	"github.com/shoaldb/shoal/tools/internal/sweep"
)

// shoal runs the command line in-process and returns its exit status and
// output.
func shoal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(commands(), args...)
}

// TestHelpListsEveryCommand checks that both packages' commands are wired
// in: `shoal help` names each of them.
func TestHelpListsEveryCommand(t *testing.T) {
	code, e, _ := shoal(t, "help") // help goes to stdout
	if code != 0 {
		t.Fatalf("help exited %d", code)
	}
	for _, c := range []string{"bench", "build", "check", "client", "create", "delete", "demo", "gen", "gt", "inspect",
		"labelbench", "loadtest", "repair", "search", "serve", "tenant", "tenantbench", "tenantgen", "upsert"} {
		if !strings.Contains(e, "\n  "+c+" ") {
			t.Errorf("help does not list %q:\n%s", c, e)
		}
	}
}

// TestEndToEnd drives gen → build → search → bench → inspect the way a
// user does, on a small data set.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ix := filepath.Join(dir, "ix")
	if code, _, e := shoal(t, "gen", "-n", "4000", "-q", "50", "-dim", "16", "-out", data); code != 0 {
		t.Fatalf("gen exited %d: %s", code, e)
	}
	code, out, e := shoal(t, "build", "-q", "-data", filepath.Join(data, "base.fvecs"), "-out", ix, "-ratio", "0.05")
	if code != 0 {
		t.Fatalf("build exited %d: %s", code, e)
	}
	if !strings.Contains(out, "built "+ix) || !strings.Contains(out, "peak RSS") {
		t.Fatalf("build output lacks the summary:\n%s", out)
	}
	res := filepath.Join(dir, "res.u64bin")
	code, out, e = shoal(t, "search", "-index", ix, "-queries", filepath.Join(data, "query.fvecs"),
		"-gt", filepath.Join(data, "groundtruth.ivecs"), "-nprobe", "32", "-out", res)
	if code != 0 {
		t.Fatalf("search exited %d: %s", code, e)
	}
	m := regexp.MustCompile(`recall@10 ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("search printed no recall:\n%s", out)
	}
	if r, _ := strconv.ParseFloat(m[1], 64); r < 0.9 {
		t.Fatalf("search recall@10 %v at nprobe 32, want >= 0.9", r)
	}
	if fi, err := os.Stat(res); err != nil || fi.Size() != 8+50*10*8 {
		t.Fatalf("result file: %v, size %v; want a header and 50 rows of 10 uint64 ids", err, fi)
	}
	js, svg := filepath.Join(dir, "b.json"), filepath.Join(dir, "b.svg")
	code, out, e = shoal(t, "bench", "-index", ix, "-queries", filepath.Join(data, "query.fvecs"),
		"-gt", filepath.Join(data, "groundtruth.ivecs"), "-nprobe", "4,16", "-threads", "1,2", "-cache", "0", "-json", js, "-plot", svg)
	if code != 0 {
		t.Fatalf("bench exited %d: %s", code, e)
	}
	var rep sweep.Report
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Points) != 2 || rep.Points[1].Recall < rep.Points[0].Recall || rep.Points[1].QPS[2] <= 0 {
		t.Fatalf("bench report: want 2 points, recall rising with nprobe, 2-thread QPS; got %+v", rep.Points)
	}
	if p := rep.Points[1]; p.Postings > 16 || p.KiBRead <= 0 {
		t.Fatalf("bench point %+v: want ≤ 16 postings and bytes read from disk with no cache", p)
	}
	if s, err := os.ReadFile(svg); err != nil || !bytes.HasPrefix(s, []byte("<svg")) {
		t.Fatalf("plot: %v, %.20q", err, s)
	}
	if code, out, e = shoal(t, "inspect", ix); code != 0 || !strings.Contains(out, "replicas") {
		t.Fatalf("inspect exited %d: %s%s", code, out, e)
	}
}

func TestBadUsage(t *testing.T) {
	cases := [][]string{
		{"nonsense"},
		{"build", "-data", "x.fvecs"}, // no -out
		{"bench", "-index", "x"},      // no -queries
		{"bench", "-index", "x", "-queries", "q", "-nprobe", "a,b"},
		{"search", "-index", "/nonexistent", "-queries", "/nonexistent.fvecs"},
	}
	for _, args := range cases {
		if code, _, _ := shoal(t, args...); code == 0 {
			t.Errorf("shoal %v exited 0, want an error", args)
		}
	}
}

// verbs lists every command and sub-command of shoal as the words that
// name it (["client", "upsert"]).
func verbs() [][]string {
	var all [][]string
	var walk func(path []string, cs []*clikit.Command)
	walk = func(path []string, cs []*clikit.Command) {
		for _, c := range cs {
			p := append(slices.Clone(path), c.Name)
			all = append(all, p)
			walk(p, c.Subs)
		}
	}
	walk(nil, commands())
	return all
}

// TestHelpForEveryVerb: `shoal help X`, `shoal X -h` and `shoal X --help`
// print X's usage on stdout and exit 0, for every command and
// sub-command; no flag's default is printed twice.
func TestHelpForEveryVerb(t *testing.T) {
	twice := regexp.MustCompile(`\(default[^)]*\).*\(default`)
	vs := verbs()
	if len(vs) < 40 {
		t.Fatalf("%d commands and sub-commands, want the whole tree (>= 40)", len(vs))
	}
	for _, v := range vs {
		name := strings.Join(v, " ")
		for _, args := range [][]string{append([]string{"help"}, v...), append(slices.Clone(v), "-h"), append(slices.Clone(v), "--help")} {
			code, out, e := shoal(t, args...)
			if code != 0 || e != "" || !strings.Contains(out, "Usage:\n  shoal "+name) {
				t.Errorf("shoal %s: exit %d, stderr %q, stdout %q; want 0 and the usage of %q on stdout", strings.Join(args, " "), code, e, out, name)
				continue
			}
			if l := twice.FindString(out); l != "" {
				t.Errorf("shoal %s prints a default twice: %q", strings.Join(args, " "), l)
			}
		}
	}
}

// TestHelpGroups: `shoal help` lists the commands in groups.
func TestHelpGroups(t *testing.T) {
	_, out, _ := shoal(t, "help")
	for _, g := range []string{"Index commands", "Server commands:", "Benchmarks and data sets:", "Other commands:"} {
		if !strings.Contains(out, g) {
			t.Errorf("shoal help lacks the group %q:\n%s", g, out)
		}
	}
	// shoal without a command: the list on stderr, exit 2.
	if code, out, e := shoal(t); code != 2 || out != "" || !strings.Contains(e, "Index commands") {
		t.Errorf("shoal: exit %d, stdout %q, stderr %q; want 2 and the list on stderr", code, out, e)
	}
}

// TestVersion: `shoal version` names the module version, the VCS
// revision, the Go version and the platform.
func TestVersion(t *testing.T) {
	code, out, _ := shoal(t, "version")
	for _, want := range []string{"shoal ", "revision ", "time ", "modified ", "go        go1.", "platform  " + runtime.GOOS + "/" + runtime.GOARCH} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("shoal version: exit %d, %q; want 0 and %q", code, out, want)
		}
	}
}

// TestCompletion: the completion scripts of bash, zsh and fish name the
// commands.
func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, out, e := shoal(t, "completion", sh)
		if code != 0 || !strings.Contains(out, "shoal") || len(out) < 500 {
			t.Errorf("shoal completion %s: exit %d, %d bytes, stderr %q", sh, code, len(out), e)
		}
	}
	// Cobra's hidden __complete: flags of a verb complete.
	code, out, _ := shoal(t, "__complete", "build", "--da")
	if code != 0 || !strings.Contains(out, "--data") {
		t.Errorf("completion of build --da: exit %d, %q; want --data", code, out)
	}
}
