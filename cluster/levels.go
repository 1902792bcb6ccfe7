package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// levelJob is one node to split, as builder.split would, with the state of
// its balanced k-means (balancedKMeans) while a level iterates.
type levelJob struct {
	nd   *node
	idx  []int32
	want int
	seed uint64

	k          int
	rng        *rand.Rand
	workers    int // as split picks them: how assign would sum the cost
	cents      []float32
	labels     []int32
	counts     []int
	prevCounts []float64
	penalty    float64
	it         int
	seg        int // the job's segment in the current iteration
	active     bool
	children   []*levelJob
	rowCents   [][]float32 // the device path's one-point clusters: data rows
}

// buildLevels is Build with an Accelerator: the same splits as
// builder.split (same k, seeds, k-means++ seeding, balance penalty,
// empty-cluster repair, stopping rule and child wants), run level by
// level so that the assignment and update steps of all the nodes of a
// level go to the accelerator together, one call each per iteration. The
// host work per node (seeding, centroids from sums, partitioning) runs on
// o.Workers goroutines.
func (b *builder) buildLevels(root *node, idx []int32, want int, seed uint64, acc Accelerator) error {
	if la, ok := acc.(LevelAccelerator); ok && la.LevelsOK(b.o.K) {
		return b.buildLevelsDevice(root, idx, want, seed, la)
	}
	level := []*levelJob{{nd: root, idx: idx, want: want, seed: seed}}
	var inner []*node // nodes split so far, parents before children
	for len(level) > 0 {
		// Start every node's k-means: pick k, seed the centroids (CPU).
		b.forEach(level, func(j *levelJob) { b.startJob(j) })
		var running []*levelJob
		for _, j := range level {
			if j.active {
				running = append(running, j)
			}
		}
		if err := b.iterate(running, acc); err != nil {
			return err
		}
		// Partition each node's points among its children.
		b.forEach(level, func(j *levelJob) { b.finishJob(j) })
		var next []*levelJob
		for _, j := range level {
			if j.k > 0 {
				inner = append(inner, j.nd)
			}
			next = append(next, j.children...)
		}
		level = next
	}
	// A node with one child routes nowhere: hoist the child, deepest
	// first, as split does once the child's sub-tree is built.
	hoist(inner)
	return nil
}

// forEach runs fn on every job, on up to o.Workers goroutines.
func (b *builder) forEach(jobs []*levelJob, fn func(*levelJob)) {
	workers := min(b.o.Workers, len(jobs))
	if workers <= 1 {
		for _, j := range jobs {
			fn(j)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				fn(jobs[i])
			}
		}()
	}
	wg.Wait()
}

// startJob is the first half of split: trivial nodes become leaves, the
// others get k, their generator and (through balancedKMeans' own special
// cases, or k-means++) their initial centroids.
func (b *builder) startJob(j *levelJob) {
	idx := j.idx
	k, leaf := b.fanout(j.nd, idx, j.want)
	if leaf {
		return
	}
	j.k = k
	j.rng = rand.New(rand.NewPCG(j.seed, uint64(len(idx))))
	j.workers = 1
	if len(idx) >= parallelMin {
		j.workers = b.o.Workers
	}
	if j.k <= 1 || len(idx) <= j.k {
		j.cents, j.labels = balancedKMeans(b.data, b.dim, idx, j.k, kmeansParams{iters: b.o.Iters, lambda: b.o.Lambda, workers: 1}, j.rng)
		return
	}
	j.cents = make([]float32, j.k*b.dim)
	j.labels = make([]int32, len(idx))
	j.counts = make([]int, j.k)
	j.prevCounts = make([]float64, j.k)
	seedPlusPlus(b.data, b.dim, idx, j.k, j.rng, j.cents)
	j.active = b.o.Iters > 0
}

// iterate runs the k-means iterations of the running jobs in lockstep,
// each for as long as balancedKMeans would.
func (b *builder) iterate(running []*levelJob, acc Accelerator) error {
	dim := b.dim
	var bIdx, pseg, cseg, labels []int32
	var cents, dists []float32
	var pen, sums []float64
	var counts []int
	for len(running) > 0 {
		// Lay the running jobs out as segments: bounds first, then each
		// job copies its positions, centroids and penalties into place
		// (on o.Workers goroutines: at the deepest level that is tens of
		// megabytes per iteration).
		pseg, cseg = append(pseg[:0], 0), append(cseg[:0], 0)
		for s, j := range running {
			j.seg = s
			pseg = append(pseg, pseg[s]+int32(len(j.idx)))
			cseg = append(cseg, cseg[s]+int32(j.k))
		}
		n, nc := int(pseg[len(running)]), int(cseg[len(running)])
		bIdx = grow(bIdx, n)
		cents = grow(cents, nc*dim)
		pen = grow(pen, nc)
		b.forEach(running, func(j *levelJob) {
			p0, c0 := int(pseg[j.seg]), int(cseg[j.seg])
			for c := range j.prevCounts {
				j.prevCounts[c] = float64(j.counts[c]) * j.penalty
			}
			copy(bIdx[p0:], j.idx)
			copy(cents[c0*dim:], j.cents)
			copy(pen[c0:], j.prevCounts)
		})
		labels = grow(labels, n)
		dists = grow(dists, n)
		sums = grow(sums, nc*dim)
		counts = grow(counts, nc)
		if err := acc.Assign(bIdx, pseg, cents, cseg, pen, labels, dists); err != nil {
			return fmt.Errorf("cluster: accelerated assignment: %w", err)
		}
		if err := acc.Sums(bIdx, pseg, labels, cseg, sums, counts); err != nil {
			return fmt.Errorf("cluster: accelerated centroid sums: %w", err)
		}
		b.forEach(running, func(j *levelJob) {
			p0, p1, c0 := int(pseg[j.seg]), int(pseg[j.seg+1]), int(cseg[j.seg])
			b.stepJob(j, labels[p0:p1], dists[p0:p1], sums[c0*dim:(c0+j.k)*dim], counts[c0:c0+j.k])
		})
		kept := running[:0]
		for _, j := range running {
			if j.active {
				kept = append(kept, j)
			}
		}
		running = kept
	}
	return nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// stepJob finishes one balancedKMeans iteration of j from the
// accelerator's labels, distances and sums.
func (b *builder) stepJob(j *levelJob, labels []int32, dists []float32, sums []float64, counts []int) {
	n, dim := len(j.idx), b.dim
	changed := 0
	for i, l := range labels {
		if j.it == 0 || j.labels[i] != l {
			changed++
		}
	}
	copy(j.labels, labels)
	cost := sumCost(dists, j.workers)
	copy(j.counts, counts)
	for c := 0; c < j.k; c++ {
		if j.counts[c] == 0 {
			continue
		}
		cent := j.cents[c*dim : (c+1)*dim]
		s := sums[c*dim : (c+1)*dim]
		inv := 1 / float64(j.counts[c])
		for d := range cent {
			cent[d] = float32(s[d] * inv)
		}
	}
	fixEmpty(b.data, dim, j.idx, j.cents, j.labels, j.counts, j.rng)
	meanDist := cost / float64(n)
	j.penalty = b.o.Lambda * meanDist / (float64(n) / float64(j.k))
	j.it++
	if (j.it > 1 && changed*1000 < n) || j.it >= b.o.Iters {
		j.active = false
	}
}

// sumCost adds the assignment distances as assign does: in one pass, or
// in 16 chunks summed in order when assign would have split the work.
func sumCost(dists []float32, workers int) float64 {
	n := len(dists)
	if workers <= 1 || n < parallelMin {
		var c float64
		for _, d := range dists {
			c += float64(d)
		}
		return c
	}
	const chunks = 16
	var total float64
	for w := 0; w < chunks; w++ {
		var c float64
		for _, d := range dists[n*w/chunks : n*(w+1)/chunks] {
			c += float64(d)
		}
		total += c
	}
	return total
}

// finishJob is the second half of split: partition the node's points by
// label, make its children, and queue those that split further.
func (b *builder) finishJob(j *levelJob) {
	if j.k == 0 {
		return // a leaf, made by startJob
	}
	nd, idx, k := j.nd, j.idx, j.k
	if nd.centroid == nil {
		nd.centroid = make([]float32, b.dim)
		mean(b.data, b.dim, idx, nd.centroid)
	}
	counts := make([]int, k+1)
	for _, l := range j.labels {
		counts[l+1]++
	}
	for c := 1; c <= k; c++ {
		counts[c] += counts[c-1]
	}
	parts := make([]int32, len(idx))
	pos := append([]int(nil), counts[:k]...)
	for i, l := range j.labels {
		parts[pos[l]] = idx[i]
		pos[l]++
	}
	for c := 0; c < k; c++ {
		members := parts[counts[c]:counts[c+1]]
		if len(members) == 0 {
			continue
		}
		child := &node{centroid: j.cents[c*b.dim : (c+1)*b.dim]}
		nd.children = append(nd.children, child)
		childWant := 1
		if j.want > k {
			childWant = max(1, int(math.Round(float64(j.want)*float64(len(members))/float64(len(idx)))))
		}
		childSeed := j.seed*0x9E3779B97F4A7C15 + uint64(c) + 1
		if childWant <= 1 || len(members) <= 1 {
			child.size = len(members)
			if childWant > 1 || len(members) > 1 {
				mean(b.data, b.dim, members, child.centroid)
			}
			b.progress(len(members))
			continue
		}
		j.children = append(j.children, &levelJob{nd: child, idx: members, want: childWant, seed: childSeed})
	}
	// The job's k-means state is no longer needed.
	j.labels, j.counts, j.prevCounts, j.rng = nil, nil, nil, nil
}
