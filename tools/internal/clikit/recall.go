package clikit

import (
	"fmt"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vecfile"
)

// ReadTruth reads the first k ids of the first nq ground-truth rows.
func ReadTruth(path string, nq, k int) ([][]int32, error) {
	ids, gdim, err := vecfile.ReadInt32(path)
	if err != nil {
		return nil, err
	}
	if gdim < k {
		return nil, fmt.Errorf("%s has %d neighbours per query, fewer than k=%d", path, gdim, k)
	}
	if len(ids)/gdim < nq {
		return nil, fmt.Errorf("%s has %d rows for %d queries", path, len(ids)/gdim, nq)
	}
	t := make([][]int32, nq)
	for i := range t {
		t[i] = ids[i*gdim : i*gdim+k]
	}
	return t, nil
}

// CountHits counts results whose id is among the true neighbours
// (recall@k as ann-benchmarks and SPTAG compute it, without tie handling).
func CountHits(res []index.Result, truth []int32) int {
	h := 0
	for _, r := range res {
		for _, t := range truth {
			if uint64(t) == r.ID {
				h++
				break
			}
		}
	}
	return h
}

// Percentile returns the p-quantile (0 ≤ p ≤ 1) of sorted, the element
// at rank ⌊p·(n−1)⌋; 0 for none.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}
