package index

import (
	"fmt"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/index/internal/build"
	"github.com/shoaldb/shoal/internal/vec"
)

// Batch routing on an accelerator.
//
// With Options.GPU != Off (or Options.GPUBackend set), SearchBatch routes
// its queries a chunk at a time with the tree's beam search on the device
// (gpu.TreeIndex), then prunes, picks up tails, reads and scores each query
// on the CPU exactly as Search does. The device holds a copy of the tree,
// loaded on first use and reloaded when maintenance has changed the tree
// (treeGen; gpu.Router keeps it). A query whose chunk was routed on an older tree than the one
// current when it picks up its tails is routed again on the CPU.

// batchChunk is the number of queries routed on the device at once.
const batchChunk = 8192

// preRoute is the device's routing of one query: its nearest heads,
// nearest first, -1 past the heads found, routed on the tree of
// generation gen.
type preRoute struct {
	leaves []int32
	dists  []float32
	gen    uint64
}

// accelWanted reports whether SearchBatch should route on a backend.
func (ix *Index) accelWanted() bool {
	return ix.opts.GPUBackend != nil || ix.opts.GPU != gpu.Off
}

// deviceTree returns the device-resident tree, current as of now, and its
// generation, or nil where batch routing runs on the CPU. The caller has
// entered ix.readers, so the tree routed on stays readable until it exits.
func (ix *Index) deviceTree() (gpu.TreeIndex, uint64, error) {
	ix.rmu.RLock()
	defer ix.rmu.RUnlock()
	gen := ix.treeGen.Load()
	t, err := ix.dev.Tree(gen, func() *gpu.Tree { return build.GPUTree(ix.tree) })
	return t, gen, err
}

// searchBatchAccel is SearchBatch with the routing on the device.
func (ix *Index) searchBatchAccel(qs [][]float32, k int, sp *SearchParams, results [][]Result) error {
	var params SearchParams
	if sp != nil {
		params = *sp
	}
	params.ensureDefaults(ix.opts.Search)
	dim, n := ix.man.Dim, params.NProbe
	chunk := min(batchChunk, len(qs))
	flat := make([]float32, chunk*dim)
	leaves := make([]int32, chunk*n)
	dists := make([]float32, chunk*n)
	for lo := 0; lo < len(qs); lo += chunk {
		hi := min(lo+chunk, len(qs))
		done, err := ix.searchChunkAccel(qs, lo, hi, k, sp, &params, flat, leaves, dists, results)
		if err != nil {
			return err
		}
		if !done {
			return ix.searchBatchCPU(qs, lo, k, sp, results)
		}
	}
	return nil
}

// searchChunkAccel routes queries lo..hi-1 on the device and searches them;
// false without an error means the device is not used: the caller searches
// on the CPU from lo.
func (ix *Index) searchChunkAccel(qs [][]float32, lo, hi, k int, sp, params *SearchParams, flat []float32, leaves []int32, dists []float32, results [][]Result) (bool, error) {
	if ix.closed.Load() {
		return false, ErrClosed
	}
	// Registered across routing and searching: maintenance keeps what the
	// device's tree points at until the chunk is done (publish.go).
	e := ix.readers.Enter()
	defer ix.readers.Exit(e)
	t, gen, err := ix.deviceTree()
	if err != nil || t == nil {
		return false, err
	}
	dim, n, cnt := ix.man.Dim, params.NProbe, hi-lo
	for i := 0; i < cnt; i++ {
		row := flat[i*dim : (i+1)*dim]
		q := qs[lo+i]
		if len(q) != dim || vec.CheckFinite(q) != nil {
			clear(row) // search reports the error
			continue
		}
		copy(row, q)
		if ix.man.Metric == Cosine && !vec.Normalize(row) {
			clear(row)
		}
	}
	if err := t.Search(flat[:cnt*dim], n, params.Beam, leaves[:cnt*n], dists[:cnt*n]); err != nil {
		return false, ix.dev.Fail(fmt.Sprintf("routing queries %d..%d on the device", lo, hi), err)
	}
	err = ix.parallel(lo, hi, func(ws *workspace, i int) error {
		j := i - lo
		pre := &preRoute{leaves: leaves[j*n : (j+1)*n], dists: dists[j*n : (j+1)*n], gen: gen}
		r, err := ix.search(ws, qs[i], k, sp, nil, pre)
		results[i] = r
		return err
	})
	return err == nil, err
}

// searchBatchCPU searches queries lo.. with routing on the CPU.
func (ix *Index) searchBatchCPU(qs [][]float32, lo, k int, sp *SearchParams, results [][]Result) error {
	return ix.parallel(lo, len(qs), func(ws *workspace, i int) error {
		r, err := ix.search(ws, qs[i], k, sp, nil, nil)
		results[i] = r
		return err
	})
}

// preHeads returns the heads of a pre-routed query as Tree.Search does.
func (ws *workspace) preHeads(pre *preRoute) []cluster.Candidate {
	ws.pre = ws.pre[:0]
	for r, l := range pre.leaves {
		if l < 0 {
			break
		}
		ws.pre = append(ws.pre, cluster.Candidate{Leaf: uint32(l), Dist: pre.dists[r]})
	}
	return ws.pre
}
