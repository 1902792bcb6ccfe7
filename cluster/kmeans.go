package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/shoaldb/shoal/internal/vec"
)

// kmeansParams are the knobs of one balanced k-means run.
type kmeansParams struct {
	iters   int
	lambda  float64 // balance penalty factor (SPANN §3.1)
	workers int
}

// parallelMin is the number of points from which an assignment step is
// split across workers.
const parallelMin = 16384

// balancedKMeans partitions the rows idx of data (dim floats each) into k
// clusters and returns the centroids (k·dim) and each point's label.
//
// SPANN §3.1 (multi-constraint balanced clustering), as SPTAG does it: the
// assignment cost of point x to cluster j is ‖x−c_j‖² + λ·|C_j|, where |C_j|
// is the cluster's size in the previous iteration and λ is scaled so that a
// cluster of the average size pays lambda × the mean squared distance. It
// keeps leaves (postings) from growing lopsided, which would make a few
// postings long and every query that hits them slow.
func balancedKMeans(data []float32, dim int, idx []int32, k int, p kmeansParams, rng *rand.Rand) (centroids []float32, labels []int32) {
	n := len(idx)
	centroids = make([]float32, k*dim)
	labels = make([]int32, n)
	if k <= 1 || n <= k {
		if k <= 1 {
			mean(data, dim, idx, centroids)
			return centroids, labels
		}
		// One point per cluster; surplus clusters copy the last point.
		for j := 0; j < k; j++ {
			src := idx[min(j, n-1)]
			copy(centroids[j*dim:(j+1)*dim], row(data, dim, src))
		}
		for i := range labels {
			labels[i] = int32(i)
		}
		return centroids, labels
	}
	seedPlusPlus(data, dim, idx, k, rng, centroids)
	counts := make([]int, k)
	prevCounts := make([]float64, k)
	sums := make([]float64, k*dim)
	var penalty float64
	for it := 0; it < p.iters; it++ {
		for j := range prevCounts {
			prevCounts[j] = float64(counts[j]) * penalty
		}
		changed, cost := assign(data, dim, idx, centroids, k, prevCounts, labels, p.workers, it == 0)
		// Recompute centroids.
		clear(counts)
		clear(sums)
		for i, id := range idx {
			l := int(labels[i])
			counts[l]++
			s := sums[l*dim : (l+1)*dim]
			for d, v := range row(data, dim, id) {
				s[d] += float64(v)
			}
		}
		for j := 0; j < k; j++ {
			if counts[j] == 0 {
				continue
			}
			c := centroids[j*dim : (j+1)*dim]
			s := sums[j*dim : (j+1)*dim]
			inv := 1 / float64(counts[j])
			for d := range c {
				c[d] = float32(s[d] * inv)
			}
		}
		fixEmpty(data, dim, idx, centroids, labels, counts, rng)
		// λ for the next iteration, from this iteration's mean distance.
		meanDist := cost / float64(n)
		penalty = p.lambda * meanDist / (float64(n) / float64(k))
		if it > 0 && changed*1000 < n {
			break
		}
	}
	return centroids, labels
}

// assign labels every point with its cheapest cluster and returns how many
// labels changed and the summed (unpenalised) squared distance.
func assign(data []float32, dim int, idx []int32, centroids []float32, k int, pen []float64, labels []int32, workers int, first bool) (changed int, cost float64) {
	run := func(lo, hi int) (int, float64) {
		dists := make([]float32, k)
		ch := 0
		var c float64
		for i := lo; i < hi; i++ {
			vec.L2SquaredF32Batch(row(data, dim, idx[i]), centroids, dists)
			best, bestCost := 0, math.Inf(1)
			for j, d := range dists {
				if v := float64(d) + pen[j]; v < bestCost {
					best, bestCost = j, v
				}
			}
			if first || labels[i] != int32(best) {
				ch++
			}
			labels[i] = int32(best)
			c += float64(dists[best])
		}
		return ch, c
	}
	n := len(idx)
	if workers <= 1 || n < parallelMin {
		return run(0, n)
	}
	// A fixed number of chunks, summed in order, keeps the result the same
	// whatever the number of workers.
	const chunks = 16
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	chs := make([]int, chunks)
	costs := make([]float64, chunks)
	for w := 0; w < chunks; w++ {
		lo, hi := n*w/chunks, n*(w+1)/chunks
		wg.Add(1)
		sem <- struct{}{}
		go func(w int) {
			defer wg.Done()
			chs[w], costs[w] = run(lo, hi)
			<-sem
		}(w)
	}
	wg.Wait()
	for w := range chs {
		changed += chs[w]
		cost += costs[w]
	}
	return changed, cost
}

// seedPlusPlus picks k initial centroids by k-means++ (Arthur & Vassilvitskii
// 2007) over a sample of at most 64·k points.
func seedPlusPlus(data []float32, dim int, idx []int32, k int, rng *rand.Rand, centroids []float32) {
	sample := idx
	if limit := 64 * k; len(sample) > limit {
		sample = make([]int32, limit)
		perm := rng.Perm(len(idx))
		for i := range sample {
			sample[i] = idx[perm[i]]
		}
	}
	minD := make([]float64, len(sample))
	for i := range minD {
		minD[i] = math.Inf(1)
	}
	first := sample[rng.IntN(len(sample))]
	copy(centroids[:dim], row(data, dim, first))
	for j := 1; j < k; j++ {
		prev := centroids[(j-1)*dim : j*dim]
		var total float64
		for i, id := range sample {
			d := float64(vec.L2SquaredF32(row(data, dim, id), prev))
			if d < minD[i] {
				minD[i] = d
			}
			total += minD[i]
		}
		pick := sample[rng.IntN(len(sample))]
		if total > 0 {
			r := rng.Float64() * total
			for i, d := range minD {
				r -= d
				if r <= 0 {
					pick = sample[i]
					break
				}
			}
		}
		copy(centroids[j*dim:(j+1)*dim], row(data, dim, pick))
	}
}

// fixEmpty re-seeds empty clusters with a random member of the largest
// cluster and moves that member over, so every cluster ends non-empty
// whenever there are at least k points.
func fixEmpty(data []float32, dim int, idx []int32, centroids []float32, labels []int32, counts []int, rng *rand.Rand) {
	for j := range counts {
		if counts[j] != 0 {
			continue
		}
		big := 0
		for l := range counts {
			if counts[l] > counts[big] {
				big = l
			}
		}
		if counts[big] < 2 {
			return
		}
		// Pick the r-th member of the largest cluster.
		r := rng.IntN(counts[big])
		for i, l := range labels {
			if int(l) != big {
				continue
			}
			if r == 0 {
				labels[i] = int32(j)
				copy(centroids[j*dim:(j+1)*dim], row(data, dim, idx[i]))
				counts[j]++
				counts[big]--
				break
			}
			r--
		}
	}
}

// mean writes the mean of rows idx into out.
func mean(data []float32, dim int, idx []int32, out []float32) {
	s := make([]float64, dim)
	for _, id := range idx {
		for d, v := range row(data, dim, id) {
			s[d] += float64(v)
		}
	}
	inv := 1 / float64(max(len(idx), 1))
	for d := range out {
		out[d] = float32(s[d] * inv)
	}
}

func row(data []float32, dim int, i int32) []float32 {
	return data[int(i)*dim : (int(i)+1)*dim]
}

// TwoMeans splits the n = len(data)/dim points of data (row-major) into
// two clusters and returns their centroids and each point's label (0 or
// 1), for splitting an over-full posting (SPFresh: balanced 2-means).
// It is the balanced k-means of Build with k = 2 (SPANN §3.1 balance
// penalty, Options' default λ and iterations), deterministic for seed.
// Points equidistant from both centroids (duplicates, in the extreme all
// points equal) are shared out to balance the two sizes. Both clusters are
// non-empty when n >= 2; for n < 2 every point is labelled 0 and both
// centroids are the mean (zero for n = 0). Each centroid is the mean of its
// members. dim <= 0 or a partial last row panics.
func TwoMeans(data []float32, dim int, seed uint64) (c1, c2 []float32, labels []uint8) {
	if dim <= 0 || len(data)%dim != 0 {
		panic(fmt.Sprintf("cluster: TwoMeans of %d floats in %d-dim rows", len(data), dim))
	}
	n := len(data) / dim
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	labels = make([]uint8, n)
	if n < 2 {
		c1 = make([]float32, dim)
		mean(data, dim, idx, c1)
		return c1, slices.Clone(c1), labels
	}
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	cents, l32 := balancedKMeans(data, dim, idx, 2, kmeansParams{iters: twoMeansIters, lambda: twoMeansLambda, workers: 1}, rng)
	var count [2]int
	var ties []int
	for i, l := range l32 {
		x := row(data, dim, int32(i))
		if vec.L2SquaredF32(x, cents[:dim]) == vec.L2SquaredF32(x, cents[dim:]) {
			ties = append(ties, i)
			continue
		}
		labels[i] = uint8(l)
		count[l]++
	}
	for _, i := range ties {
		l := uint8(0)
		if count[1] < count[0] {
			l = 1
		}
		labels[i] = l
		count[l]++
	}
	if count[0] == 0 || count[1] == 0 {
		// Only when nothing tied and k-means left a cluster empty, which
		// fixEmpty rules out; kept so the contract never depends on it.
		big := uint8(0)
		if count[1] > 0 {
			big = 1
		}
		labels[n-1] = 1 - big
		count[big]--
		count[1-big]++
	}
	var members [2][]int32
	for i, l := range labels {
		members[l] = append(members[l], int32(i))
	}
	c1, c2 = make([]float32, dim), make([]float32, dim)
	mean(data, dim, members[0], c1)
	mean(data, dim, members[1], c2)
	return c1, c2, labels
}

// TwoMeans' knobs: Options' defaults.
const (
	twoMeansIters  = 12
	twoMeansLambda = 0.1
)
