package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/shoaldb/shoal/internal/vec"
)

// refLevel is a LevelAccelerator computed on the CPU with this package's
// own k-means pieces, with the recursive build's generators (a PCG of the
// node's seed and size) and its cost sums: with it the device-level build
// must reproduce the recursive build's tree byte for byte, which checks
// everything buildLevelsDevice does on the host.
type refLevel struct {
	refAccel
	workers int // as Options.Workers: how assign sums the cost of a big node
	maxK    int // LevelsOK's bound (0: any)
	fail    error

	steps int
	jobs  []refJob
	pseg  []int32
	cseg  []int32
	idx   []int32
	iters int
	lam   float64
}

type refJob struct {
	idx        []int32
	k          int
	rng        *rand.Rand
	cents      []float32
	labels     []int32
	counts     []int
	prevCounts []float64
	sums       []float64
	penalty    float64
	it         int
	active     bool
}

func (a *refLevel) LevelsOK(maxK int) bool { return a.maxK == 0 || maxK <= a.maxK }

func (a *refLevel) StartLevel(idx, pseg, cseg []int32, seeds []uint64, iters int, lambda float64) error {
	if a.fail != nil {
		return a.fail
	}
	a.idx, a.pseg, a.cseg, a.iters, a.lam = idx, pseg, cseg, iters, lambda
	a.jobs = make([]refJob, len(seeds))
	for s := range a.jobs {
		j := &a.jobs[s]
		j.idx = idx[pseg[s]:pseg[s+1]]
		j.k = int(cseg[s+1] - cseg[s])
		if j.k < 2 || len(j.idx) <= j.k {
			return fmt.Errorf("segment %d: %d points in %d clusters", s, len(j.idx), j.k)
		}
		j.rng = rand.New(rand.NewPCG(seeds[s], uint64(len(j.idx))))
		j.cents = make([]float32, j.k*a.dim)
		j.labels = make([]int32, len(j.idx))
		j.counts = make([]int, j.k)
		j.prevCounts = make([]float64, j.k)
		j.sums = make([]float64, j.k*a.dim)
		seedPlusPlus(a.data, a.dim, j.idx, j.k, j.rng, j.cents)
		j.active = true
	}
	return nil
}

// Step is one iteration of balancedKMeans' loop for every active job.
func (a *refLevel) Step() (int, error) {
	a.steps++
	dim, active := a.dim, 0
	for s := range a.jobs {
		j := &a.jobs[s]
		if !j.active {
			continue
		}
		n := len(j.idx)
		for c := range j.prevCounts {
			j.prevCounts[c] = float64(j.counts[c]) * j.penalty
		}
		workers := 1
		if n >= parallelMin {
			workers = a.workers
		}
		changed, cost := assign(a.data, dim, j.idx, j.cents, j.k, j.prevCounts, j.labels, workers, j.it == 0)
		clear(j.counts)
		clear(j.sums)
		for i, id := range j.idx {
			l := int(j.labels[i])
			j.counts[l]++
			for d, v := range row(a.data, dim, id) {
				j.sums[l*dim+d] += float64(v)
			}
		}
		for c := 0; c < j.k; c++ {
			if j.counts[c] == 0 {
				continue
			}
			inv := 1 / float64(j.counts[c])
			for d := 0; d < dim; d++ {
				j.cents[c*dim+d] = float32(j.sums[c*dim+d] * inv)
			}
		}
		fixEmpty(a.data, dim, j.idx, j.cents, j.labels, j.counts, j.rng)
		j.penalty = a.lam * (cost / float64(n)) / (float64(n) / float64(j.k))
		j.it++
		if (j.it > 1 && changed*1000 < n) || j.it >= a.iters {
			j.active = false
		} else {
			active++
		}
	}
	return active, nil
}

func (a *refLevel) Result(labels []int32, centroids []float32) error {
	for s := range a.jobs {
		j := &a.jobs[s]
		copy(labels[a.pseg[s]:], j.labels)
		copy(centroids[int(a.cseg[s])*a.dim:], j.cents)
	}
	return nil
}

var _ LevelAccelerator = (*refLevel)(nil)

func TestBuildLevelsDeviceMatchesRecursive(t *testing.T) {
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
		{4000, 8, 4000, 0, 2}, // nodes with exactly as many points as wanted leaves
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("n%d_dim%d_leaves%d_k%d_w%d", c.n, c.dim, c.leaves, c.k, c.workers), func(t *testing.T) {
			data := blobs(c.n, c.dim, 30, uint64(c.n))
			o := Options{Leaves: c.leaves, K: c.k, Seed: 7, Workers: c.workers}
			want, err := Build(data, c.dim, o)
			if err != nil {
				t.Fatal(err)
			}
			acc := &refLevel{refAccel: refAccel{data: data, dim: c.dim}, workers: c.workers}
			o.Accel = acc
			got, err := Build(data, c.dim, o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Marshal(), want.Marshal()) {
				t.Fatalf("device-level build with a CPU-exact level accelerator: %d leaves, %d nodes; recursive build: %d leaves, %d nodes; want identical trees",
					got.NumLeaves(), got.NumNodes(), want.NumLeaves(), want.NumNodes())
			}
			if acc.calls != 0 {
				t.Fatalf("Assign/Sums called %d times, want the level interface only", acc.calls)
			}
			if c.leaves > 1 && acc.steps == 0 {
				t.Fatal("the level accelerator was never stepped")
			}
		})
	}
}

func TestBuildLevelsDeviceFallsBack(t *testing.T) {
	// An accelerator that cannot take the level's K gets Assign and Sums.
	data := blobs(3000, 8, 10, 3)
	o := Options{Leaves: 200, Seed: 3, Workers: 2}
	want, err := Build(data, 8, o)
	if err != nil {
		t.Fatal(err)
	}
	acc := &refLevel{refAccel: refAccel{data: data, dim: 8}, workers: 2, maxK: 16}
	o.Accel = acc
	got, err := Build(data, 8, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Marshal(), want.Marshal()) || acc.calls == 0 || acc.steps != 0 {
		t.Fatalf("with LevelsOK false: %d Assign/Sums calls, %d steps, same tree %v; want the Assign/Sums path and the recursive tree",
			acc.calls, acc.steps, bytes.Equal(got.Marshal(), want.Marshal()))
	}
}

func TestBuildLevelsDeviceErrors(t *testing.T) {
	data := blobs(1000, 8, 10, 1)
	boom := errors.New("device lost")
	_, err := Build(data, 8, Options{Leaves: 50, Accel: &refLevel{refAccel: refAccel{data: data, dim: 8}, fail: boom}})
	if !errors.Is(err, boom) {
		t.Fatalf("Build with a failing level accelerator: %v, want it wrapped", err)
	}
}

func TestBuildLevelsDeviceProgress(t *testing.T) {
	data := blobs(5000, 8, 10, 1)
	last := 0
	acc := &refLevel{refAccel: refAccel{data: data, dim: 8}, workers: 2}
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

// nullLevel is a LevelAccelerator that does no k-means at all (round-robin
// labels, centroids from the first points): with it, BenchmarkLevelsHost
// measures what the host spends per level around the device's work.
type nullLevel struct {
	refAccel
	idx, pseg, cseg []int32
}

func (a *nullLevel) LevelsOK(int) bool { return true }
func (a *nullLevel) StartLevel(idx, pseg, cseg []int32, _ []uint64, _ int, _ float64) error {
	a.idx, a.pseg, a.cseg = idx, pseg, cseg
	return nil
}
func (a *nullLevel) Step() (int, error) { return 0, nil }
func (a *nullLevel) Result(labels []int32, cents []float32) error {
	for s := 0; s+1 < len(a.pseg); s++ {
		k := a.cseg[s+1] - a.cseg[s]
		for i := a.pseg[s]; i < a.pseg[s+1]; i++ {
			labels[i] = (i - a.pseg[s]) % k
		}
		for c := int32(0); c < k; c++ {
			copy(cents[int(a.cseg[s]+c)*a.dim:], row(a.data, a.dim, a.idx[a.pseg[s]+c]))
		}
	}
	return nil
}

// BenchmarkLevelsHost times the host side of a device-level build of a
// million points (the 10M build's sample) into a million or 120k leaves.
func BenchmarkLevelsHost(b *testing.B) {
	const n, dim = 1 << 20, 128
	data := make([]float32, n*dim)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = rng.Float32()
	}
	for _, leaves := range []int{n, n / 8} {
		b.Run(fmt.Sprint(leaves), func(b *testing.B) {
			for b.Loop() {
				t0 := time.Now()
				tr, err := Build(data, dim, Options{Leaves: leaves, Accel: &nullLevel{refAccel: refAccel{data: data, dim: dim}}})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(tr.NumLeaves()), "leaves")
				b.ReportMetric(time.Since(t0).Seconds(), "s")
			}
		})
	}
}

func TestFlattenTreeMatchesFlatten(t *testing.T) {
	for _, c := range []struct{ n, leaves, k int }{{1, 1, 0}, {3000, 3000, 0}, {5000, 100, 0}, {6000, 500, 4}, {2000, 1, 0}} {
		data := blobs(c.n, 8, 10, uint64(c.n))
		b := &builder{data: data, dim: 8, o: Options{Leaves: c.leaves, K: c.k, Seed: 1, Workers: 2}, total: c.n}
		b.o.EnsureDefaults()
		b.sem = make(chan struct{}, 2)
		idx := make([]int32, c.n)
		for i := range idx {
			idx[i] = int32(i)
		}
		root := &node{}
		var wg sync.WaitGroup
		b.split(root, idx, c.leaves, 1, &wg, true)
		wg.Wait()
		want := flatten(root, 8, vec.L2)
		got := flattenTree(root, 8, vec.L2, 3)
		if !bytes.Equal(got.Marshal(), want.Marshal()) || !reflect.DeepEqual(got.LeafSize, want.LeafSize) || !reflect.DeepEqual(got.Parent, want.Parent) {
			t.Fatalf("n %d leaves %d: flattenTree differs from flatten", c.n, c.leaves)
		}
	}
}
