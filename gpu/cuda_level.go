//go:build linux && cgo

package gpu

/*
#include "cuda_driver.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"
)

// levelChunk is the most positions lv_update sums in one warp: a
// segment of more is split into chunks of this size whose partial sums
// lv_reduce adds in chunk order.
const levelChunk = 1024

// levelsOff (SHOAL_GPU_LEVELS=0) turns the level-resident k-means off, so
// that a build uses Assign and Sums per iteration (for comparisons).
var levelsOff = os.Getenv("SHOAL_GPU_LEVELS") == "0"

// cudaLevel is the device state of the level a cudaPoints runs: one
// device buffer laid out as an arena (offsets in off), the inputs first
// so that StartLevel uploads them with one copy.
type cudaLevel struct {
	n, nseg, nc, kmax int
	nchunk, nmulti    int
	nslot             int
	dp                int // partial-sum row: the dimensions rounded up to 32
	iters             int
	lambda            float64
	buf               devBuf
	off               [lvArrays]int64
}

// The arrays of a level's arena.
const (
	// uploaded by StartLevel
	lvIdx = iota
	lvPseg
	lvCseg
	lvSeeds
	lvChunks
	lvMulti
	lvSoff
	lvUploaded // end of the uploaded part
	// device state
	lvSeg = iota - 1
	lvLabels
	lvDists
	lvChg
	lvC
	lvCounts
	lvPen
	lvIt
	lvActive
	lvCost
	lvNchg
	lvSrow
	lvMinD
	lvPsum
	lvPcnt
	lvPcost
	lvPchg
	lvNActive
	lvArrays
)

func (a *kargs) f64(v float64) *kargs { return a.put(8, unsafe.Pointer(&v)) }

// LevelsOK reports whether levels with up to maxK clusters per segment
// fit lv_update's shared memory.
func (p *cudaPoints) LevelsOK(maxK int) bool {
	return !levelsOff && p.data.ptr != 0 && levelSmem(maxK) <= p.b.smemOK
}

func levelSmem(kmax int) int { return kmax*32*8 + kmax*4 }

// dev returns the device address of array a of the level.
func (l *cudaLevel) dev(a int) C.CUdeviceptr { return l.buf.at(l.off[a]) }

// StartLevel lays the level out on the device and seeds every segment
// (lv_seed). See cluster.LevelAccelerator.
func (p *cudaPoints) StartLevel(idx, pseg, cseg []int32, seeds []uint64, iters int, lambda float64) error {
	if p.data.ptr == 0 {
		return ErrClosed
	}
	tr := newTracer("StartLevel %d points, %d segments", len(idx), len(pseg)-1)
	defer tr.done()
	s, err := checkSegments(p.n, idx, pseg, cseg)
	if err != nil {
		return err
	}
	if len(seeds) != s.nseg {
		return fmt.Errorf("%w: %d seeds for %d segments", ErrBadInput, len(seeds), s.nseg)
	}
	if iters < 1 {
		return fmt.Errorf("%w: %d iterations", ErrBadInput, iters)
	}
	l := &cudaLevel{n: s.n, nseg: s.nseg, nc: s.cents, iters: iters, lambda: lambda, dp: (p.dim + 31) &^ 31}
	// Chunks, partial slots and seeding samples.
	var chunks, multi []int32
	soff := make([]int64, s.nseg)
	var samples int64
	for g := 0; g < s.nseg; g++ {
		n, k := int(pseg[g+1]-pseg[g]), int(cseg[g+1]-cseg[g])
		if k < 2 || n <= k {
			return fmt.Errorf("%w: segment %d has %d points for %d clusters (want 2 <= k < n)", ErrBadInput, g, n, k)
		}
		l.kmax = max(l.kmax, k)
		soff[g] = samples
		samples += int64(min(n, 64*k))
		if n <= levelChunk {
			chunks = append(chunks, int32(g), pseg[g], pseg[g+1], -1)
			continue
		}
		q0 := l.nslot
		for p0 := int(pseg[g]); p0 < int(pseg[g+1]); p0 += levelChunk {
			chunks = append(chunks, int32(g), int32(p0), int32(min(p0+levelChunk, int(pseg[g+1]))), int32(l.nslot))
			l.nslot++
		}
		multi = append(multi, int32(g), int32(q0), int32(l.nslot))
	}
	if levelSmem(l.kmax) > p.b.smemOK {
		return fmt.Errorf("%w: %d clusters in a segment, at most %d fit", ErrBadInput, l.kmax, p.b.smemOK/(32*8+4))
	}
	l.nchunk, l.nmulti = len(chunks)/4, len(multi)/3
	var ar arena
	sizes := [lvArrays]int{
		lvIdx: 4 * s.n, lvPseg: 4 * (s.nseg + 1), lvCseg: 4 * (s.nseg + 1), lvSeeds: 8 * s.nseg,
		lvChunks: 4 * len(chunks), lvMulti: 4 * len(multi), lvSoff: 8 * s.nseg,
		lvSeg: 4 * s.n, lvLabels: 4 * s.n, lvDists: 4 * s.n, lvChg: s.n,
		lvC: 4 * s.cents * p.ld, lvCounts: 4 * s.cents,
		lvPen: 8 * s.nseg, lvIt: 4 * s.nseg, lvActive: 4 * s.nseg, lvCost: 8 * s.nseg, lvNchg: 4 * s.nseg,
		lvSrow: 4 * int(samples), lvMinD: 8 * int(samples),
		lvPsum: 8 * l.nslot * l.kmax * l.dp, lvPcnt: 4 * l.nslot * l.kmax, lvPcost: 8 * l.nslot, lvPchg: 4 * l.nslot,
		lvNActive: 4,
	}
	for a := 0; a < lvArrays; a++ {
		ar.add(sizes[a])
		l.off[a] = int64(ar.offs[a])
	}
	upBytes := int(l.off[lvUploaded-1]) + sizes[lvUploaded-1]
	tr.mark("layout")

	b := p.b
	leave, err := b.enter()
	if err != nil {
		return err
	}
	defer leave()
	p.freeLevel()
	if l.buf, err = b.pool.get(int64(ar.size)); err != nil {
		return fmt.Errorf("gpu: level of %d points, %d centroids: %w", s.n, s.cents, err)
	}
	p.level = l
	sl := b.takeSlots(1)[0]
	defer b.giveSlots([]*slot{sl})
	host, err := p.host(0, upBytes)
	if err != nil {
		return err
	}
	pcopy(i32s(host[l.off[lvIdx]:]), idx)
	copy(i32s(host[l.off[lvPseg]:]), pseg)
	copy(i32s(host[l.off[lvCseg]:]), cseg)
	copy(unsafe.Slice((*uint64)(unsafe.Pointer(&host[l.off[lvSeeds]])), s.nseg), seeds)
	copy(i32s(host[l.off[lvChunks]:]), chunks)
	if len(multi) > 0 {
		copy(i32s(host[l.off[lvMulti]:]), multi)
	}
	copy(unsafe.Slice((*int64)(unsafe.Pointer(&host[l.off[lvSoff]])), s.nseg), soff)
	tr.mark("pack")
	if err := sl.htod(l.buf.ptr, host[:upBytes]); err != nil {
		return err
	}
	// Zero state: counts, penalties, iterations; every segment active.
	for _, z := range []struct {
		a int
		v uint32
		n int
	}{{lvCounts, 0, s.cents}, {lvPen, 0, 2 * s.nseg}, {lvIt, 0, s.nseg}, {lvActive, 1, s.nseg}} {
		if r := C.sc_memset_d32_async(l.dev(z.a), C.uint(z.v), C.size_t(z.n), sl.stream); r != 0 {
			return cuErr(r, "cuMemsetD32Async")
		}
	}
	var a kargs
	a.ptr(l.dev(lvPseg)).ptr(l.dev(lvSeg))
	if err := sl.launch("lv_segfill", b.fn.lvSegfill, s.nseg, 1, 256, 0, &a); err != nil {
		return err
	}
	a = kargs{}
	a.ptr(p.data.ptr).i32(p.ld).ptr(l.dev(lvIdx)).ptr(l.dev(lvPseg)).ptr(l.dev(lvCseg)).ptr(l.dev(lvSeeds)).
		ptr(l.dev(lvSoff)).ptr(l.dev(lvSrow)).ptr(l.dev(lvMinD)).ptr(l.dev(lvC))
	if err := sl.launch("lv_seed", b.fn.lvSeed, s.nseg, 1, 256, 0, &a); err != nil {
		return err
	}
	if err := sl.sync(); err != nil {
		return err
	}
	tr.mark("device")
	return nil
}

// Step runs one k-means iteration of every active segment of the level:
// lv_assign, lv_update (and lv_reduce for segments of several chunks),
// lv_finish. It returns the number of segments still active.
func (p *cudaPoints) Step() (int, error) {
	l := p.level
	if p.data.ptr == 0 {
		return 0, ErrClosed
	}
	if l == nil {
		return 0, fmt.Errorf("%w: Step without StartLevel", ErrBadInput)
	}
	tr := newTracer("Step %d points, %d segments", l.n, l.nseg)
	defer tr.done()
	b := p.b
	sl, leave, err := b.enterSlot()
	if err != nil {
		return 0, err
	}
	defer leave()
	var a kargs
	a.ptr(p.data.ptr).i32(p.ld).ptr(l.dev(lvIdx)).ptr(l.dev(lvSeg)).i32(l.n).ptr(l.dev(lvC)).ptr(l.dev(lvCseg)).
		ptr(l.dev(lvCounts)).ptr(l.dev(lvPen)).ptr(l.dev(lvIt)).ptr(l.dev(lvActive)).
		ptr(l.dev(lvLabels)).ptr(l.dev(lvDists)).ptr(l.dev(lvChg))
	if err := sl.launch("lv_assign", b.fn.lvAssign, (l.n*32+255)/256, 1, 256, 0, &a); err != nil {
		return 0, err
	}
	smem := levelSmem(l.kmax)
	if smem > 48<<10 {
		if r := C.sc_func_set_attr(b.fn.lvUpdate, C.SC_FUNC_MAX_DYNAMIC_SMEM, C.int(smem)); r != 0 {
			return 0, cuErr(r, "cuFuncSetAttribute(lv_update)")
		}
	}
	gy := l.dp / 32
	a = kargs{}
	a.ptr(p.data.ptr).i32(p.ld).i32(p.dim).ptr(l.dev(lvIdx)).ptr(l.dev(lvLabels)).ptr(l.dev(lvDists)).
		ptr(l.dev(lvChg)).ptr(l.dev(lvActive)).ptr(l.dev(lvCseg)).ptr(l.dev(lvChunks)).i32(l.kmax).
		ptr(l.dev(lvC)).ptr(l.dev(lvCounts)).ptr(l.dev(lvCost)).ptr(l.dev(lvNchg)).
		ptr(l.dev(lvPsum)).ptr(l.dev(lvPcnt)).ptr(l.dev(lvPcost)).ptr(l.dev(lvPchg))
	if err := sl.launch("lv_update", b.fn.lvUpdate, l.nchunk, gy, 32, smem, &a); err != nil {
		return 0, err
	}
	if l.nmulti > 0 {
		a = kargs{}
		a.i32(p.ld).i32(p.dim).ptr(l.dev(lvActive)).ptr(l.dev(lvCseg)).ptr(l.dev(lvMulti)).i32(l.kmax).
			ptr(l.dev(lvPsum)).ptr(l.dev(lvPcnt)).ptr(l.dev(lvPcost)).ptr(l.dev(lvPchg)).
			ptr(l.dev(lvC)).ptr(l.dev(lvCounts)).ptr(l.dev(lvCost)).ptr(l.dev(lvNchg))
		if err := sl.launch("lv_reduce", b.fn.lvReduce, l.nmulti*l.kmax, gy, 32, 0, &a); err != nil {
			return 0, err
		}
	}
	if r := C.sc_memset_d32_async(l.dev(lvNActive), 0, 1, sl.stream); r != 0 {
		return 0, cuErr(r, "cuMemsetD32Async")
	}
	a = kargs{}
	a.ptr(p.data.ptr).i32(p.ld).ptr(l.dev(lvIdx)).ptr(l.dev(lvPseg)).ptr(l.dev(lvCseg)).i32(l.nseg).
		ptr(l.dev(lvSeeds)).i32(l.iters).f64(l.lambda).ptr(l.dev(lvCost)).ptr(l.dev(lvNchg)).
		ptr(l.dev(lvLabels)).ptr(l.dev(lvC)).ptr(l.dev(lvCounts)).ptr(l.dev(lvPen)).
		ptr(l.dev(lvIt)).ptr(l.dev(lvActive)).ptr(l.dev(lvNActive))
	if err := sl.launch("lv_finish", b.fn.lvFinish, (l.nseg*32+255)/256, 1, 256, 0, &a); err != nil {
		return 0, err
	}
	res, err := p.host(1, 4)
	if err != nil {
		return 0, err
	}
	if err := sl.dtoh(res, l.dev(lvNActive)); err != nil {
		return 0, err
	}
	if err := sl.sync(); err != nil {
		return 0, err
	}
	tr.mark("device")
	return int(i32s(res)[0]), nil
}

// Result copies the level's labels (per position, within the segment)
// and centroids (dim floats per slot) out.
func (p *cudaPoints) Result(labels []int32, centroids []float32) error {
	l := p.level
	if p.data.ptr == 0 {
		return ErrClosed
	}
	if l == nil {
		return fmt.Errorf("%w: Result without StartLevel", ErrBadInput)
	}
	if len(labels) != l.n || len(centroids) != l.nc*p.dim {
		return fmt.Errorf("%w: %d labels and %d centroid floats for %d points and %d centroids of dim %d", ErrBadInput, len(labels), len(centroids), l.n, l.nc, p.dim)
	}
	tr := newTracer("Result %d points, %d centroids", l.n, l.nc)
	defer tr.done()
	b := p.b
	sl, leave, err := b.enterSlot()
	if err != nil {
		return err
	}
	defer leave()
	var out arena
	aLab := out.add(4 * l.n)
	aC := out.add(4 * l.nc * p.ld)
	res, err := p.host(1, out.size)
	if err != nil {
		return err
	}
	if err := sl.dtoh(res[out.offs[aLab]:out.offs[aLab]+4*l.n], l.dev(lvLabels)); err != nil {
		return err
	}
	if err := sl.dtoh(res[out.offs[aC]:out.offs[aC]+4*l.nc*p.ld], l.dev(lvC)); err != nil {
		return err
	}
	if err := sl.sync(); err != nil {
		return err
	}
	tr.mark("device")
	pcopy(labels, i32s(res[out.offs[aLab]:])[:l.n])
	src := f32s(res[out.offs[aC]:])
	parallel(l.nc, max(1, hostGrain/p.ld), runtime.GOMAXPROCS(0), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			copy(centroids[c*p.dim:(c+1)*p.dim], src[c*p.ld:c*p.ld+p.dim])
		}
	})
	tr.mark("unpack")
	return nil
}

// freeLevel returns the level's device buffer to the pool; the caller
// holds the context.
func (p *cudaPoints) freeLevel() {
	if p.level != nil {
		p.b.pool.put(p.level.buf)
		p.level = nil
	}
}
