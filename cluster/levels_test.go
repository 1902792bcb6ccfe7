package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

// refAccel is an Accelerator computed on the CPU with this package's own
// kernel, as Accelerator's contract describes: with it, the level-by-level
// build must produce the recursive build's tree, byte for byte.
type refAccel struct {
	data  []float32
	dim   int
	calls int
	fail  error
}

func (a *refAccel) Len() int { return len(a.data) / a.dim }
func (a *refAccel) Dim() int { return a.dim }

func (a *refAccel) Assign(idx, pseg []int32, cents []float32, cseg []int32, pen []float64, labels []int32, dists []float32) error {
	a.calls++
	if a.fail != nil {
		return a.fail
	}
	dim := a.dim
	for s := 0; s+1 < len(pseg); s++ {
		c0, c1 := int(cseg[s]), int(cseg[s+1])
		d := make([]float32, c1-c0)
		for i := pseg[s]; i < pseg[s+1]; i++ {
			vec.L2SquaredF32Batch(row(a.data, dim, idx[i]), cents[c0*dim:c1*dim], d)
			best, bestCost := 0, math.Inf(1)
			for j, v := range d {
				if c := float64(v) + pen[c0+j]; c < bestCost {
					best, bestCost = j, c
				}
			}
			labels[i], dists[i] = int32(best), d[best]
		}
	}
	return nil
}

func (a *refAccel) Sums(idx, pseg, labels, cseg []int32, sums []float64, counts []int) error {
	clear(sums)
	clear(counts)
	dim := a.dim
	for s := 0; s+1 < len(pseg); s++ {
		for i := pseg[s]; i < pseg[s+1]; i++ {
			c := int(cseg[s]) + int(labels[i])
			counts[c]++
			for d, v := range row(a.data, dim, idx[i]) {
				sums[c*dim+d] += float64(v)
			}
		}
	}
	return nil
}

func TestBuildLevelsMatchesRecursive(t *testing.T) {
	cases := []struct {
		n, dim, leaves, k, workers int
	}{
		{40000, 8, 2000, 0, 1}, // the root is big enough to split its cost sum in chunks
		{40000, 8, 2000, 0, 3},
		{5000, 16, 100, 0, 2},
		{3000, 4, 3000, 0, 2}, // as many leaves as points: one-point nodes
		{2000, 8, 1, 0, 2},    // a single leaf
		{6000, 8, 500, 4, 2},  // a narrow tree, several levels
		{700, 3, 50, 0, 1},    // an odd dimension
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("n%d_dim%d_leaves%d_k%d_w%d", c.n, c.dim, c.leaves, c.k, c.workers), func(t *testing.T) {
			data := blobs(c.n, c.dim, 30, uint64(c.n))
			o := Options{Leaves: c.leaves, K: c.k, Seed: 7, Workers: c.workers}
			want, err := Build(data, c.dim, o)
			if err != nil {
				t.Fatal(err)
			}
			acc := &refAccel{data: data, dim: c.dim}
			o.Accel = acc
			got, err := Build(data, c.dim, o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Marshal(), want.Marshal()) {
				t.Fatalf("level-by-level build with a CPU-exact accelerator: %d leaves, %d nodes; recursive build: %d leaves, %d nodes; want identical trees",
					got.NumLeaves(), got.NumNodes(), want.NumLeaves(), want.NumNodes())
			}
			if c.leaves > 1 && acc.calls == 0 {
				t.Fatal("the accelerator was never called")
			}
		})
	}
}

func TestBuildLevelsProgress(t *testing.T) {
	data := blobs(5000, 8, 10, 1)
	last := 0
	acc := &refAccel{data: data, dim: 8}
	_, err := Build(data, 8, Options{Leaves: 300, Seed: 1, Accel: acc, Progress: func(done, total int) {
		if done < last || total != 5000 {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
	}})
	if err != nil {
		t.Fatal(err)
	}
	if last != 5000 {
		t.Fatalf("progress ended at %d, want every one of the 5000 points placed", last)
	}
}

func TestBuildLevelsErrors(t *testing.T) {
	data := blobs(1000, 8, 10, 1)
	boom := errors.New("device lost")
	if _, err := Build(data, 8, Options{Leaves: 50, Accel: &refAccel{data: data, dim: 8, fail: boom}}); !errors.Is(err, boom) {
		t.Fatalf("Build with a failing accelerator: %v, want it wrapped", err)
	}
	if _, err := Build(data, 8, Options{Leaves: 50, Accel: &refAccel{data: data[:800], dim: 8}}); err == nil {
		t.Fatal("Build accepted an accelerator holding other points")
	}
}
