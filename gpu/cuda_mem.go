//go:build linux && cgo

package gpu

/*
#include "cuda_driver.h"
*/
import "C"

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"unsafe"
)

// devBuf is a device allocation from a devPool.
type devBuf struct {
	ptr  C.CUdeviceptr
	size int64 // the allocation's size (its size class)
}

// at returns the device address off bytes into b.
func (d devBuf) at(off int64) C.CUdeviceptr { return d.ptr + C.CUdeviceptr(off) }

// devPool recycles device allocations by size class, since cuMemAlloc and
// cuMemFree synchronise the device and cost about a millisecond each: the
// buffers of one k-means iteration or one search batch are the next one's.
// Sizes round up to one eighth of their leading power of two (at most 12.5
// % waste). When an allocation fails the pool frees its cached buffers and
// tries once more. Methods must run with the backend's context current;
// they are safe for concurrent use.
type devPool struct {
	mu     sync.Mutex
	free   map[int64][]C.CUdeviceptr
	cached int64 // bytes in free
	inUse  int64
	limit  int64 // the backend's budget, for reporting
}

func sizeClass(n int64) int64 {
	if n <= 4096 {
		return 4096
	}
	step := int64(1) << (63 - bits.LeadingZeros64(uint64(n)) - 3)
	return (n + step - 1) / step * step
}

// get returns a buffer of at least n bytes.
func (p *devPool) get(n int64) (devBuf, error) {
	c := sizeClass(n)
	p.mu.Lock()
	if l := p.free[c]; len(l) > 0 {
		ptr := l[len(l)-1]
		p.free[c] = l[:len(l)-1]
		p.cached -= c
		p.inUse += c
		p.mu.Unlock()
		return devBuf{ptr, c}, nil
	}
	p.mu.Unlock()
	var ptr C.CUdeviceptr
	r := C.sc_mem_alloc(&ptr, C.size_t(c))
	if r == C.SC_ERROR_OUT_OF_MEMORY {
		p.trim()
		r = C.sc_mem_alloc(&ptr, C.size_t(c))
	}
	if r != 0 {
		p.mu.Lock()
		used := p.inUse
		p.mu.Unlock()
		return devBuf{}, fmt.Errorf("%w (%d MiB more with %d MiB in use)", cuErr(r, "cuMemAlloc"), c>>20, used>>20)
	}
	p.mu.Lock()
	p.inUse += c
	p.mu.Unlock()
	return devBuf{ptr, c}, nil
}

// put returns b to the pool.
func (p *devPool) put(b devBuf) {
	if b.ptr == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.free == nil {
		p.free = make(map[int64][]C.CUdeviceptr)
	}
	p.free[b.size] = append(p.free[b.size], b.ptr)
	p.cached += b.size
	p.inUse -= b.size
}

// trim frees the cached buffers.
func (p *devPool) trim() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c, l := range p.free {
		for _, ptr := range l {
			C.sc_mem_free(ptr)
		}
		delete(p.free, c)
	}
	p.cached = 0
}

// drain frees the cached buffers; buffers still out are the callers' bug
// and are reclaimed with the context.
func (p *devPool) drain() { p.trim() }

// slot is one stream with its pinned staging buffers. A slot is used by
// one call at a time (cudaBackend.takeSlots).
type slot struct {
	b      *cudaBackend
	stream C.CUstream
	pin    [3]pinned    // 0 and 1: uploadRows' staging; 2: results
	ev     [2]C.CUevent // recorded after the copy out of pin[0] / pin[1]
	busy   [2]bool      // ev[i] recorded since the last sync
	next   int          // the staging buffer uploadRows fills next
}

// pinned is a page-locked host buffer, grown on demand.
type pinned struct {
	p    unsafe.Pointer
	size int
}

// host returns pinned buffer i of at least n bytes (its contents are
// undefined). The stream must be idle or not using buffer i.
func (s *slot) host(i, n int) ([]byte, error) {
	pb := &s.pin[i]
	if pb.size < n {
		if i < len(s.busy) && s.busy[i] {
			if r := C.sc_event_sync(s.ev[i]); r != 0 {
				return nil, cuErr(r, "cuEventSynchronize")
			}
			s.busy[i] = false
		}
		if pb.p != nil {
			C.sc_mem_free_host(pb.p)
			pb.p, pb.size = nil, 0
		}
		size := pow2(max(n, 1<<20))
		var p unsafe.Pointer
		if r := C.sc_mem_host_alloc(&p, C.size_t(size)); r != 0 {
			return nil, cuErr(r, fmt.Sprintf("cuMemHostAlloc %d MiB", size>>20))
		}
		pb.p, pb.size = p, size
	}
	return unsafe.Slice((*byte)(pb.p), n), nil
}

func (s *slot) free() {
	for i := range s.pin {
		if s.pin[i].p != nil {
			C.sc_mem_free_host(s.pin[i].p)
			s.pin[i] = pinned{}
		}
	}
	for i := range s.ev {
		if s.ev[i] != nil {
			C.sc_event_destroy(s.ev[i])
			s.ev[i] = nil
		}
	}
}

// sync waits until the stream has done all its work.
func (s *slot) sync() error {
	s.busy = [2]bool{}
	return cuErr(C.sc_stream_sync(s.stream), "cuStreamSynchronize")
}

// htod copies n bytes from pinned host memory to the device, in stream
// order.
func (s *slot) htod(dst C.CUdeviceptr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	return cuErr(C.sc_memcpy_htod_async(dst, unsafe.Pointer(&src[0]), C.size_t(len(src)), s.stream), "cuMemcpyHtoDAsync")
}

// dtoh copies len(dst) bytes from the device to pinned host memory, in
// stream order.
func (s *slot) dtoh(dst []byte, src C.CUdeviceptr) error {
	if len(dst) == 0 {
		return nil
	}
	return cuErr(C.sc_memcpy_dtoh_async(unsafe.Pointer(&dst[0]), src, C.size_t(len(dst)), s.stream), "cuMemcpyDtoHAsync")
}

// uploadRows copies the rows of src (dim floats each) to dst with the
// padded stride ld, zero-filling the padding. It streams through two
// pinned buffers of up to uploadChunk bytes, filling one while the other
// is copied. It returns once the copy is queued; the last pinned buffer
// stays in use until the stream reaches it.
func (s *slot) uploadRows(dst C.CUdeviceptr, src []float32, dim, ld int) error {
	rows := len(src) / dim
	if rows == 0 {
		return nil
	}
	per := max(1, uploadChunk/(4*ld))
	for i := range s.ev {
		if s.ev[i] == nil {
			var ev C.CUevent
			if r := C.sc_event_create(&ev); r != 0 {
				return cuErr(r, "cuEventCreate")
			}
			s.ev[i] = ev
		}
	}
	for r0 := 0; r0 < rows; r0 += per {
		r1 := min(r0+per, rows)
		h := s.next
		s.next ^= 1
		if s.busy[h] {
			if r := C.sc_event_sync(s.ev[h]); r != 0 {
				return cuErr(r, "cuEventSynchronize")
			}
		}
		buf, err := s.host(h, (r1-r0)*ld*4)
		if err != nil {
			return err
		}
		// Packing on all cores: LoadPoints of the build's million-point
		// sample moves half a gigabyte through here.
		pk, rows := f32s(buf), src[r0*dim:r1*dim]
		parallel(r1-r0, max(1, hostGrain/ld), runtime.GOMAXPROCS(0), func(lo, hi int) {
			packRows(pk[lo*ld:hi*ld], rows[lo*dim:hi*dim], dim, ld)
		})
		if err := s.htod(dst+C.CUdeviceptr(r0*ld*4), buf); err != nil {
			return err
		}
		if r := C.sc_event_record(s.ev[h], s.stream); r != 0 {
			return cuErr(r, "cuEventRecord")
		}
		s.busy[h] = true
	}
	return nil
}

// uploadChunk is the size of one pinned staging buffer of uploadRows.
const uploadChunk = 16 << 20

// packRows copies rows of dim floats from src into dst with stride ld,
// zeroing the padding.
func packRows(dst, src []float32, dim, ld int) {
	rows := len(src) / dim
	if ld == dim {
		copy(dst, src)
		return
	}
	for r := 0; r < rows; r++ {
		d := dst[r*ld : (r+1)*ld]
		copy(d, src[r*dim:(r+1)*dim])
		clear(d[dim:])
	}
}

// Views of pinned byte buffers as other element types.
func f32s(b []byte) []float32 { return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4) }
func i32s(b []byte) []int32   { return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(b)/4) }
func f64s(b []byte) []float64 { return unsafe.Slice((*float64)(unsafe.Pointer(&b[0])), len(b)/8) }

// kargs packs kernel parameters for sc_launch: values at their natural
// alignment in buf, with their offsets.
type kargs struct {
	buf  [256]byte
	n    int
	offs [32]C.int
	cnt  int
}

func (a *kargs) put(size int, v unsafe.Pointer) *kargs {
	a.n = (a.n + size - 1) &^ (size - 1)
	copy(a.buf[a.n:a.n+size], unsafe.Slice((*byte)(v), size))
	a.offs[a.cnt] = C.int(a.n)
	a.n += size
	a.cnt++
	return a
}

func (a *kargs) ptr(p C.CUdeviceptr) *kargs { return a.put(8, unsafe.Pointer(&p)) }
func (a *kargs) i32(v int) *kargs {
	x := int32(v)
	return a.put(4, unsafe.Pointer(&x))
}
func (a *kargs) i64(v int64) *kargs   { return a.put(8, unsafe.Pointer(&v)) }
func (a *kargs) f32(v float32) *kargs { return a.put(4, unsafe.Pointer(&v)) }

// launch queues kernel f on the slot's stream.
func (s *slot) launch(name string, f C.CUfunction, gx, gy, block, smem int, a *kargs) error {
	if gx == 0 || gy == 0 {
		return nil
	}
	r := C.sc_launch(f, C.uint(gx), C.uint(gy), 1, C.uint(block), 1, 1, C.uint(smem), s.stream,
		unsafe.Pointer(&a.buf[0]), C.int(a.cnt), &a.offs[0])
	return cuErr(r, "launch "+name)
}
