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

// TestIngestBench builds 3000×16 synthetic vectors, then runs
// `shoal ingestbench -delete-first` on the upper half: its ids are
// deleted, maintenance drains, and they are upserted again by two
// clients. It asserts counts and bounds, never timings.
func TestIngestBench(t *testing.T) {
	const n = 3000
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.Generate(context.Background(), nil, synth.Spec{N: n, Queries: 40, Dim: 16, K: 10, Clusters: 30, Seed: 3}, data); err != nil {
		t.Fatal(err)
	}
	ix := filepath.Join(t.TempDir(), "ix")
	src, err := index.OpenFile(filepath.Join(data, "base.fvecs"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = index.Build(ix, src, &index.Options{Ratio: 0.05, PostingCap: 64})
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(t.TempDir(), "ingest.json")
	code, out, e := shoal(t, "ingestbench", "-q", "-index", ix, "-data", filepath.Join(data, "base.fvecs"),
		"-queries", filepath.Join(data, "query.fvecs"), "-gt", filepath.Join(data, "groundtruth.ivecs"),
		"-from", "1500", "-n", "1500", "-clients", "2", "-batch", "100", "-nq", "40", "-nprobe", "16", "-delete-first", "-json", js)
	if code != 0 {
		t.Fatalf("ingestbench exited %d:\n%s%s", code, out, e)
	}
	for _, w := range []string{"upsert rate", "write amplification", "during load", "recall@10"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var r ingestReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Inserted != 1500 || r.Deleted != 1500 || r.Live != n {
		t.Errorf("inserted %d, deleted %d, live %d; want 1500, 1500, %d", r.Inserted, r.Deleted, r.Live, n)
	}
	if r.Rate <= 0 || r.UpsertMax < r.UpsertP50 {
		t.Errorf("rate %v, upsert p50 %v max %v", r.Rate, r.UpsertP50, r.UpsertMax)
	}
	if r.Recall < 0.8 {
		t.Errorf("recall@10 after the reinsert %.3f, want at least 0.8", r.Recall)
	}
	if r.BytesBefore <= 0 || r.BytesDeleted <= 0 || r.IndexBytes <= 0 {
		t.Errorf("bytes on disk before %d, after the deletes %d, at the end %d; want all positive", r.BytesBefore, r.BytesDeleted, r.IndexBytes)
	}
	if r.SegmentWrites <= 0 || r.WALWrites <= 0 {
		t.Errorf("segment writes %d, log writes %d; want both positive", r.SegmentWrites, r.WALWrites)
	}
}
