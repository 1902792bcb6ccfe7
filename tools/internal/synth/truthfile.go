package synth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// FlatTopK is a brute-force top-k over one chunk of base rows for a batch
// of queries, the fused distance + selection of a flat search: for each
// row i of x, the k rows of y nearest by metric, nearest first, ties to
// the lower id. gpu.Backend satisfies it, so a GPU can score the chunks
// of WriteTruth; its distances for Cosine are 1 − dot, which mergeFlat
// shifts to −dot. Implementations must be safe for the calls of one
// WriteTruth, which come from one goroutine.
type FlatTopK interface {
	TopK(metric gpu.Metric, x, y []float32, dim, k int, ids []int32, dists []float32) error
}

var _ FlatTopK = gpu.Backend(nil)

// TruthOptions configure WriteTruth. Base, Queries and Out are required.
type TruthOptions struct {
	// Base and Queries are vector files in any format vecfile reads, of
	// float32, uint8 or int8 elements, of one dimension. The base is
	// streamed ChunkRows rows at a time; the queries are held in memory.
	Base, Queries string
	// Out is the ids file, its layout chosen by its extension (see
	// truthPaths): .ivecs, .ibin or .npy.
	Out string
	// K is the number of neighbours per query. Default 100; a K above the
	// base's rows is reduced to them.
	K int
	// Metric ranks the neighbours: squared L2 (the default), −dot for
	// InnerProduct, −dot of normalised vectors for Cosine. The distance
	// files hold these values.
	Metric index.Metric
	// ChunkRows is how many base rows are scored at a time, as float32.
	// Default 4 MiB worth; memory is bounded by it and the queries, not
	// by the base's rows.
	ChunkRows int
	// Flat, if not nil, scores each chunk instead of the CPU kernels.
	Flat FlatTopK
	// Progress, if not nil, receives a progress bar with rate and ETA.
	Progress io.Writer
}

// EnsureDefaults fills unset fields with their defaults.
func (o *TruthOptions) EnsureDefaults() {
	if o.K == 0 {
		o.K = 100
	}
	if o.Metric == 0 {
		o.Metric = index.L2
	}
}

// Validate reports options that cannot work. Call it after EnsureDefaults.
func (o *TruthOptions) Validate() error {
	switch {
	case o.Base == "" || o.Queries == "" || o.Out == "":
		return errors.New("gt: the base, the queries and the output file are all required")
	case o.K < 1:
		return fmt.Errorf("gt: K %d, want >= 1", o.K)
	case o.Metric != index.L2 && o.Metric != index.InnerProduct && o.Metric != index.Cosine:
		return fmt.Errorf("gt: metric %d is not l2, ip or cosine", o.Metric)
	}
	if f, err := vecfile.FormatFromPath(o.Out); err != nil || (f != vecfile.IVecs && f != vecfile.IBin && f != vecfile.NPY) {
		return fmt.Errorf("gt: output %s: want a .ivecs, .ibin or .npy file", o.Out)
	}
	return nil
}

// truthPaths returns the ids file and the distances file of the ground
// truth named out:
//
//	NAME.ivecs  ids; distances in NAME.dist.fvecs
//	NAME.npy    ids; distances in NAME.dist.npy
//	NAME.ibin   big-ann layout, ids then distances in one file (dist "")
//
// which is how Generate names groundtruth.ivecs's distances.
func truthPaths(out string) (ids, dist string) {
	f, _ := vecfile.FormatFromPath(out)
	stem := strings.TrimSuffix(out, filepath.Ext(out))
	switch f {
	case vecfile.IBin:
		return out, ""
	case vecfile.NPY:
		return out, stem + ".dist.npy"
	}
	return out, stem + ".dist.fvecs"
}

// WriteTruth computes the exact K nearest base rows of every query and
// writes them (ids nearest first, ties to the lower id, and distances) to
// o.Out and its distances file; it returns their paths. It is the ground
// truth of Generate, for any base file: the base is streamed a chunk at a
// time against all queries, each chunk scored on every core, so memory
// does not grow with the base. The ids file appears only when complete.
func WriteTruth(ctx context.Context, o TruthOptions) (files Files, err error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return Files{}, err
	}
	queries, dim, err := readQueries(o.Queries)
	if err != nil {
		return Files{}, err
	}
	if o.ChunkRows <= 0 {
		o.ChunkRows = truthChunkRows(dim)
	}
	total := int64(0)
	if r, err := vecfile.Open(o.Base); err == nil {
		total = int64(r.Len())
		r.Close()
	}
	bar := clikit.NewBar(o.Progress, "groundtruth", total)
	ids, dists, err := groundTruth(ctx, o.Base, queries, dim, o.K, o.Metric, o.ChunkRows, o.Flat, func(done int) { bar.Set(int64(done)) })
	bar.Finish()
	if err != nil {
		return Files{}, err
	}
	files = Files{Base: o.Base, Query: o.Queries}
	files.GT, files.GTDist = truthPaths(o.Out)
	return files, writeTruth(files.GT, files.GTDist, len(ids)/(len(queries)/dim), ids, dists)
}

// readQueries reads a whole vector file of float32, uint8 or int8
// elements as float32.
func readQueries(path string) ([]float32, int, error) {
	src, err := index.OpenFile(path)
	if err != nil {
		return nil, 0, err
	}
	defer src.Close()
	n, dim := src.Len(), src.Dim()
	if n == 0 {
		return nil, 0, fmt.Errorf("gt: %s holds no vectors", path)
	}
	raw := make([]byte, n*dim*src.Elem().Size())
	if err := src.ReadRows(0, n, raw); err != nil {
		return nil, 0, err
	}
	out := make([]float32, n*dim)
	clikit.ToFloat32(src.Elem(), raw, out)
	return out, dim, nil
}

// mergeFlat scores one chunk (rows of data, whose row numbers are ids)
// with flat and pushes each query's top k of it into tops.
func mergeFlat(flat FlatTopK, metric index.Metric, qs, data []float32, dim int, ids []int32, tops []TopK) error {
	nq, rows := len(tops), len(ids)
	k := min(tops[0].k, rows)
	got := make([]int32, nq*k)
	dists := make([]float32, nq*k)
	if err := flat.TopK(gpu.Metric(metric), qs, data, dim, k, got, dists); err != nil {
		return err
	}
	for q := range tops {
		for r := q * k; r < (q+1)*k; r++ {
			if got[r] < 0 || int(got[r]) >= rows {
				continue
			}
			d := dists[r]
			if metric == index.Cosine {
				d-- // 1 − dot → −dot, as the CPU path ranks
			}
			tops[q].Push(d, ids[got[r]])
		}
	}
	return nil
}
