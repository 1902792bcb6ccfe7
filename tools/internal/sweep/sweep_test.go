package sweep

import (
	"strings"
	"testing"
)

// TestPrintSplitsTables: the one-query-at-a-time figures and the
// concurrent throughput are separate tables, each saying its threads and
// cache state; without ground truth recall is n/a, not 0.
func TestPrintSplitsTables(t *testing.T) {
	rep := &Report{K: 10, FirstPass: "cold", GPU: "off", Points: []Point{
		{NProbe: 8, Epsilon: 7, QPS: map[int]float64{1: 1000, 2: 5000}, BatchQPS: 9000},
	}}
	var b strings.Builder
	rep.Print(&b)
	out := b.String()
	lat := strings.Index(out, "latency: one query at a time, 1 thread; posting cache cold")
	thr := strings.Index(out, "throughput: concurrent query loops")
	if lat < 0 || thr < lat {
		t.Fatalf("want a latency table, then a throughput table:\n%s", out)
	}
	if latTable := out[lat:thr]; !strings.Contains(latTable, " 1000 ") || strings.Contains(latTable, "5000") {
		t.Errorf("the latency table should hold the 1-thread QPS only:\n%s", latTable)
	}
	if thrTable := out[thr:]; !strings.Contains(thrTable, "QPS 2 threads") || !strings.Contains(thrTable, "5000") || strings.Contains(thrTable, " 1000 ") {
		t.Errorf("the throughput table should hold the 2-thread QPS only:\n%s", thrTable)
	}
	if !strings.Contains(out, "n/a") || strings.Contains(out, "0.0000") {
		t.Errorf("no ground truth: want recall n/a, not 0.0000:\n%s", out)
	}
	if strings.Contains(out, "batch routing gpu") {
		t.Errorf("the summary line names batch routing: %s", out)
	}

	rep.HasTruth, rep.Points[0].Recall, rep.Points[0].BatchRecall = true, 0.9, 0.9
	rep.Points[0].QPS = map[int]float64{1: 1000}
	rep.Points[0].BatchQPS = 0
	b.Reset()
	rep.Print(&b)
	if out := b.String(); !strings.Contains(out, "0.9000") || strings.Contains(out, "n/a") || strings.Contains(out, "throughput:") {
		t.Errorf("with ground truth and 1 thread only: want recall 0.9000 and no throughput table:\n%s", out)
	}
}

// TestFmtQPS: the progress line calls the 1-thread pass cold only at
// the first point and keeps the warm multi-thread figures apart.
func TestFmtQPS(t *testing.T) {
	m := map[int]float64{1: 2535, 2: 5752}
	for _, c := range []struct {
		first      string
		firstPoint bool
		want       string
	}{
		{"cold", true, "2535 QPS (1 thread, cold cache); 5752 QPS (2 threads, warm cache)"},
		{"cold", false, "2535 QPS (1 thread, cache as left); 5752 QPS (2 threads, warm cache)"},
		{"warm-up", false, "2535 QPS (1 thread, warm-up cache); 5752 QPS (2 threads, warm cache)"},
	} {
		if got := fmtQPS(m, c.first, c.firstPoint); got != c.want {
			t.Errorf("fmtQPS(%v, %q, %v) = %q, want %q", m, c.first, c.firstPoint, got, c.want)
		}
	}
}
