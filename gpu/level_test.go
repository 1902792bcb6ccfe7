//go:build linux && cgo

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The level-resident k-means (cuda_level.go, the lv_* kernels) against a
// Go reference of the same algorithm with the same random draws
// (lv_rand): the seeds must be the same rows, and after the iterations
// the labels the same up to float near-ties and the k-means cost equal
// to within rounding.

func lvMix(z uint64) uint64 {
	z += 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func lvRand(seed, tag, i uint64) uint64 { return lvMix(seed ^ lvMix(tag<<56^i)) }
func lvBelow(r uint64, n int) int       { return int(((r >> 32) * uint64(n)) >> 32) }
func lvUnit(r uint64) float64           { return float64(r>>11) * (1.0 / 9007199254740992.0) }

func dist2(a, b []float32) float32 {
	var s float32
	for i := range a {
		e := a[i] - b[i]
		s += e * e
	}
	return s
}

// refLevelSeed is lv_seed for one segment.
func refLevelSeed(data []float32, dim int, idx []int32, k int, seed uint64, cents []float32) {
	n := len(idx)
	S := min(n, 64*k)
	rows := make([]int32, S)
	md := make([]float64, S)
	for i := range rows {
		p := i
		if S != n {
			p = lvBelow(lvRand(seed, 1, uint64(i)), n)
		}
		rows[i] = idx[p]
		md[i] = math.Inf(1)
	}
	r := func(i int32) []float32 { return data[int(i)*dim : (int(i)+1)*dim] }
	copy(cents[:dim], r(rows[lvBelow(lvRand(seed, 2, 0), S)]))
	for j := 1; j < k; j++ {
		prev := cents[(j-1)*dim : j*dim]
		var total float64
		for i, id := range rows {
			md[i] = min(md[i], float64(dist2(r(id), prev)))
			total += md[i]
		}
		pick := -1
		if total > 0 {
			x := lvUnit(lvRand(seed, 3, uint64(j))) * total
			var acc float64
			for i, d := range md {
				acc += d
				if acc >= x {
					pick = i
					break
				}
			}
		}
		if pick < 0 {
			pick = lvBelow(lvRand(seed, 4, uint64(j)), S)
		}
		copy(cents[j*dim:(j+1)*dim], r(rows[pick]))
	}
}

// refLevelRun is the iterations of one segment (lv_assign .. lv_finish);
// it returns how many ran.
func refLevelRun(data []float32, dim int, idx []int32, k int, seed uint64, iters int, lambda float64, cents []float32, labels []int32) int {
	n := len(idx)
	r := func(i int32) []float32 { return data[int(i)*dim : (int(i)+1)*dim] }
	counts := make([]int, k)
	sums := make([]float64, k*dim)
	var pen float64
	for it := 0; ; {
		changed, cost := 0, 0.0
		for i, id := range idx {
			best, bestV, bestD := 0, math.Inf(1), float32(0)
			for j := 0; j < k; j++ {
				d := dist2(r(id), cents[j*dim:(j+1)*dim])
				if v := float64(d) + float64(counts[j])*pen; v < bestV {
					best, bestV, bestD = j, v, d
				}
			}
			if it == 0 || labels[i] != int32(best) {
				changed++
			}
			labels[i] = int32(best)
			cost += float64(bestD)
		}
		clear(counts)
		clear(sums)
		for i, id := range idx {
			l := int(labels[i])
			counts[l]++
			for d, v := range r(id) {
				sums[l*dim+d] += float64(v)
			}
		}
		for j := 0; j < k; j++ {
			if counts[j] > 0 {
				for d := 0; d < dim; d++ {
					cents[j*dim+d] = float32(sums[j*dim+d] * (1 / float64(counts[j])))
				}
			}
		}
		for j := 0; j < k; j++ {
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
				break
			}
			x := lvBelow(lvRand(seed, 5, uint64(it)<<32|uint64(j)), counts[big])
			for i, l := range labels {
				if int(l) != big {
					continue
				}
				if x == 0 {
					labels[i] = int32(j)
					copy(cents[j*dim:(j+1)*dim], r(idx[i]))
					counts[j]++
					counts[big]--
					break
				}
				x--
			}
		}
		pen = lambda * (cost / float64(n)) / (float64(n) / float64(k))
		it++
		if (it > 1 && changed*1000 < n) || it >= iters {
			return it
		}
	}
}

// levelCase is a level of segments of the given sizes and cluster counts
// over blob data; dup makes a segment of one repeated point (k-means++
// finds no spread, every cluster but one starts empty).
type levelCase struct {
	dim   int
	sizes []int
	ks    []int
	dup   int // index of the duplicated segment, -1 for none
}

func TestCUDALevelMatchesReference(t *testing.T) {
	b := openTestCUDA(t)
	cases := []levelCase{
		{dim: 128, sizes: []int{5000, 33, 3, 977, 2500, 64}, ks: []int{32, 32, 2, 31, 4, 29}, dup: -1},
		{dim: 100, sizes: []int{1025, 40, 300, 50}, ks: []int{8, 32, 7, 3}, dup: 3},
		{dim: 200, sizes: []int{3000, 17}, ks: []int{16, 5}, dup: -1},
		{dim: 3, sizes: []int{4000, 100}, ks: []int{32, 9}, dup: -1},
	}
	for ci, c := range cases {
		t.Run(fmt.Sprintf("dim%d", c.dim), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci), 9))
			total := 0
			for _, s := range c.sizes {
				total += s
			}
			rows := total + 100
			data := make([]float32, rows*c.dim)
			for i := 0; i < rows; i++ {
				centre := float64(rng.IntN(20)) * 3
				for d := 0; d < c.dim; d++ {
					data[i*c.dim+d] = float32(centre + rng.NormFloat64())
				}
			}
			perm := rng.Perm(rows)
			idx := make([]int32, 0, total)
			pseg, cseg := []int32{0}, []int32{0}
			var seeds []uint64
			for s, size := range c.sizes {
				for i := 0; i < size; i++ {
					r := int32(perm[len(idx)])
					if s == c.dup {
						r = int32(perm[pseg[s]])
					}
					idx = append(idx, r)
				}
				pseg = append(pseg, int32(len(idx)))
				cseg = append(cseg, cseg[s]+int32(c.ks[s]))
				seeds = append(seeds, rng.Uint64())
			}
			nc := int(cseg[len(c.sizes)])
			const iters, lambda = 12, 0.1
			pts, err := b.LoadPoints(data, c.dim)
			if err != nil {
				t.Fatal(err)
			}
			defer pts.Close()
			lp := pts.(LevelPoints)
			if !lp.LevelsOK(32) {
				t.Fatal("LevelsOK(32) is false")
			}
			if err := lp.StartLevel(idx, pseg, cseg, seeds, iters, lambda); err != nil {
				t.Fatal(err)
			}
			labels := make([]int32, len(idx))
			seeded := make([]float32, nc*c.dim)
			if err := lp.Result(labels, seeded); err != nil {
				t.Fatal(err)
			}
			steps := 0
			for {
				active, err := lp.Step()
				if err != nil {
					t.Fatal(err)
				}
				steps++
				if active == 0 {
					break
				}
				if steps > iters {
					t.Fatalf("%d segments still active after %d steps", active, steps)
				}
			}
			cents := make([]float32, nc*c.dim)
			if err := lp.Result(labels, cents); err != nil {
				t.Fatal(err)
			}
			wantSteps, sameLabels, seedDiff := 0, 0, 0
			var costGPU, costRef float64
			for s := range c.sizes {
				p0, p1, c0, k := int(pseg[s]), int(pseg[s+1]), int(cseg[s]), c.ks[s]
				dim := c.dim
				refC := make([]float32, k*dim)
				refLevelSeed(data, dim, idx[p0:p1], k, seeds[s], refC)
				if !equalF32(refC, seeded[c0*dim:(c0+k)*dim]) {
					seedDiff++
					t.Logf("segment %d (%d points, k %d): seeds differ from the reference", s, p1-p0, k)
				}
				refL := make([]int32, p1-p0)
				wantSteps = max(wantSteps, refLevelRun(data, dim, idx[p0:p1], k, seeds[s], iters, lambda, refC, refL))
				counts := make([]int, k)
				for i, l := range labels[p0:p1] {
					if l < 0 || int(l) >= k {
						t.Fatalf("segment %d position %d: label %d of %d clusters", s, i, l, k)
					}
					counts[l]++
					if l == refL[i] {
						sameLabels++
					}
					x := data[int(idx[p0+i])*dim : (int(idx[p0+i])+1)*dim]
					costGPU += float64(dist2(x, cents[(c0+int(l))*dim:(c0+int(l)+1)*dim]))
					costRef += float64(dist2(x, refC[int(refL[i])*dim:(int(refL[i])+1)*dim]))
				}
				for j, n := range counts {
					if n == 0 {
						t.Errorf("segment %d (%d points, k %d): cluster %d empty after the repair", s, p1-p0, k, j)
					}
				}
			}
			t.Logf("%d segments, %d positions: %d steps (reference %d), %d labels as the reference's, cost %.6g (reference %.6g)",
				len(c.sizes), len(idx), steps, wantSteps, sameLabels, costGPU, costRef)
			if seedDiff > 0 {
				t.Errorf("%d segments seeded differently from the reference", seedDiff)
			}
			if sameLabels*1000 < len(idx)*995 {
				t.Errorf("%d of %d labels as the reference's, want >= 99.5%%", sameLabels, len(idx))
			}
			if math.Abs(costGPU-costRef) > 1e-3*costRef {
				t.Errorf("k-means cost %.8g, reference %.8g: want equal to 0.1%%", costGPU, costRef)
			}
			if steps != wantSteps {
				t.Errorf("%d steps, the reference's segments ran up to %d iterations", steps, wantSteps)
			}
		})
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCUDALevelSpeed times a level like the 10M build's third (1,024
// nodes of ~977 points, k 31) and its root (one node of 1M points, k 32).
func TestCUDALevelSpeed(t *testing.T) {
	b := openTestCUDA(t)
	const n, dim = 1 << 20, 128
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = rng.Float32()
	}
	pts, err := b.LoadPoints(data, dim)
	if err != nil {
		t.Fatal(err)
	}
	defer pts.Close()
	lp := pts.(LevelPoints)
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	for _, nseg := range []int{1, 32, 1024, 32768} {
		k := 32
		if nseg == 1024 {
			k = 31
		}
		pseg, cseg := make([]int32, nseg+1), make([]int32, nseg+1)
		seeds := make([]uint64, nseg)
		for s := 1; s <= nseg; s++ {
			pseg[s] = int32(n * s / nseg)
			cseg[s] = int32(s * k)
			seeds[s-1] = uint64(s)
		}
		if nseg == 32768 {
			k = 31 // 32 points per node: k 31
			for s := 1; s <= nseg; s++ {
				cseg[s] = int32(s * k)
			}
		}
		t0 := time.Now()
		if err := lp.StartLevel(idx, pseg, cseg, seeds, 12, 0.1); err != nil {
			t.Fatal(err)
		}
		seed := time.Since(t0)
		steps := 0
		for {
			active, err := lp.Step()
			if err != nil {
				t.Fatal(err)
			}
			steps++
			if active == 0 {
				break
			}
		}
		it := time.Since(t0) - seed
		labels := make([]int32, n)
		cents := make([]float32, int(cseg[nseg])*dim)
		t1 := time.Now()
		if err := lp.Result(labels, cents); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d segments × k %d over %d points: start+seed %v, %d steps %v (%v each), result %v",
			nseg, k, n, seed, steps, it, it/time.Duration(steps), time.Since(t1))
	}
}
