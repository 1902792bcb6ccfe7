package index

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/index/internal/build"
)

// TestPartitionedBuild: a build that wants more heads than its sample can
// give (SampleSize rows, at least 8 per head) clusters every vector,
// partition by partition, and gets Ratio × n heads; the index finds the
// true neighbours, passes Check, leaves no spill files behind, and is the
// same tree whatever the number of workers.
func TestPartitionedBuild(t *testing.T) {
	const dim, n = 16, 8000
	for _, m := range []Metric{L2, Cosine, InnerProduct} {
		t.Run(m.String(), func(t *testing.T) {
			data := clustered(n, dim, 40, 3, 1)
			// 800 heads wanted from a sample of 400 rows: a sampled
			// build would stop at 400 heads of one row each.
			o := &Options{Metric: m, Ratio: 0.1, SampleSize: 400}
			ix, dir := buildTest(t, data, dim, o)
			heads := ix.TreeStats().Heads
			if heads < 640 || heads > 960 {
				t.Fatalf("%d heads, want about Ratio × n = 800", heads)
			}
			if _, err := os.Stat(filepath.Join(dir, build.PartitionDir)); !os.IsNotExist(err) {
				t.Errorf("spill directory left behind: %v", err)
			}
			if err := ix.Check(); err != nil {
				t.Fatal(err)
			}
			qs := clustered(100, dim, 40, 3, 77)
			var sum float64
			for i := 0; i < 100; i++ {
				q := qs[i*dim : (i+1)*dim]
				res, err := ix.Search(q, 10, &SearchParams{NProbe: 32})
				if err != nil {
					t.Fatal(err)
				}
				sum += recall(res, exact(data, dim, q, 10, m))
			}
			if r := sum / 100; r < 0.9 {
				t.Fatalf("recall@10 = %.3f at nprobe 32, want >= 0.9", r)
			}

			o1 := *o
			o1.Workers = 1
			ix1, _ := buildTest(t, data, dim, &o1)
			a, b := ix.TreeStats(), ix1.TreeStats()
			if a.Heads != b.Heads || a.Nodes != b.Nodes || !slices.Equal(a.LeafSizes, b.LeafSizes) || !slices.Equal(a.Fanout, b.Fanout) {
				t.Errorf("trees differ with 1 worker: %d heads %d nodes, default %d heads %d nodes", b.Heads, b.Nodes, a.Heads, a.Nodes)
			}
		})
	}
}

// TestSpilledAssignment: a build whose assignment table passes
// AssignMemory spills it to bucket files and writes the postings a bucket
// at a time; the index is the in-memory build's, posting for posting, and
// no bucket file stays behind.
func TestSpilledAssignment(t *testing.T) {
	const dim, n = 16, 8000
	data := clustered(n, dim, 30, 5, 1)
	for _, q := range []Quant{QuantNone, QuantRaBitQ} {
		t.Run(q.String(), func(t *testing.T) {
			o := &Options{Ratio: 0.05, Quant: q, AssignMemory: -1}
			mem, _ := buildTest(t, data, dim, o)
			o2 := *o
			o2.AssignMemory = 64 << 10 // about 2,000 entries: spills early
			var logged []string
			o2.Logf = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
			spilled, dir := buildTest(t, data, dim, &o2)
			if !slices.ContainsFunc(logged, func(l string) bool { return strings.Contains(l, "spilling it to") }) {
				t.Fatalf("the build did not spill its assignment table; it logged %q", logged)
			}
			if _, err := os.Stat(filepath.Join(dir, build.EntryDir)); !os.IsNotExist(err) {
				t.Errorf("bucket directory left behind: %v", err)
			}
			want := postingIDs(t, mem)
			got := postingIDs(t, spilled)
			if len(got) != len(want) {
				t.Fatalf("%d postings spilled, %d in memory", len(got), len(want))
			}
			for p, ids := range want {
				if !slices.Equal(got[p], ids) {
					t.Fatalf("posting %d: spilled build holds %v, in-memory build %v", p, got[p], ids)
				}
			}
			if err := spilled.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// postingIDs returns the ids of every stored posting, by posting id.
func postingIDs(t *testing.T, ix *Index) map[uint32][]uint64 {
	t.Helper()
	out := map[uint32][]uint64{}
	if err := ix.ScanPostings(func(p *PostingInfo) error {
		out[p.ID] = slices.Clone(p.IDs)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
