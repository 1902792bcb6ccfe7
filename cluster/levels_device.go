package cluster

import (
	"fmt"
	"math"
	"sync"
)

// LevelAccelerator is an Accelerator that keeps a whole tree level's
// balanced k-means on the device: the seeding, every iteration's
// assignment, update, empty-cluster repair and balance penalty, and the
// stopping rule. Build then moves per level only the positions in and the
// labels and centroids out, and calls Step once per iteration. Package
// gpu's CUDA Points satisfies it.
//
// A level is a set of k-means problems given as segments, as for
// Accelerator: segment s covers positions pseg[s] .. pseg[s+1]-1 of idx
// and has k_s = cseg[s+1]-cseg[s] clusters, centroid slots cseg[s] ..
// cseg[s+1]-1, with 2 <= k_s < n_s (Build solves the trivial nodes
// itself). Each segment runs balancedKMeans' algorithm (SPANN §3.1):
//
//   - StartLevel seeds the centroids by k-means++ (Arthur & Vassilvitskii
//     2007) over a sample of at most 64·k_s of the segment's points, with
//     randomness drawn from seeds[s] (any generator: the random choices
//     need not be Build's PCG ones); seeds[s] is the node's seed as the
//     recursive build derives it.
//   - Each Step runs one iteration of every active segment: the cost of
//     point x to cluster j is float64(‖x − c_j‖²) + float64(|C_j|)·pen_s,
//     |C_j| the cluster's size after the previous iteration (0 at first);
//     each point takes its cheapest cluster, the first on ties; each
//     non-empty cluster's centroid becomes its members' mean; empty
//     clusters are repaired as fixEmpty does (a random member of the
//     first largest cluster moves over, while that cluster has at least
//     two); pen_s = lambda · (cost/n_s) / (n_s/k_s) with cost the summed
//     unpenalised distance; the segment stops after iteration it
//     (counting from 1) when it >= iters or it > 1 and fewer than n_s/1000
//     labels changed. Step returns the number of segments still active.
//   - Result copies each position's label (within its segment) and the
//     centroids out.
//
// The sums and distances may be computed in any order, so results need
// not be the CPU's bits; the tree is as good, not the same (Build with a
// LevelAccelerator is deterministic for a given device, not across
// devices). Build calls the methods from one goroutine at a time.
type LevelAccelerator interface {
	Accelerator
	// LevelsOK reports whether the accelerator runs levels whose
	// segments have up to maxK clusters; if not, Build uses Assign and
	// Sums.
	LevelsOK(maxK int) bool
	StartLevel(idx, pseg, cseg []int32, seeds []uint64, iters int, lambda float64) error
	Step() (active int, err error)
	Result(labels []int32, centroids []float32) error
}

// buildLevelsDevice is buildLevels with a LevelAccelerator: the same
// fanout, child wants and seeds per node, but each level's k-means runs
// on the device from seeding to convergence, and the host only lays the
// level out and partitions its points among the children.
func (b *builder) buildLevelsDevice(root *node, idx []int32, want int, seed uint64, acc LevelAccelerator) error {
	dim := b.dim
	level := []*levelJob{{nd: root, idx: idx, want: want, seed: seed}}
	var inner []*node
	var bIdx, pseg, cseg, labels []int32
	var seeds []uint64
	for len(level) > 0 {
		b.startDeviceJobs(level)
		var running []*levelJob
		pseg, cseg, seeds = append(pseg[:0], 0), append(cseg[:0], 0), seeds[:0]
		for _, j := range level {
			if !j.active {
				continue
			}
			j.seg = len(running)
			running = append(running, j)
			pseg = append(pseg, pseg[j.seg]+int32(len(j.idx)))
			cseg = append(cseg, cseg[j.seg]+int32(j.k))
			seeds = append(seeds, j.seed)
		}
		if len(running) > 0 {
			n, nc := int(pseg[len(running)]), int(cseg[len(running)])
			bIdx = grow(bIdx, n)
			b.forEach(running, func(j *levelJob) { copy(bIdx[pseg[j.seg]:], j.idx) })
			if err := acc.StartLevel(bIdx, pseg, cseg, seeds, b.o.Iters, b.o.Lambda); err != nil {
				return fmt.Errorf("cluster: device k-means seeding: %w", err)
			}
			for it := 0; ; it++ {
				active, err := acc.Step()
				if err != nil {
					return fmt.Errorf("cluster: device k-means iteration: %w", err)
				}
				if active == 0 {
					break
				}
				if it >= b.o.Iters {
					return fmt.Errorf("cluster: device k-means still has %d segments running after %d iterations", active, it+1)
				}
			}
			// The labels are scratch until the level is partitioned; the
			// centroids become the children's, so each level has its own.
			labels = grow(labels, n)
			cents := make([]float32, nc*dim)
			if err := acc.Result(labels, cents); err != nil {
				return fmt.Errorf("cluster: device k-means result: %w", err)
			}
			for _, j := range running {
				p0, c0 := int(pseg[j.seg]), int(cseg[j.seg])
				j.labels = labels[p0 : p0+len(j.idx)]
				j.cents = cents[c0*dim : (c0+j.k)*dim]
			}
		}
		var mu sync.Mutex
		placed := 0
		b.forEach(level, func(j *levelJob) {
			if p := b.finishDeviceJob(j); p > 0 {
				mu.Lock()
				placed += p
				mu.Unlock()
			}
		})
		if placed > 0 {
			b.progress(placed)
		}
		var next []*levelJob
		for _, j := range level {
			if j.k > 0 {
				inner = append(inner, j.nd)
			}
			next = append(next, j.children...)
		}
		level = next
	}
	hoist(inner)
	return nil
}

// hoist replaces, deepest first, the only child of a node by its own
// children (or, for a leaf child, its centroid), as split does: a node
// with one child routes nowhere.
func hoist(inner []*node) {
	for i := len(inner) - 1; i >= 0; i-- {
		nd := inner[i]
		if len(nd.children) == 1 {
			only := nd.children[0]
			nd.children = only.children
			if len(nd.children) == 0 {
				nd.centroid = only.centroid
			}
		}
	}
}

// startDeviceJobs is startJob for the device, for a whole level: trivial
// nodes become leaves; nodes with one cluster or no more points than
// clusters are solved here as balancedKMeans' special cases solve them
// (their centroids and labels carved from one allocation per level: the
// deepest level of a tree with as many leaves as points has a node like
// that per 32 points); the rest are marked for the device.
func (b *builder) startDeviceJobs(level []*levelJob) {
	b.forEach(level, func(j *levelJob) {
		k, leaf := b.fanout(j.nd, j.idx, j.want)
		if leaf {
			return
		}
		j.k = k
		j.active = k > 1 && len(j.idx) > k
	})
	var nc, np int
	for _, j := range level {
		if j.k > 0 && !j.active {
			if j.k <= 1 {
				nc += j.k
			}
			np += len(j.idx)
		}
	}
	if np == 0 {
		return
	}
	dim := b.dim
	cents, labels := make([]float32, nc*dim), make([]int32, np)
	nc, np = 0, 0
	for _, j := range level {
		if j.k > 0 && !j.active {
			if j.k <= 1 {
				j.cents = cents[nc*dim : (nc+j.k)*dim : (nc+j.k)*dim]
				nc += j.k
			}
			j.labels = labels[np : np+len(j.idx) : np+len(j.idx)]
			np += len(j.idx)
		}
	}
	b.forEach(level, func(j *levelJob) {
		if j.k == 0 || j.active {
			return
		}
		n := len(j.idx)
		if j.k <= 1 {
			mean(b.data, dim, j.idx, j.cents)
			return // labels stay 0
		}
		// One point per cluster (fanout makes k = n here): the children
		// are one-point leaves whose centroids are their points, so they
		// share the data's rows (finishDeviceJob copies a row it would
		// write to).
		for i := range j.labels {
			j.labels[i] = int32(i)
		}
		j.rowCents = make([][]float32, j.k)
		for c := range j.rowCents {
			j.rowCents[c] = row(b.data, dim, j.idx[min(c, n-1)])
		}
	})
}

// finishDeviceJob is finishJob with the progress of the leaves it makes
// returned (placed points) instead of reported one leaf at a time: a
// level of a million leaves would otherwise take the Progress lock a
// million times.
func (b *builder) finishDeviceJob(j *levelJob) (placed int) {
	if j.k == 0 {
		return 0 // a leaf, made (and reported) by fanout
	}
	nd, idx, k, dim := j.nd, j.idx, j.k, b.dim
	if nd.centroid == nil {
		nd.centroid = make([]float32, dim)
		meanParallel(b.data, dim, idx, nd.centroid, b.o.Workers)
	}
	var counts []int
	if k < 64 {
		var buf [65]int
		counts = buf[:k+1]
	} else {
		counts = make([]int, k+1)
	}
	for _, l := range j.labels {
		counts[l+1]++
	}
	for c := 1; c <= k; c++ {
		counts[c] += counts[c-1]
	}
	parts := make([]int32, len(idx))
	var pbuf [64]int
	var pos []int
	if k <= 64 {
		pos = pbuf[:k]
	} else {
		pos = make([]int, k)
	}
	copy(pos, counts[:k])
	for i, l := range j.labels {
		parts[pos[l]] = idx[i]
		pos[l]++
	}
	kids := make([]node, 0, k)
	nd.children = make([]*node, 0, k)
	for c := 0; c < k; c++ {
		members := parts[counts[c]:counts[c+1]]
		if len(members) == 0 {
			continue
		}
		var cent []float32
		if j.rowCents != nil {
			cent = j.rowCents[c]
		} else {
			cent = j.cents[c*dim : (c+1)*dim]
		}
		kids = append(kids, node{centroid: cent})
		child := &kids[len(kids)-1]
		nd.children = append(nd.children, child)
		childWant := 1
		if j.want > k {
			childWant = max(1, int(math.Round(float64(j.want)*float64(len(members))/float64(len(idx)))))
		}
		childSeed := j.seed*0x9E3779B97F4A7C15 + uint64(c) + 1
		if childWant <= 1 || len(members) <= 1 {
			child.size = len(members)
			if childWant > 1 || len(members) > 1 {
				if j.rowCents != nil {
					child.centroid = make([]float32, dim)
				}
				mean(b.data, dim, members, child.centroid)
			}
			placed += len(members)
			continue
		}
		j.children = append(j.children, &levelJob{nd: child, idx: members, want: childWant, seed: childSeed})
	}
	j.labels, j.counts, j.prevCounts, j.rng, j.rowCents = nil, nil, nil, nil, nil
	return placed
}

// meanParallel is mean on up to workers goroutines: 64 fixed chunks
// summed in order, so the result does not depend on workers (it is not
// mean's bits: the root's centroid of a device build).
func meanParallel(data []float32, dim int, idx []int32, out []float32, workers int) {
	const chunks = 64
	if len(idx) < 1<<16 {
		mean(data, dim, idx, out)
		return
	}
	part := make([]float64, chunks*dim)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(workers, 1))
	for c := 0; c < chunks; c++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(c int) {
			defer wg.Done()
			s := part[c*dim : (c+1)*dim]
			for _, id := range idx[len(idx)*c/chunks : len(idx)*(c+1)/chunks] {
				for d, v := range row(data, dim, id) {
					s[d] += float64(v)
				}
			}
			<-sem
		}(c)
	}
	wg.Wait()
	inv := 1 / float64(len(idx))
	for d := range out {
		var s float64
		for c := 0; c < chunks; c++ {
			s += part[c*dim+d]
		}
		out[d] = float32(s * inv)
	}
}
