package gpu

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// The CPU backend computes each distance with one float32 kernel call:
// its error is a few ulps of the operands' squared norms.
const cpuTol = 2e-6

func TestCPUBackend(t *testing.T) {
	testBackend(t, CPU(), cpuTol)
}

func TestCPUBadInput(t *testing.T) {
	b := CPU()
	x := make([]float32, 8)
	cases := map[string]error{
		"partial row": b.Distances(L2, x[:7], x, 4, make([]float32, 2)),
		"short out":   b.Distances(L2, x, x, 4, make([]float32, 3)),
		"bad metric":  b.Distances(Metric(9), x, x, 4, make([]float32, 4)),
		"k zero":      b.TopK(L2, x, x, 4, 0, nil, nil),
		"short ids":   b.TopK(L2, x, x, 4, 2, make([]int32, 3), make([]float32, 4)),
		"zero dim":    b.Distances(L2, x, x, 0, nil),
		"tree bad shape": func() error {
			_, err := b.LoadTree(&Tree{Dim: 2, Metric: L2, Centroids: x, ChildStart: []int32{0}, ChildCount: []int32{0}, LeafID: []int32{0}})
			return err
		}(),
		"tree cosine": func() error {
			_, err := b.LoadTree(&Tree{Dim: 8, Metric: Cosine, Centroids: x, ChildStart: []int32{0}, ChildCount: []int32{0}, LeafID: []int32{0}})
			return err
		}(),
	}
	for name, err := range cases {
		if !errors.Is(err, ErrBadInput) {
			t.Errorf("%s: error %v, want ErrBadInput", name, err)
		}
	}
	pts, err := b.LoadPoints(x, 4)
	if err != nil {
		t.Fatal(err)
	}
	labels, dists := make([]int32, 2), make([]float32, 2)
	for name, err := range map[string]error{
		"segment without centroid": pts.Assign([]int32{0, 1}, []int32{0, 2}, nil, []int32{0, 0}, nil, labels, dists),
		"row out of range":         pts.Assign([]int32{0, 2}, []int32{0, 2}, x[:4], []int32{0, 1}, nil, labels, dists),
		"segments not covering":    pts.Assign([]int32{0, 1}, []int32{0, 1}, x[:4], []int32{0, 1}, nil, labels, dists),
		"label out of range":       pts.Sums([]int32{0, 1}, []int32{0, 2}, []int32{0, 1}, []int32{0, 1}, make([]float64, 4), make([]int, 1)),
	} {
		if !errors.Is(err, ErrBadInput) {
			t.Errorf("%s: error %v, want ErrBadInput", name, err)
		}
	}
}

// TestCPUTopKLargeK: k beyond the number of rows pads with -1/+Inf (the
// suite covers it too; here with k far past the CUDA kernel's limit).
func TestCPUTopKLargeK(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	x := randRows(rng, 3, 4, 0)
	y := randRows(rng, 1500, 4, 0)
	k := 2000
	ids, dists := make([]int32, 3*k), make([]float32, 3*k)
	if err := CPU().TopK(L2, x, y, 4, k, ids, dists); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		expectTopK(t, "large k", L2, x[i*4:(i+1)*4], y, 4, k, ids[i*k:(i+1)*k], dists[i*k:(i+1)*k], cpuTol)
	}
}

func BenchmarkTopK1kx100kx128CPU(b *testing.B)   { benchTopK(b, CPU(), 1000, 100000, 128, 64) }
func BenchmarkAssign200kx32x128CPU(b *testing.B) { benchAssign(b, CPU(), 200000, 128, 32) }
