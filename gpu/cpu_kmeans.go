package gpu

import (
	"math"

	"github.com/shoaldb/shoal/internal/vec"
)

// cpuPoints is the CPU backend's Points: it keeps a copy of the data.
type cpuPoints struct {
	data    []float32
	dim     int
	workers int
}

var _ Points = (*cpuPoints)(nil)

func (c *cpuBackend) LoadPoints(data []float32, dim int) (Points, error) {
	if _, err := checkShape("data", data, dim); err != nil {
		return nil, err
	}
	return &cpuPoints{data: append([]float32(nil), data...), dim: dim, workers: c.workers}, nil
}

func (p *cpuPoints) Len() int { return len(p.data) / max(p.dim, 1) }
func (p *cpuPoints) Dim() int { return p.dim }

func (p *cpuPoints) Close() error {
	p.data = nil
	return nil
}

func (p *cpuPoints) row(r int32) []float32 { return p.data[int(r)*p.dim : (int(r)+1)*p.dim] }

// Assign is package cluster's assignment loop, segment by segment: the
// same kernel and the same float64 comparisons, so the labels are those
// the CPU build computes.
func (p *cpuPoints) Assign(idx, pseg []int32, centroids []float32, cseg []int32, penalty []float64, labels []int32, dists []float32) error {
	if p.data == nil {
		return ErrClosed
	}
	s, err := checkSegments(p.Len(), idx, pseg, cseg)
	if err != nil {
		return err
	}
	if err := checkAssign(s, p.dim, centroids, penalty, labels, dists); err != nil {
		return err
	}
	dim := p.dim
	parallel(s.nseg, 1, p.workers, func(lo, hi int) {
		var buf []float32
		for g := lo; g < hi; g++ {
			c0, c1 := int(cseg[g]), int(cseg[g+1])
			if cap(buf) < c1-c0 {
				buf = make([]float32, c1-c0)
			}
			d := buf[:c1-c0]
			cents := centroids[c0*dim : c1*dim]
			for i := pseg[g]; i < pseg[g+1]; i++ {
				vec.L2SquaredF32Batch(p.row(idx[i]), cents, d)
				best, bestCost := 0, math.Inf(1)
				for j, v := range d {
					c := float64(v)
					if penalty != nil {
						c += penalty[c0+j]
					}
					if c < bestCost {
						best, bestCost = j, c
					}
				}
				labels[i] = int32(best)
				dists[i] = d[best]
			}
		}
	})
	return nil
}

// Sums adds rows in position order within each segment, as package
// cluster's update step does.
func (p *cpuPoints) Sums(idx, pseg, labels, cseg []int32, sums []float64, counts []int) error {
	if p.data == nil {
		return ErrClosed
	}
	s, err := checkSegments(p.Len(), idx, pseg, cseg)
	if err != nil {
		return err
	}
	if err := checkSums(s, p.dim, labels, cseg, sums, counts); err != nil {
		return err
	}
	if err := checkLabels(s, pseg, cseg, labels); err != nil {
		return err
	}
	dim := p.dim
	parallel(s.nseg, 1, p.workers, func(lo, hi int) {
		for g := lo; g < hi; g++ {
			c0, c1 := int(cseg[g]), int(cseg[g+1])
			clear(counts[c0:c1])
			clear(sums[c0*dim : c1*dim])
			for i := pseg[g]; i < pseg[g+1]; i++ {
				c := c0 + int(labels[i])
				counts[c]++
				acc := sums[c*dim : (c+1)*dim]
				for d, v := range p.row(idx[i]) {
					acc[d] += float64(v)
				}
			}
		}
	})
	return nil
}
