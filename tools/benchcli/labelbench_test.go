package benchcli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

// TestLabelBench runs labelbench on a small generated set: every mode at
// every selectivity, the planner and the raised scan at recall >= 0.9.
func TestLabelBench(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ix := filepath.Join(dir, "ix")
	if err := synth.Generate(context.Background(), nil, synth.Spec{N: 4000, Queries: 30, Dim: 16, Seed: 1}, data); err != nil {
		t.Fatal(err)
	}
	src, err := index.OpenFile(filepath.Join(data, "base.fvecs"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := index.Build(ix, src, &index.Options{Ratio: 0.05}); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "l.json")
	code, out, e := shoal(t, "labelbench", "-index", ix, "-data", filepath.Join(data, "base.fvecs"), "-queries", filepath.Join(data, "query.fvecs"),
		"-sel", "10,1", "-nprobe", "8", "-brutemax", "100", "-json", js)
	if code != 0 {
		t.Fatalf("labelbench exited %d: %s", code, e)
	}
	if !strings.Contains(out, "recall") {
		t.Fatalf("labelbench printed no table:\n%s", out)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep labelBenchReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2*4 {
		t.Fatalf("%d result rows, want 8 (2 selectivities × 4 modes)", len(rep.Results))
	}
	for _, r := range rep.Results {
		if want := map[float64]int{10: 400, 1: 40}[r.Selectivity]; r.Matches != want {
			t.Errorf("%g%%: %d rows labelled, want %d", r.Selectivity, r.Matches, want)
		}
		if r.Mode == "inscan" {
			continue
		}
		if r.Recall < 0.9 {
			t.Errorf("%g%% %s: recall %.3f, want >= 0.9", r.Selectivity, r.Mode, r.Recall)
		}
		if r.Mode == "auto" {
			want := "scan"
			if r.Matches <= 100 {
				want = "pre"
			}
			if r.Plans[want] != r.Queries {
				t.Errorf("%g%% auto: plans %v, want %s for all %d queries", r.Selectivity, r.Plans, want, r.Queries)
			}
		}
	}
	for _, args := range [][]string{
		{"labelbench", "-index", ix},
		{"labelbench", "-index", ix, "-data", "x", "-queries", "y", "-sel", "0"},
		{"labelbench", "-index", ix, "-data", "x", "-queries", "y", "-modes", "fast"},
	} {
		if code, _, _ := shoal(t, args...); code == 0 {
			t.Errorf("%v: exit 0, want an error", args)
		}
	}
}
