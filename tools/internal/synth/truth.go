package synth

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// truthChunkBytes is how much of the base set, as float32, the exact
// searches score the queries against at a time.
const truthChunkBytes = 4 << 20

// truthChunkRows is the rows of dim float32 in truthChunkBytes.
func truthChunkRows(dim int) int { return max(1, truthChunkBytes/(4*dim)) }

// ExactTruth returns the exact k nearest rows of src among those not
// marked in skip (nil: all rows) for each of the nq queries (row-major,
// dim floats each), by metric: squared L2, −dot for InnerProduct, and
// −dot of normalised vectors for Cosine, as the index ranks. Ids are row
// numbers, nearest first (ties by lower row). src is streamed a chunk at
// a time; each chunk is scored against the queries on GOMAXPROCS
// goroutines with the batch kernels. progress, if not nil, gets the rows
// scanned so far.
func ExactTruth(ctx context.Context, src index.Source, skip []bool, queries []float32, k int, metric index.Metric, progress func(done int)) ([][]int32, error) {
	tops, err := exactTopK(ctx, src, skip, queries, k, metric, truthChunkRows(src.Dim()), nil, progress)
	if err != nil {
		return nil, err
	}
	truth := make([][]int32, len(tops))
	for i := range tops {
		for _, c := range tops[i].Sorted() {
			truth[i] = append(truth[i], c.ID)
		}
	}
	return truth, nil
}

// groundTruth is the exact k nearest rows by metric of the vector file at
// path (float32, uint8 or int8) for every query (dim floats each),
// chunkRows rows at a time, scored by flat (nil: the CPU kernels). It
// returns nq·k ids and distances, row-major.
func groundTruth(ctx context.Context, path string, queries []float32, dim, k int, metric index.Metric, chunkRows int, flat FlatTopK, progress func(done int)) ([]int32, []float32, error) {
	src, err := index.OpenFile(path)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	if src.Dim() != dim {
		return nil, nil, fmt.Errorf("gt: %s holds %d-dimensional vectors, the queries are %d-dimensional: %w", path, src.Dim(), dim, index.ErrDimensionMismatch)
	}
	if src.Len() == 0 {
		return nil, nil, fmt.Errorf("gt: %s holds no vectors", path)
	}
	k = min(k, src.Len())
	tops, err := exactTopK(ctx, src, nil, queries, k, metric, chunkRows, flat, progress)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]int32, 0, len(tops)*k)
	dists := make([]float32, 0, len(tops)*k)
	for i := range tops {
		for _, c := range tops[i].Sorted() {
			ids = append(ids, c.ID)
			dists = append(dists, c.Dist)
		}
	}
	return ids, dists, nil
}

// exactTopK is ExactTruth's search, chunkRows rows of src at a time; it
// returns each query's top k. With flat nil each chunk is scored on
// GOMAXPROCS goroutines, one query at a time, straight into the queries'
// heaps; otherwise flat finds each chunk's top k for all queries at once
// and those are merged into the heaps (see FlatTopK).
func exactTopK(ctx context.Context, src index.Source, skip []bool, queries []float32, k int, metric index.Metric, chunkRows int, flat FlatTopK, progress func(done int)) ([]TopK, error) {
	dim := src.Dim()
	nq := len(queries) / dim
	qs := slices.Clone(queries)
	if metric == index.Cosine {
		for i := range nq {
			vec.Normalize(qs[i*dim : (i+1)*dim]) // a zero query stays zero: all ties
		}
	}
	tops := make([]TopK, nq)
	for i := range tops {
		tops[i] = NewTopK(k)
	}
	rb := dim * src.Elem().Size()
	raw := make([]byte, chunkRows*rb)
	data := make([]float32, chunkRows*dim)
	ids := make([]int32, 0, chunkRows)
	workers := max(1, min(nq, runtime.GOMAXPROCS(0)))
	dists := make([][]float32, workers) // one per worker
	for w := range dists {
		dists[w] = make([]float32, min(chunkRows, truthTileRows(dim)))
	}
	for lo := 0; lo < src.Len(); lo += chunkRows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(chunkRows, src.Len()-lo)
		if err := src.ReadRows(lo, n, raw[:n*rb]); err != nil {
			return nil, err
		}
		// Convert the live rows only, packed to the front of data.
		ids = ids[:0]
		for i := range n {
			if skip != nil && skip[lo+i] {
				continue
			}
			x := data[len(ids)*dim : (len(ids)+1)*dim]
			clikit.ToFloat32(src.Elem(), raw[i*rb:(i+1)*rb], x)
			if metric == index.Cosine {
				vec.Normalize(x)
			}
			ids = append(ids, int32(lo+i))
		}
		rows := len(ids)
		if rows > 0 && flat != nil {
			if err := mergeFlat(flat, metric, qs, data[:rows*dim], dim, ids, tops); err != nil {
				return nil, err
			}
		} else if rows > 0 {
			scoreChunk(metric, qs, data[:rows*dim], dim, ids, tops, dists)
		}
		if progress != nil {
			progress(lo + n)
		}
	}
	return tops, nil
}

// The CPU scoring of a chunk is tiled for the cache: a worker takes a
// block of up to truthQueryBlock queries and runs them all over one tile
// of truthTileBytes of rows before the next, so each tile is read from
// memory once per block rather than once per query.
const (
	truthQueryBlock = 16
	truthTileBytes  = 128 << 10
)

// truthTileRows is the rows of dim float32 in a tile.
func truthTileRows(dim int) int { return max(1, truthTileBytes/(4*dim)) }

// scoreChunk pushes the distance of every row of data (row numbers ids)
// to every query of qs into the queries' tops, on len(dists) goroutines,
// each with its own distance buffer. Each query's heap is touched by one
// goroutine only, and the result does not depend on the order of the
// pushes (TopK's order is total), so it is deterministic.
func scoreChunk(metric index.Metric, qs, data []float32, dim int, ids []int32, tops []TopK, dists [][]float32) {
	nq, rows := len(tops), len(ids)
	block := max(1, min(truthQueryBlock, (nq+len(dists)-1)/len(dists)))
	blocks := (nq + block - 1) / block
	tile := truthTileRows(dim)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range min(len(dists), blocks) {
		wg.Go(func() {
			for {
				b := int(next.Add(1)) - 1
				if b >= blocks {
					return
				}
				for r0 := 0; r0 < rows; r0 += tile {
					r1 := min(r0+tile, rows)
					out := dists[w][:r1-r0]
					for q := b * block; q < min((b+1)*block, nq); q++ {
						qv, t := qs[q*dim:(q+1)*dim], &tops[q]
						if metric == index.L2 {
							vec.L2SquaredF32Batch(qv, data[r0*dim:r1*dim], out)
						} else {
							vec.DotF32Batch(qv, data[r0*dim:r1*dim], out)
							for i := range out {
								out[i] = -out[i]
							}
						}
						for i, d := range out {
							// Skip the call for the candidates that cannot
							// enter (almost all, once the top k has filled).
							if len(t.h) == t.k && d > t.h[0].Dist {
								continue
							}
							t.Push(d, ids[r0+i])
						}
					}
				}
			}
		})
	}
	wg.Wait()
}
