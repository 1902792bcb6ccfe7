package benchcli

import (
	"slices"

	"github.com/shoaldb/shoal/index"
)

// queryStats are what labelbench and tenantbench report of a set of
// queries (one mode at one selectivity or tenant-size bucket).
type queryStats struct {
	Queries int     `json:"queries"`
	Recall  float64 `json:"recall"` // mean recall@k
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MeanMs  float64 `json:"mean_ms"`
	KiBRead float64 `json:"kib_read_per_query"`
}

// newQueryStats summarises len(lat) > 0 queries from their latencies in
// milliseconds (sorted in place), the sum of their recalls and the KiB
// they read in all.
func newQueryStats(lat []float64, recall, kib float64) queryStats {
	n := len(lat)
	slices.Sort(lat)
	var sum float64
	for _, l := range lat {
		sum += l
	}
	return queryStats{
		Queries: n,
		Recall:  recall / float64(n),
		P50Ms:   lat[n/2],
		P99Ms:   lat[min(n-1, n*99/100)],
		MeanMs:  sum / float64(n),
		KiBRead: kib / float64(n),
	}
}

// recallAtK is recall@k of res against the first k rows of truth (all
// of them when there are fewer: a tenant or a label with fewer rows).
func recallAtK(res []index.Result, truth []int32, k int) float64 {
	want := truth[:min(k, len(truth))]
	if len(want) == 0 {
		return 1
	}
	hit := 0
	for _, r := range res {
		if slices.Contains(want, int32(r.ID)) {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}
