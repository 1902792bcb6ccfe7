package benchcli

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/tools/internal/synth"
)

// TestChurnBench runs `shoal bench -churn` on 3000×16 synthetic vectors
// and checks that the report adds up. It asserts counts and bounds, never
// timings.
func TestChurnBench(t *testing.T) {
	const n = 3000
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.Generate(context.Background(), nil, synth.Spec{N: n, Queries: 40, Dim: 16, K: 10, Clusters: 30, Seed: 2}, data); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	js := filepath.Join(work, "churn.json")
	code, out, e := shoal(t, "bench", "-churn", "-q", "-data", filepath.Join(data, "base.fvecs"), "-queries", filepath.Join(data, "query.fvecs"),
		"-nq", "40", "-nprobe", "16", "-batch", "250", "-queries-per-batch", "5", "-cap", "64", "-ratio", "0.05", "-work", work, "-json", js)
	if code != 0 {
		t.Fatalf("bench -churn exited %d:\n%s%s", code, out, e)
	}
	for _, w := range []string{"recall@10 churned − static", "upsert", "postings:", "check: ok"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var r churnReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}

	counts := []struct {
		name      string
		got, want int
	}{
		{"rows", r.Rows, n},
		{"initial", r.Initial, n / 2},
		{"batches", r.Batches, 6},
		{"upserted", r.Upserted, n / 2},
		{"deleted", r.Deleted, n / 4},
		{"live after churn", r.Live, 3 * n / 4},
		{"searches during churn", r.ChurnQ, 6 * 5},
		{"queries", r.Queries, 40},
		{"posting cap", r.Postings.Cap, 64},
		{"postings over the cap", r.Postings.OverCap, 0},
	}
	for _, c := range counts {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if r.Check != "ok" {
		t.Errorf("check after churn: %s", r.Check)
	}
	for name, s := range map[string]churnSearch{"churned": r.Churned, "static": r.Static} {
		if s.Recall < 0 || s.Recall > 1 || s.QPS <= 0 || s.Heads < 1 {
			t.Errorf("%s: %+v, want recall in [0,1], positive QPS and heads", name, s)
		}
	}
	if r.Churned.Recall < 0.5 {
		t.Errorf("churned recall@10 %v at nprobe 16, want at least 0.5 on clustered data", r.Churned.Recall)
	}
	if d := r.Churned.Recall - r.Static.Recall; r.RecallDiff != d || r.Pass != (d >= -r.Tolerance) {
		t.Errorf("recall diff %v, pass %v; want %v and pass = diff >= -%v", r.RecallDiff, r.Pass, d, r.Tolerance)
	}
	p := r.Postings
	if p.Stored < 1 || p.Min < 1 || p.Max > p.Cap || float64(p.Min) > p.Mean || p.Mean > float64(p.Max) || p.P99 > p.Max {
		t.Errorf("posting sizes %+v: want 1 <= min <= mean <= max <= cap, p99 <= max", p)
	}
	if p.Copies < int64(r.Live) {
		t.Errorf("%d copies in postings for %d live vectors after the drain", p.Copies, r.Live)
	}
	if r.UpsertRate <= 0 || r.DeleteRate <= 0 || r.RowBytes != 16*4 {
		t.Errorf("upsert rate %v, delete rate %v, row bytes %d; want positive rates and 64 bytes", r.UpsertRate, r.DeleteRate, r.RowBytes)
	}
	if r.WriteBytes != -1 && r.WriteBytes <= 0 {
		t.Errorf("write_bytes %d over the churn: want > 0 (or -1 without /proc/self/io)", r.WriteBytes)
	}
	for _, d := range []string{"churned", "static"} {
		if _, err := os.Stat(filepath.Join(work, d)); !os.IsNotExist(err) {
			t.Errorf("%s left behind without -keep (stat: %v)", d, err)
		}
	}
}

func TestChurnBadUsage(t *testing.T) {
	dir := t.TempDir()
	cases := [][]string{
		{"bench", "-churn", "-data", "x.fvecs"}, // no -queries
		{"bench", "-churn", "-data", "x.fvecs", "-queries", "q.fvecs", "-initial", "1"},
		{"bench", "-churn", "-data", "x.fvecs", "-queries", "q.fvecs", "-delete", "-0.1"},
		{"bench", "-churn", "-data", filepath.Join(dir, "none.fvecs"), "-queries", filepath.Join(dir, "none.fvecs")},
		{"bench", "-churn", "-data", "x.fvecs", "-queries", "q.fvecs", "-nprobe", "8,16"}, // one nprobe only
	}
	for _, args := range cases {
		if code, _, _ := shoal(t, args...); code == 0 {
			t.Errorf("shoal %v exited 0, want an error", args)
		}
	}
	if code, e, _ := shoal(t, "bench", "-churn", "-h"); code != 0 || !strings.Contains(e, "SPFresh") || !strings.Contains(e, "-queries-per-batch") {
		t.Errorf("bench -churn -h: exit %d, want 0 and the churn usage:\n%s", code, e)
	}
}

// TestPlanChurn checks the schedule's promises: every chosen id deleted
// once, only after it was inserted, the deletes spread over the batches,
// and the same seed giving the same plan.
func TestPlanChurn(t *testing.T) {
	cases := []struct{ n, initial, batch, nDelete int }{
		{3000, 1500, 250, 750},
		{1000, 1, 7, 250},     // almost nothing built: deletes wait for inserts
		{1000, 999, 1000, 10}, // one batch
		{500, 100, 64, 0},     // no deletes
		{500, 250, 50, 400},   // more than half deleted
		{10, 5, 1, 10},        // everything deleted
	}
	for _, c := range cases {
		p := planChurn(c.n, c.initial, c.batch, c.nDelete, 7)
		seen := make(map[uint64]bool)
		hi := c.initial
		for j, b := range p.batches {
			if b.lo != hi || b.hi <= b.lo || b.hi-b.lo > c.batch {
				t.Fatalf("%+v: batch %d upserts [%d,%d) after %d", c, j, b.lo, b.hi, hi)
			}
			hi = b.hi
			for _, id := range b.deletes {
				switch {
				case id >= uint64(b.hi):
					t.Fatalf("%+v: batch %d deletes id %d before it is inserted (rows < %d)", c, j, id, b.hi)
				case seen[id]:
					t.Fatalf("%+v: id %d deleted twice", c, id)
				case !p.deleted[id]:
					t.Fatalf("%+v: id %d deleted but not in the subset", c, id)
				}
				seen[id] = true
			}
		}
		if hi != c.n || len(seen) != c.nDelete {
			t.Errorf("%+v: rows upserted up to %d, %d ids deleted; want %d and %d", c, hi, len(seen), c.n, c.nDelete)
		}
		if live := p.live(); len(live) != c.n-c.nDelete || !slices.IsSorted(live) {
			t.Errorf("%+v: %d live rows, want %d ascending", c, len(live), c.n-c.nDelete)
		}
		if q := planChurn(c.n, c.initial, c.batch, c.nDelete, 7); !slices.EqualFunc(p.batches, q.batches, func(a, b churnBatch) bool {
			return a.lo == b.lo && a.hi == b.hi && slices.Equal(a.deletes, b.deletes)
		}) {
			t.Errorf("%+v: two plans of one seed differ", c)
		}
	}
	// With half the ids built, the first batch may already delete its full
	// share: the deletes are spread evenly.
	p := planChurn(3000, 1500, 250, 750, 1)
	for j, b := range p.batches {
		if len(b.deletes) != 125 {
			t.Errorf("batch %d deletes %d ids, want 750/6 = 125", j, len(b.deletes))
		}
	}
}

func TestRecallAtKiB(t *testing.T) {
	pts := []churnSearch{{KiBPerQ: 200, Recall: 0.9}, {KiBPerQ: 100, Recall: 0.8}, {KiBPerQ: 400, Recall: 0.95}}
	for _, c := range []struct{ kib, want float64 }{
		{100, 0.8}, {150, 0.85}, {300, 0.925}, {400, 0.95}, {50, 0}, {500, 0},
	} {
		if got := recallAtKiB(slices.Clone(pts), c.kib); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("recallAtKiB(%v) = %v, want %v", c.kib, got, c.want)
		}
	}
}
