//go:build linux && cgo

package gpu

/*
#include "cuda_driver.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// hostGrain is the least work (elements) a host goroutine gets when
// packing and unpacking k-means calls: below it one goroutine does all.
const hostGrain = 1 << 16

// wideMembers is the mean cluster size from which Sums gathers each
// cluster's rows with 8 warps (kmeans_sums_wide) instead of one.
const wideMembers = 512

// pcopy is copy(dst, src) on all cores, for the megabytes a level-wide
// k-means call moves between Go slices and pinned buffers.
func pcopy[T any](dst, src []T) {
	n := min(len(dst), len(src))
	parallel(n, hostGrain, runtime.GOMAXPROCS(0), func(lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
}

// cudaPoints is the CUDA backend's Points: the rows live on the device
// (padded stride ld); each call uploads only its small per-call arrays
// (positions, segment bounds, centroids) and downloads labels or sums.
type cudaPoints struct {
	b      *cudaBackend
	n, dim int
	ld     int
	data   devBuf
	// pin are the Points' own pinned staging buffers (0 up, 1 down),
	// not a stream slot's: a build's level-wide calls rotate through the
	// slots, and each slot growing its buffers to a deep level's 60–120
	// MB cost a cuMemHostAlloc of tens of milliseconds in every call.
	pin [2]pinned
	// level is the level-resident k-means state (cuda_level.go), nil
	// before the first StartLevel.
	level *cudaLevel
}

var _ LevelPoints = (*cudaPoints)(nil)

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
	p.freeLevel()
	p.b.pool.put(p.data)
	p.data = devBuf{}
	for i := range p.pin {
		if p.pin[i].p != nil {
			C.sc_mem_free_host(p.pin[i].p)
			p.pin[i] = pinned{}
		}
	}
	return nil
}

// host returns pinned buffer i of at least n bytes; the caller holds the
// context (b.enter) and syncs its stream before the next call.
func (p *cudaPoints) host(i, n int) ([]byte, error) {
	pb := &p.pin[i]
	if pb.size < n {
		if pb.p != nil {
			C.sc_mem_free_host(pb.p)
			*pb = pinned{}
		}
		size := pow2(max(n, 1<<20))
		var ptr unsafe.Pointer
		if r := C.sc_mem_host_alloc(&ptr, C.size_t(size)); r != 0 {
			return nil, cuErr(r, fmt.Sprintf("cuMemHostAlloc %d MiB", size>>20))
		}
		pb.p, pb.size = ptr, size
	}
	return unsafe.Slice((*byte)(pb.p), n), nil
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
	sl, leave, err := b.enterSlot()
	if err != nil {
		return err
	}
	defer leave()

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

	host, err := p.host(0, in.size)
	if err != nil {
		return err
	}
	pcopy(i32s(host[in.offs[aIdx]:]), idx)
	copy(i32s(host[in.offs[aPseg]:]), pseg)
	copy(i32s(host[in.offs[aCseg]:]), cseg)
	if s.cents > 0 {
		dst := f32s(host[in.offs[aCent]:])
		parallel(s.cents, max(1, hostGrain/p.ld), runtime.GOMAXPROCS(0), func(lo, hi int) {
			packRows(dst[lo*p.ld:hi*p.ld], centroids[lo*p.dim:hi*p.dim], p.dim, p.ld)
		})
	}
	if aPen >= 0 {
		pcopy(f64s(host[in.offs[aPen]:]), penalty)
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
	res, err := p.host(1, out.size)
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
	pcopy(labels, i32s(res[out.offs[aLab]:])[:s.n])
	pcopy(dists, f32s(res[out.offs[aDist]:])[:s.n])
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
	// Segments own disjoint count slots, so they count (and later place)
	// in parallel; within a segment the order is position order.
	workers := runtime.GOMAXPROCS(0)
	var bad atomic.Bool
	parallel(s.nseg, 1, workers, func(lo, hi int) {
		for g := lo; g < hi; g++ {
			c0, k := cseg[g], cseg[g+1]-cseg[g]
			for _, l := range labels[pseg[g]:pseg[g+1]] {
				if l < 0 || l >= k {
					bad.Store(true)
					return
				}
				counts[c0+l]++
			}
		}
	})
	if bad.Load() {
		clear(counts)
		return checkLabels(s, pseg, cseg, labels)
	}
	tr.mark("validate+count")
	b := p.b
	sl, leave, err := b.enterSlot()
	if err != nil {
		return err
	}
	defer leave()

	var in arena
	aRows := in.add(4 * max(s.n, 1))
	aOff := in.add(4 * (s.cents + 1))
	host, err := p.host(0, in.size)
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
	parallel(s.nseg, 1, workers, func(lo, hi int) {
		for g := lo; g < hi; g++ {
			for i := pseg[g]; i < pseg[g+1]; i++ {
				c := int(cseg[g]) + int(labels[i])
				rows[pos[c]] = idx[i]
				pos[c]++
			}
		}
	})
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
	if s.n >= wideMembers*s.cents {
		err = sl.launch("kmeans_sums_wide", b.fn.kmeansSumsWide, s.cents, (p.dim+31)/32, 256, 0, &a)
	} else {
		err = sl.launch("kmeans_sums", b.fn.kmeansSums, s.cents, (p.dim+31)/32, 32, 0, &a)
	}
	if err != nil {
		return err
	}
	res, err := p.host(1, outBytes)
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
	pcopy(sums, f64s(res)[:s.cents*p.dim])
	tr.mark("unpack")
	return nil
}
