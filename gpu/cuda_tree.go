//go:build linux && cgo

package gpu

/*
#include "cuda_driver.h"
*/
import "C"

import (
	"fmt"
	"sync/atomic"
)

// cudaTree is the CUDA backend's TreeIndex: the tree's centroids and
// child arrays live on the device and tree_search runs one block per
// query. Widths past the kernel's limits (n or beam above maxTreeWidth)
// run on the CPU copy.
type cudaTree struct {
	b        *cudaBackend
	dim, ld  int
	metric   int
	nodes    int
	rootLeaf int32 // LeafID[0] when the root is the only node, else -1
	cent     devBuf
	arrays   devBuf // childStart, childCount, leafID: nodes int32 each
	cpu      TreeIndex
	closed   atomic.Bool
}

var _ TreeIndex = (*cudaTree)(nil)

// maxTreeWidth bounds n and beam in tree_search (shared-memory lists).
const maxTreeWidth = 1024

// treeBatch is the number of queries per tree_search launch.
const treeBatch = 8192

func (b *cudaBackend) LoadTree(t *Tree) (TreeIndex, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	cpu, err := b.cpu.LoadTree(t)
	if err != nil {
		return nil, err
	}
	leave, err := b.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	nodes := len(t.ChildCount)
	ct := &cudaTree{b: b, dim: t.Dim, ld: ldFor(t.Dim), metric: metricCode(t.Metric), nodes: nodes, rootLeaf: -1, cpu: cpu}
	if t.ChildCount[0] == 0 {
		ct.rootLeaf = t.LeafID[0]
	}
	if ct.cent, err = b.pool.get(int64(nodes) * int64(ct.ld) * 4); err != nil {
		return nil, fmt.Errorf("gpu: tree of %d nodes: %w", nodes, err)
	}
	if ct.arrays, err = b.pool.get(int64(nodes) * 12); err != nil {
		b.pool.put(ct.cent)
		return nil, fmt.Errorf("gpu: tree of %d nodes: %w", nodes, err)
	}
	s := b.takeSlots(1)[0]
	defer b.giveSlots([]*slot{s})
	fail := func(err error) (TreeIndex, error) {
		s.sync()
		b.pool.put(ct.cent)
		b.pool.put(ct.arrays)
		return nil, err
	}
	if err := s.uploadRows(ct.cent.ptr, t.Centroids, t.Dim, ct.ld); err != nil {
		return fail(err)
	}
	host, err := s.host(2, nodes*12)
	if err != nil {
		return fail(err)
	}
	a := i32s(host)
	copy(a[:nodes], t.ChildStart)
	copy(a[nodes:2*nodes], t.ChildCount)
	copy(a[2*nodes:], t.LeafID)
	if err := s.htod(ct.arrays.ptr, host); err != nil {
		return fail(err)
	}
	if err := s.sync(); err != nil {
		return fail(err)
	}
	return ct, nil
}

func (ct *cudaTree) Close() error {
	if ct.closed.Swap(true) {
		return nil
	}
	leave, err := ct.b.enter()
	if err != nil {
		return err
	}
	defer leave()
	ct.b.pool.put(ct.cent)
	ct.b.pool.put(ct.arrays)
	return nil
}

func (ct *cudaTree) Search(queries []float32, n, beam int, leaves []int32, dists []float32) error {
	if ct.closed.Load() {
		return ErrClosed
	}
	nq, err := checkSearch(ct.dim, queries, n, beam, leaves, dists)
	if err != nil {
		return err
	}
	beam = max(beam, n)
	if n > maxTreeWidth || beam > maxTreeWidth {
		return ct.cpu.Search(queries, n, beam, leaves, dists)
	}
	if nq == 0 {
		return nil
	}
	if ct.rootLeaf >= 0 {
		for i := 0; i < nq; i++ {
			for r := 0; r < n; r++ {
				leaves[i*n+r], dists[i*n+r] = -1, inf
			}
			leaves[i*n], dists[i*n] = ct.rootLeaf, 0
		}
		return nil
	}
	tr := newTracer("tree search %d queries, n %d, beam %d", nq, n, beam)
	defer tr.done()
	b := ct.b
	leave, err := b.enter()
	if err != nil {
		return err
	}
	defer leave()
	s := b.takeSlots(1)[0]
	tr.mark("wait")
	defer b.giveSlots([]*slot{s})
	defer s.sync()

	lcap, ncap := pow2(2*n+64), pow2(2*beam+64)
	smem := 4 * (ct.ld + 2*lcap + 2*ncap + beam + beam + 1)
	if smem > 48<<10 {
		if smem > b.smemOK {
			return ct.cpu.Search(queries, n, beam, leaves, dists)
		}
		if r := C.sc_func_set_attr(b.fn.treeSearch, C.SC_FUNC_MAX_DYNAMIC_SMEM, C.int(smem)); r != 0 {
			return cuErr(r, "cuFuncSetAttribute")
		}
	}
	batch := min(nq, treeBatch)
	qbuf, err := b.pool.get(int64(batch) * int64(ct.ld) * 4)
	if err != nil {
		return err
	}
	defer b.pool.put(qbuf)
	obuf, err := b.pool.get(int64(batch) * int64(n) * 8)
	if err != nil {
		return err
	}
	defer b.pool.put(obuf)
	nodes := int64(ct.nodes)
	for q0 := 0; q0 < nq; q0 += batch {
		cnt := min(batch, nq-q0)
		if err := s.uploadRows(qbuf.ptr, queries[q0*ct.dim:(q0+cnt)*ct.dim], ct.dim, ct.ld); err != nil {
			return err
		}
		var a kargs
		a.ptr(qbuf.ptr).i32(ct.ld).ptr(ct.cent.ptr).
			ptr(ct.arrays.ptr).ptr(ct.arrays.at(nodes * 4)).ptr(ct.arrays.at(nodes * 8)).
			i32(ct.metric).i32(n).i32(beam).i32(lcap).i32(ncap).
			ptr(obuf.ptr).ptr(obuf.at(int64(cnt) * int64(n) * 4))
		if err := s.launch("tree_search", b.fn.treeSearch, cnt, 1, 256, smem, &a); err != nil {
			return err
		}
		res, err := s.host(2, cnt*n*8)
		if err != nil {
			return err
		}
		if err := s.dtoh(res, obuf.ptr); err != nil {
			return err
		}
		if err := s.sync(); err != nil {
			return err
		}
		tr.mark("device")
		copy(leaves[q0*n:(q0+cnt)*n], i32s(res)[:cnt*n])
		copy(dists[q0*n:(q0+cnt)*n], f32s(res[cnt*n*4:])[:cnt*n])
	}
	return nil
}
