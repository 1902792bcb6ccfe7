//go:build linux && cgo

package gpu

/*
#include "cuda_driver.h"
*/
import "C"

import "fmt"

// cudaPoints is the CUDA backend's Points: the rows live on the device
// (padded stride ld); each call uploads only its small per-call arrays
// (positions, segment bounds, centroids) and downloads labels or sums.
type cudaPoints struct {
	b      *cudaBackend
	n, dim int
	ld     int
	data   devBuf
}

var _ Points = (*cudaPoints)(nil)

func (b *cudaBackend) LoadPoints(data []float32, dim int) (Points, error) {
	n, err := checkShape("data", data, dim)
	if err != nil {
		return nil, err
	}
	leave, err := b.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	p := &cudaPoints{b: b, n: n, dim: dim, ld: ldFor(dim)}
	if p.data, err = b.pool.get(int64(max(n, 1)) * int64(p.ld) * 4); err != nil {
		return nil, fmt.Errorf("gpu: %d points of dim %d: %w", n, dim, err)
	}
	s := b.takeSlots(1)[0]
	defer b.giveSlots([]*slot{s})
	if err := s.uploadRows(p.data.ptr, data, dim, p.ld); err != nil {
		b.pool.put(p.data)
		return nil, err
	}
	if err := s.sync(); err != nil {
		b.pool.put(p.data)
		return nil, err
	}
	return p, nil
}

func (p *cudaPoints) Len() int { return p.n }
func (p *cudaPoints) Dim() int { return p.dim }

func (p *cudaPoints) Close() error {
	if p.data.ptr == 0 {
		return nil
	}
	leave, err := p.b.enter()
	if err != nil {
		return err
	}
	defer leave()
	p.b.pool.put(p.data)
	p.data = devBuf{}
	return nil
}

// arena lays several arrays out in one pinned buffer and one device
// buffer, 256-byte aligned, so that a call needs one copy each way.
type arena struct {
	offs []int
	size int
}

func (a *arena) add(bytes int) int {
	off := (a.size + 255) &^ 255
	a.offs = append(a.offs, off)
	a.size = off + bytes
	return len(a.offs) - 1
}

func (p *cudaPoints) Assign(idx, pseg []int32, centroids []float32, cseg []int32, penalty []float64, labels []int32, dists []float32) error {
	if p.data.ptr == 0 {
		return ErrClosed
	}
	tr := newTracer("Assign %d points, %d segments", len(idx), len(pseg)-1)
	defer tr.done()
	s, err := checkSegments(p.n, idx, pseg, cseg)
	if err != nil {
		return err
	}
	if err := checkAssign(s, p.dim, centroids, penalty, labels, dists); err != nil {
		return err
	}
	if s.n == 0 {
		return nil
	}
	tr.mark("validate")
	b := p.b
	leave, err := b.enter()
	if err != nil {
		return err
	}
	defer leave()
	sl := b.takeSlots(1)[0]
	defer b.giveSlots([]*slot{sl})

	var in arena
	aIdx := in.add(4 * s.n)
	aPseg := in.add(4 * len(pseg))
	aCseg := in.add(4 * len(cseg))
	aCent := in.add(4 * s.cents * p.ld)
	aPen := -1
	if penalty != nil {
		aPen = in.add(8 * len(penalty))
	}
	var out arena
	aLab := out.add(4 * s.n)
	aDist := out.add(4 * s.n)

	host, err := sl.host(0, in.size)
	if err != nil {
		return err
	}
	copy(i32s(host[in.offs[aIdx]:]), idx)
	copy(i32s(host[in.offs[aPseg]:]), pseg)
	copy(i32s(host[in.offs[aCseg]:]), cseg)
	if s.cents > 0 {
		packRows(f32s(host[in.offs[aCent]:]), centroids, p.dim, p.ld)
	}
	if aPen >= 0 {
		copy(f64s(host[in.offs[aPen]:]), penalty)
	}
	tr.mark("pack")
	din, err := b.pool.get(int64(in.size))
	if err != nil {
		return err
	}
	defer b.pool.put(din)
	dout, err := b.pool.get(int64(out.size))
	if err != nil {
		return err
	}
	defer b.pool.put(dout)
	if err := sl.htod(din.ptr, host[:in.size]); err != nil {
		return err
	}
	pen := C.CUdeviceptr(0)
	if aPen >= 0 {
		pen = din.at(int64(in.offs[aPen]))
	}
	var a kargs
	a.ptr(p.data.ptr).i32(p.ld).ptr(din.at(int64(in.offs[aIdx]))).i32(s.n).
		ptr(din.at(int64(in.offs[aPseg]))).i32(s.nseg).ptr(din.at(int64(in.offs[aCent]))).
		ptr(din.at(int64(in.offs[aCseg]))).ptr(pen).
		ptr(dout.at(int64(out.offs[aLab]))).ptr(dout.at(int64(out.offs[aDist])))
	if err := sl.launch("kmeans_assign", b.fn.kmeansAssign, (s.n*32+255)/256, 1, 256, 0, &a); err != nil {
		return err
	}
	res, err := sl.host(2, out.size)
	if err != nil {
		return err
	}
	if err := sl.dtoh(res, dout.ptr); err != nil {
		return err
	}
	if err := sl.sync(); err != nil {
		return err
	}
	tr.mark("device")
	copy(labels, i32s(res[out.offs[aLab]:])[:s.n])
	copy(dists, f32s(res[out.offs[aDist]:])[:s.n])
	tr.mark("unpack")
	return nil
}

func (p *cudaPoints) Sums(idx, pseg, labels, cseg []int32, sums []float64, counts []int) error {
	if p.data.ptr == 0 {
		return ErrClosed
	}
	tr := newTracer("Sums %d points, %d segments", len(idx), len(pseg)-1)
	defer tr.done()
	s, err := checkSegments(p.n, idx, pseg, cseg)
	if err != nil {
		return err
	}
	if err := checkSums(s, p.dim, labels, cseg, sums, counts); err != nil {
		return err
	}
	clear(counts)
	if s.cents == 0 {
		return nil
	}
	// A stable counting sort of the positions by centroid slot: each
	// cluster's members become a contiguous run, in position order.
	for g := 0; g < s.nseg; g++ {
		c0, k := cseg[g], cseg[g+1]-cseg[g]
		for _, l := range labels[pseg[g]:pseg[g+1]] {
			if l < 0 || l >= k {
				return checkLabels(s, pseg, cseg, labels)
			}
			counts[c0+l]++
		}
	}
	tr.mark("validate+count")
	b := p.b
	leave, err := b.enter()
	if err != nil {
		return err
	}
	defer leave()
	sl := b.takeSlots(1)[0]
	defer b.giveSlots([]*slot{sl})

	var in arena
	aRows := in.add(4 * max(s.n, 1))
	aOff := in.add(4 * (s.cents + 1))
	host, err := sl.host(0, in.size)
	if err != nil {
		return err
	}
	off := i32s(host[in.offs[aOff]:])[:s.cents+1]
	off[0] = 0
	for c, k := range counts {
		off[c+1] = off[c] + int32(k)
	}
	rows := i32s(host[in.offs[aRows]:])[:max(s.n, 1)]
	pos := make([]int32, s.cents)
	copy(pos, off[:s.cents])
	for g := 0; g < s.nseg; g++ {
		for i := pseg[g]; i < pseg[g+1]; i++ {
			c := int(cseg[g]) + int(labels[i])
			rows[pos[c]] = idx[i]
			pos[c]++
		}
	}
	tr.mark("sort")
	din, err := b.pool.get(int64(in.size))
	if err != nil {
		return err
	}
	defer b.pool.put(din)
	outBytes := 8 * s.cents * p.dim
	dout, err := b.pool.get(int64(outBytes))
	if err != nil {
		return err
	}
	defer b.pool.put(dout)
	if err := sl.htod(din.ptr, host[:in.size]); err != nil {
		return err
	}
	var a kargs
	a.ptr(p.data.ptr).i32(p.ld).i32(p.dim).ptr(din.at(int64(in.offs[aRows]))).
		ptr(din.at(int64(in.offs[aOff]))).ptr(dout.ptr)
	if err := sl.launch("kmeans_sums", b.fn.kmeansSums, s.cents, (p.dim+31)/32, 32, 0, &a); err != nil {
		return err
	}
	res, err := sl.host(2, outBytes)
	if err != nil {
		return err
	}
	if err := sl.dtoh(res, dout.ptr); err != nil {
		return err
	}
	if err := sl.sync(); err != nil {
		return err
	}
	tr.mark("device")
	copy(sums, f64s(res))
	tr.mark("unpack")
	return nil
}
