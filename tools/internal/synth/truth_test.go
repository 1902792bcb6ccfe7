package synth

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/internal/vecfile"
)

// TestExactTruth compares ExactTruth with a plain brute force, for each
// metric, with some rows skipped.
func TestExactTruth(t *testing.T) {
	const n, dim, nq, k = 700, 5, 9, 7
	rng := rand.New(rand.NewPCG(1, 2))
	base := make([]float32, n*dim)
	for i := range base {
		base[i] = float32(rng.NormFloat64())
	}
	qs := base[:0:0]
	for range nq * dim {
		qs = append(qs, float32(rng.NormFloat64()))
	}
	skip := make([]bool, n)
	for i := range skip {
		skip[i] = i%3 == 1
	}
	for _, metric := range []index.Metric{index.L2, index.InnerProduct, index.Cosine} {
		got, err := ExactTruth(context.Background(), index.SliceSource(base, dim), skip, qs, k, metric, nil)
		if err != nil {
			t.Fatal(err)
		}
		for q := range nq {
			qv := slices.Clone(qs[q*dim : (q+1)*dim])
			if metric == index.Cosine {
				vec.Normalize(qv)
			}
			type cand struct {
				d  float64
				id int32
			}
			var all []cand
			for i := range n {
				if skip[i] {
					continue
				}
				x := slices.Clone(base[i*dim : (i+1)*dim])
				if metric == index.Cosine {
					vec.Normalize(x)
				}
				var d float64
				for j := range dim {
					if metric == index.L2 {
						d += float64(qv[j]-x[j]) * float64(qv[j]-x[j])
					} else {
						d -= float64(qv[j]) * float64(x[j])
					}
				}
				all = append(all, cand{d, int32(i)})
			}
			slices.SortFunc(all, func(a, b cand) int {
				if a.d < b.d {
					return -1
				}
				if a.d > b.d {
					return 1
				}
				return int(a.id - b.id)
			})
			want := make([]int32, k)
			for i := range want {
				want[i] = all[i].id
			}
			if !slices.Equal(got[q], want) {
				t.Errorf("%v query %d: ExactTruth %v, brute force %v", metric, q, got[q], want)
			}
		}
	}
}

func TestGroundTruthAcrossChunks(t *testing.T) {
	files := genSmallSet(t, genSmallSpec, vecfile.FVecs)
	base, dim := genReadF32(t, files.Base)
	queries, _ := genReadF32(t, files.Query)
	wantIDs, wantDists := genNaiveTruth(base, queries, dim, genSmallSpec.K)
	var calls []int
	ids, dists, err := groundTruth(context.Background(), files.Base, queries, dim, genSmallSpec.K, index.L2, 300, nil, func(done int) { calls = append(calls, done) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, wantIDs) || !slices.Equal(dists, wantDists) {
		t.Errorf("ground truth read in chunks of 300 rows differs from a naive brute force")
	}
	if want := []int{300, 600, 900, 1200, 1500, 1800, 2000}; !slices.Equal(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
}
