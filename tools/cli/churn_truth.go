package cli

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// truthChunkBytes is how much of the base set, as float32, exactTruth
// scores the queries against at a time.
const truthChunkBytes = 4 << 20

// exactTruth returns the exact k nearest rows of src among those not
// marked in skip (nil: all rows) for each of the nq queries (row-major,
// dim floats each), by metric: squared L2, −dot for InnerProduct, and
// −dot of normalised vectors for Cosine, as the index ranks. Ids are row
// numbers, nearest first (ties by lower row). src is streamed a chunk at
// a time; each chunk is scored against the queries on GOMAXPROCS
// goroutines with the batch kernels. progress, if not nil, gets the rows
// scanned so far.
func exactTruth(ctx context.Context, src index.Source, skip []bool, queries []float32, k int, metric index.Metric, progress func(done int)) ([][]int32, error) {
	dim := src.Dim()
	nq := len(queries) / dim
	qs := slices.Clone(queries)
	if metric == index.Cosine {
		for i := range nq {
			vec.Normalize(qs[i*dim : (i+1)*dim]) // a zero query stays zero: all ties
		}
	}
	tops := make([]genTopK, nq)
	for i := range tops {
		tops[i] = genTopK{k: k, h: make([]genNeighbor, 0, k)}
	}
	chunkRows := max(1, truthChunkBytes/(4*dim))
	rb := dim * src.Elem().Size()
	raw := make([]byte, chunkRows*rb)
	data := make([]float32, chunkRows*dim)
	ids := make([]int32, 0, chunkRows)
	workers := max(1, min(nq, runtime.GOMAXPROCS(0)))
	dists := make([][]float32, workers)
	for w := range dists {
		dists[w] = make([]float32, chunkRows)
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
		if rows > 0 {
			var next atomic.Int64
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					out := dists[w][:rows]
					for {
						q := int(next.Add(1)) - 1
						if q >= nq {
							return
						}
						qv, t := qs[q*dim:(q+1)*dim], &tops[q]
						if metric == index.L2 {
							vec.L2SquaredF32Batch(qv, data[:rows*dim], out)
						} else {
							vec.DotF32Batch(qv, data[:rows*dim], out)
							for i := range out {
								out[i] = -out[i]
							}
						}
						for i, d := range out {
							if len(t.h) == t.k && d > t.h[0].dist {
								continue
							}
							t.push(d, ids[i])
						}
					}
				})
			}
			wg.Wait()
		}
		if progress != nil {
			progress(lo + n)
		}
	}
	truth := make([][]int32, nq)
	for i := range tops {
		for _, c := range tops[i].sorted() {
			truth[i] = append(truth[i], c.id)
		}
	}
	return truth, nil
}
