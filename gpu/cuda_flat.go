//go:build linux && cgo

package gpu

/*
#include "cuda_driver.h"
*/
import "C"

import "fmt"

// Flat (x against every row of y) distances and top-k.
//
// The work is cut into units: a batch of nb rows of x against a tile of mb
// rows of y. Units alternate between two stream slots, so the host packing
// and unpacking of one unit and the copies of one overlap the kernels of
// the other. y stays resident when it fits in a quarter of the budget
// (uploaded once); otherwise each unit uploads its tile (inputs larger than
// device memory). A distance tile is one dist_gemm launch (or, for TopK
// with cuBLAS, one SGEMM of dot products whose norms topk_merge adds).

// metricCode is the kernels' code for a metric.
func metricCode(m Metric) int {
	switch m {
	case L2:
		return 1
	case InnerProduct:
		return 2
	case Cosine:
		return 3
	}
	panic(fmt.Sprintf("gpu: metric %v", m))
}

// devRows is a block of padded rows on the device and their squared norms.
type devRows struct {
	data, norms devBuf
	rows        int
}

func (d *devRows) put(p *devPool) {
	p.put(d.data)
	p.put(d.norms)
	*d = devRows{}
}

// loadRows uploads rows (dim floats each) into d, growing its buffers, and
// computes their norms when norms is set.
func (s *slot) loadRows(d *devRows, rows []float32, dim, ld int, norms bool) error {
	n := len(rows) / dim
	need := int64(max(n, 1)) * int64(ld) * 4
	if d.data.size < need {
		s.b.pool.put(d.data)
		var err error
		if d.data, err = s.b.pool.get(need); err != nil {
			d.data = devBuf{}
			return err
		}
	}
	if norms && d.norms.size < int64(max(n, 1))*4 {
		s.b.pool.put(d.norms)
		var err error
		if d.norms, err = s.b.pool.get(int64(max(n, 1)) * 4); err != nil {
			d.norms = devBuf{}
			return err
		}
	}
	d.rows = n
	if err := s.uploadRows(d.data.ptr, rows, dim, ld); err != nil {
		return err
	}
	if norms {
		return s.norms(d.data.ptr, n, ld, d.norms.ptr)
	}
	return nil
}

// norms queues row_norms over n rows at src.
func (s *slot) norms(src C.CUdeviceptr, n, ld int, dst C.CUdeviceptr) error {
	var a kargs
	a.ptr(src).i32(n).i32(ld).ptr(dst)
	return s.launch("row_norms", s.b.fn.rowNorms, (n*32+255)/256, 1, 256, 0, &a)
}

// gemm queues dist_gemm: out[i*ldo+j] = metric(x_i, y_j) for n rows at x
// and m rows at y.
func (s *slot) gemm(x, xn C.CUdeviceptr, n int, y, yn C.CUdeviceptr, m, ld, metric int, out C.CUdeviceptr, ldo int) error {
	var a kargs
	a.ptr(x).i32(n).ptr(y).i32(m).i32(ld).ptr(xn).ptr(yn).i32(metric).ptr(out).i64(int64(ldo))
	return s.launch("dist_gemm", s.b.fn.distGEMM, (m+127)/128, (n+127)/128, 256, 0, &a)
}

// dotsCuBLAS queues T[i*ldt+j] = x_i . y_j through cuBLAS's SGEMM.
func (s *slot) dotsCuBLAS(x C.CUdeviceptr, n int, y C.CUdeviceptr, m, ld int, t C.CUdeviceptr, ldt int) error {
	b := s.b
	b.blasMu.Lock()
	defer b.blasMu.Unlock()
	if st := C.sc_cublas_set_stream(b.blas, s.stream); st != 0 {
		return fmt.Errorf("gpu: cublasSetStream: status %d", st)
	}
	// Column-major: T^T (m x n, ld ldt) = Y (op T of the ld x m matrix
	// holding y's rows) times X^T (the ld x n matrix holding x's rows).
	if st := C.sc_cublas_sgemm(b.blas, 1, 0, C.int(m), C.int(n), C.int(ld), 1, y, C.int(ld), x, C.int(ld), 0, t, C.int(ldt)); st != 0 {
		return fmt.Errorf("gpu: cublasSgemm %dx%dx%d: status %d", m, n, ld, st)
	}
	return nil
}

// flatPlan sizes the units of a flat computation.
type flatPlan struct {
	n, m, dim, ld int
	nb, mb, ldt   int
	resident      bool // y is uploaded once
}

func (b *cudaBackend) planFlat(n, m, dim int, tileFloats int64, maxRows int) flatPlan {
	p := flatPlan{n: n, m: m, dim: dim, ld: ldFor(dim)}
	p.resident = int64(m)*int64(p.ld)*4 <= b.budget/4
	p.nb = min(n, maxRows)
	p.mb = int(min(int64(m), max(1024, tileFloats/int64(p.nb))))
	p.mb = min(m, (p.mb+127)/128*128)
	if !p.resident {
		// A streamed tile must also fit beside the others.
		p.mb = int(min(int64(p.mb), max(128, b.budget/8/(int64(p.ld)*4))))
	}
	p.ldt = (p.mb + 3) &^ 3
	return p
}

// flatState is one slot's buffers and pending result in a flat
// computation.
type flatState struct {
	s       *slot
	x, y    devRows
	t       devBuf // distance tile, nb x ldt
	bd, bi  devBuf // TopK: best distances and ids, nb x k
	xb      int    // the x batch in x, -1 for none
	pending bool
	r0, c0  int // the pending unit's first row and column
	rows    int
	cols    int
}

func (f *flatState) release(p *devPool) {
	f.x.put(p)
	f.y.put(p)
	p.put(f.t)
	p.put(f.bd)
	p.put(f.bi)
}

// yTile returns the device rows of y tile [c0, c0+cols): a view into the
// resident y, or the state's own upload.
func (f *flatState) yTile(p flatPlan, y []float32, all *devRows, c0, cols int, norms bool) (C.CUdeviceptr, C.CUdeviceptr, error) {
	if p.resident {
		yn := C.CUdeviceptr(0)
		if norms {
			yn = all.norms.at(int64(c0) * 4)
		}
		return all.data.at(int64(c0) * int64(p.ld) * 4), yn, nil
	}
	if err := f.s.loadRows(&f.y, y[c0*p.dim:(c0+cols)*p.dim], p.dim, p.ld, norms); err != nil {
		return 0, 0, err
	}
	return f.y.data.ptr, f.y.norms.ptr, nil
}

// prepare readies the state's slot for a unit of x batch r0: it finishes
// the slot's pending unit (drain) and uploads the x batch if needed.
func (f *flatState) prepare(p flatPlan, x []float32, xb, r0, rows int, norms bool, drain func(*flatState) error) error {
	if f.pending {
		if err := f.s.sync(); err != nil {
			return err
		}
		if err := drain(f); err != nil {
			return err
		}
		f.pending = false
	}
	if f.xb != xb {
		if err := f.s.loadRows(&f.x, x[r0*p.dim:(r0+rows)*p.dim], p.dim, p.ld, norms); err != nil {
			return err
		}
		f.xb = xb
	}
	return nil
}

// startFlat takes two slots and uploads y if it stays resident.
func (b *cudaBackend) startFlat(p flatPlan, y []float32, norms bool) ([2]*flatState, *devRows, func(), error) {
	ss := b.takeSlots(2)
	st := [2]*flatState{{s: ss[0], xb: -1}, {s: ss[1], xb: -1}}
	all := &devRows{}
	done := func() {
		for _, f := range st {
			f.s.sync()
			f.release(&b.pool)
		}
		all.put(&b.pool)
		b.giveSlots(ss)
	}
	if p.resident {
		if err := st[0].s.loadRows(all, y, p.dim, p.ld, norms); err != nil {
			done()
			return st, nil, nil, err
		}
		// Slot 1 reads y too: wait for the upload.
		if err := st[0].s.sync(); err != nil {
			done()
			return st, nil, nil, err
		}
	}
	return st, all, done, nil
}

// grow makes buf at least n bytes.
func (b *cudaBackend) grow(buf *devBuf, n int64) error {
	if buf.size >= n {
		return nil
	}
	b.pool.put(*buf)
	var err error
	*buf, err = b.pool.get(n)
	return err
}

func (b *cudaBackend) Distances(metric Metric, x, y []float32, dim int, out []float32) error {
	n, m, err := checkDistances(metric, x, y, dim, out)
	if err != nil {
		return err
	}
	if n == 0 || m == 0 {
		return nil
	}
	leave, err := b.enter()
	if err != nil {
		return err
	}
	defer leave()
	// Tiles come back to the host: keep them to 64 MiB.
	p := b.planFlat(n, m, dim, 16<<20, 1024)
	norms := metric == L2
	st, all, done, err := b.startFlat(p, y, norms)
	if err != nil {
		return err
	}
	defer done()
	drain := func(f *flatState) error {
		buf, err := f.s.host(2, f.rows*p.ldt*4)
		if err != nil {
			return err
		}
		t := f32s(buf)
		for i := 0; i < f.rows; i++ {
			copy(out[(f.r0+i)*m+f.c0:(f.r0+i)*m+f.c0+f.cols], t[i*p.ldt:i*p.ldt+f.cols])
		}
		return nil
	}
	u := 0
	for xb, r0 := 0, 0; r0 < n; xb, r0 = xb+1, r0+p.nb {
		rows := min(p.nb, n-r0)
		for c0 := 0; c0 < m; c0, u = c0+p.mb, u+1 {
			cols := min(p.mb, m-c0)
			f := st[u%2]
			if err := f.prepare(p, x, xb, r0, rows, norms, drain); err != nil {
				return err
			}
			yp, yn, err := f.yTile(p, y, all, c0, cols, norms)
			if err != nil {
				return err
			}
			if err := b.grow(&f.t, int64(p.nb)*int64(p.ldt)*4); err != nil {
				return err
			}
			if err := f.s.gemm(f.x.data.ptr, f.x.norms.ptr, rows, yp, yn, cols, p.ld, metricCode(metric), f.t.ptr, p.ldt); err != nil {
				return err
			}
			buf, err := f.s.host(2, rows*p.ldt*4)
			if err != nil {
				return err
			}
			if err := f.s.dtoh(buf, f.t.ptr); err != nil {
				return err
			}
			f.pending, f.r0, f.c0, f.rows, f.cols = true, r0, c0, rows, cols
		}
	}
	for _, f := range st {
		if f.pending {
			if err := f.s.sync(); err != nil {
				return err
			}
			if err := drain(f); err != nil {
				return err
			}
			f.pending = false
		}
	}
	return nil
}

// maxTopK is the largest k the CUDA TopK takes; larger k runs on the CPU.
const maxTopK = 1024

// mergeChunk is topk_merge's candidates per round (4 per thread).
const mergeChunk = 4 * 256

func (b *cudaBackend) TopK(metric Metric, x, y []float32, dim, k int, ids []int32, dists []float32) error {
	n, m, err := checkTopK(metric, x, y, dim, k, ids, dists)
	if err != nil {
		return err
	}
	if k > maxTopK {
		return b.cpu.TopK(metric, x, y, dim, k, ids, dists)
	}
	if n == 0 {
		return nil
	}
	if m == 0 {
		for i := range ids {
			ids[i], dists[i] = -1, inf
		}
		return nil
	}
	leave, err := b.enter()
	if err != nil {
		return err
	}
	defer leave()
	tileFloats := min(b.budget/16, 1<<30) / 4
	p := b.planFlat(n, m, dim, tileFloats, 4096)
	useBLAS := b.blas != nil
	norms := metric == L2
	st, all, done, err := b.startFlat(p, y, norms)
	if err != nil {
		return err
	}
	defer done()
	capacity := pow2(k + mergeChunk)
	drain := func(f *flatState) error {
		buf, err := f.s.host(2, f.rows*k*8)
		if err != nil {
			return err
		}
		copy(dists[f.r0*k:(f.r0+f.rows)*k], f32s(buf)[:f.rows*k])
		copy(ids[f.r0*k:(f.r0+f.rows)*k], i32s(buf[f.rows*k*4:])[:f.rows*k])
		return nil
	}
	for xb, r0 := 0, 0; r0 < n; xb, r0 = xb+1, r0+p.nb {
		rows := min(p.nb, n-r0)
		f := st[xb%2]
		if err := f.prepare(p, x, xb, r0, rows, norms, drain); err != nil {
			return err
		}
		for _, g := range []struct {
			buf *devBuf
			n   int64
		}{{&f.t, int64(p.nb) * int64(p.ldt) * 4}, {&f.bd, int64(p.nb) * int64(k) * 4}, {&f.bi, int64(p.nb) * int64(k) * 4}} {
			if err := b.grow(g.buf, g.n); err != nil {
				return err
			}
		}
		var a kargs
		a.ptr(f.bd.ptr).ptr(f.bi.ptr).i64(int64(rows * k))
		if err := f.s.launch("fill_best", b.fn.fillBest, (rows*k+255)/256, 1, 256, 0, &a); err != nil {
			return err
		}
		for c0 := 0; c0 < m; c0 += p.mb {
			cols := min(p.mb, m-c0)
			yp, yn, err := f.yTile(p, y, all, c0, cols, norms)
			if err != nil {
				return err
			}
			kind := 0
			if useBLAS {
				if err := f.s.dotsCuBLAS(f.x.data.ptr, rows, yp, cols, p.ld, f.t.ptr, p.ldt); err != nil {
					return err
				}
				kind = metricCode(metric)
			} else if err := f.s.gemm(f.x.data.ptr, f.x.norms.ptr, rows, yp, yn, cols, p.ld, metricCode(metric), f.t.ptr, p.ldt); err != nil {
				return err
			}
			var a kargs
			a.ptr(f.t.ptr).i64(int64(p.ldt)).i32(cols).i32(c0).i32(kind).ptr(f.x.norms.ptr).ptr(yn).
				i32(k).i32(capacity).ptr(f.bd.ptr).ptr(f.bi.ptr)
			if err := f.s.launch("topk_merge", b.fn.topkMerge, rows, 1, 256, capacity*8, &a); err != nil {
				return err
			}
		}
		buf, err := f.s.host(2, rows*k*8)
		if err != nil {
			return err
		}
		if err := f.s.dtoh(buf[:rows*k*4], f.bd.ptr); err != nil {
			return err
		}
		if err := f.s.dtoh(buf[rows*k*4:], f.bi.ptr); err != nil {
			return err
		}
		f.pending, f.r0, f.rows = true, r0, rows
	}
	for _, f := range st {
		if f.pending {
			if err := f.s.sync(); err != nil {
				return err
			}
			if err := drain(f); err != nil {
				return err
			}
			f.pending = false
		}
	}
	return nil
}
