package build

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

// sliceSource is a Source over float32 rows in memory.
type sliceSource struct {
	data []float32
	dim  int
}

func (s sliceSource) Len() int           { return len(s.data) / s.dim }
func (s sliceSource) Dim() int           { return s.dim }
func (s sliceSource) Elem() vec.ElemType { return vec.Float32 }
func (s sliceSource) ReadRows(start, n int, dst []byte) error {
	return vec.FromFloat32(vec.Float32, s.data[start*s.dim:(start+n)*s.dim], dst)
}

// TestAssignPartitioned: assigning the vectors partition by partition
// from the spill files gives the entries of assigning them in id order.
func TestAssignPartitioned(t *testing.T) {
	const dim, n = 8, 5000
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	opts := Options{Metric: vec.L2, Elem: vec.Float32, Ratio: 0.05, Replicas: 8, PostingCap: 100, RNGFactor: 1,
		ClosureEpsilon: 10, Candidates: 16, K: 8, SampleSize: 400, Seed: 1, Workers: 2}
	b := &builder{src: sliceSource{data, dim}, opts: opts, n: n, dim: dim, srcElem: vec.Float32, elem: vec.Float32, dir: t.TempDir()}
	cp, _, err := b.openCheckpoint(b.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if b.tree, err = b.clusterPartitioned(cp, false, b.dir, 250, nil); err != nil {
		t.Fatal(err)
	}
	if b.parts == nil || len(b.parts.sizes) < 2 {
		t.Fatalf("no partitions: %+v", b.parts)
	}
	got, err := b.assignPartitioned()
	if err != nil {
		t.Fatal(err)
	}
	want, err := b.assign()
	if err != nil {
		t.Fatal(err)
	}
	order := func(a, c entry) int {
		return cmp.Or(cmp.Compare(a.id, c.id), cmp.Compare(a.posting, c.posting))
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		t.Fatalf("partition-order assignment: %d entries, id order %d, or they differ", len(got), len(want))
	}
	primaries := 0
	for _, e := range got {
		if e.primary {
			primaries++
		}
	}
	if primaries != n {
		t.Errorf("%d primary entries, want one per vector (%d)", primaries, n)
	}
}
