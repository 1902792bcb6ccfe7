package index

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/index/internal/build"
)

// TestPartitionedBuild: a build that wants more heads than its sample can
// give (SampleSize rows, at least 8 per head) clusters every vector,
// partition by partition, and gets Ratio × n heads; the index finds the
// true neighbours, passes Check, leaves no spill files behind, and is the
// same tree whatever the number of workers.
func TestPartitionedBuild(t *testing.T) {
	const dim, n = 16, 20000
	for _, m := range []Metric{L2, Cosine} {
		t.Run(m.String(), func(t *testing.T) {
			data := clustered(n, dim, 40, 3, 1)
			// 2,000 heads wanted from a sample of 1,000 rows: a sampled
			// build would stop at 1,000 heads of one row each.
			o := &Options{Metric: m, Ratio: 0.1, SampleSize: 1000}
			ix, dir := buildTest(t, data, dim, o)
			heads := ix.TreeStats().Heads
			if heads < 1600 || heads > 2400 {
				t.Fatalf("%d heads, want about Ratio × n = 2000", heads)
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
