// Package synth makes synthetic vector data sets with exact ground truth
// for the shoal CLI's demo, tests and benchmarks: a seeded Gaussian
// mixture that imitates real embeddings (Spec), written as vector files
// with the exact nearest neighbours of every query (Generate), and the
// exact k nearest rows of any index.Source (ExactTruth).
package synth

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// Generate writes base.fvecs, query.fvecs, groundtruth.ivecs (the ids of
// each query's K nearest base vectors by squared L2, nearest first, ties to
// the lower id) and groundtruth.dist.fvecs (their distances) into dir,
// creating it if needed, and reports progress on the progress writer (nil
// prints nothing). The base set is streamed to disk and read back for the
// ground truth, so memory stays small whatever N is. groundtruth.ivecs is
// written last, under its name only once complete, so its presence marks a
// finished data set. Generate stops between batches when ctx is cancelled;
// on any error it removes the files it was writing.
func Generate(ctx context.Context, progress io.Writer, spec Spec, dir string) error {
	_, err := GenerateFormat(ctx, progress, spec, dir, vecfile.FVecs)
	return err
}

// Files are the paths of one generated data set.
type Files struct {
	Base, Query string
	GT          string // ids (and, for .ibin, distances)
	GTDist      string // distances; "" for .ibin, whose GT holds them
}

// paths names the files of a data set in format f:
//
//	fvecs  base.fvecs query.fvecs groundtruth.ivecs groundtruth.dist.fvecs
//	bvecs  base.bvecs query.bvecs groundtruth.ivecs groundtruth.dist.fvecs
//	npy    base.npy   query.npy   groundtruth.npy   groundtruth.dist.npy
//	fbin   base.fbin  query.fbin  groundtruth.ibin
//	u8bin  base.u8bin query.u8bin groundtruth.ibin
//
// groundtruth.ibin is big-ann-benchmarks' ground-truth layout: uint32 nq,
// uint32 k, then nq·k int32 ids, then nq·k float32 distances, which
// vecfile reads as an .ibin of ids.
func paths(dir string, f vecfile.Format) Files {
	p := func(name string) string { return filepath.Join(dir, name) }
	ext := "." + f.String()
	files := Files{Base: p("base" + ext), Query: p("query" + ext)}
	files.GT, files.GTDist = truthPaths(p("groundtruth" + truthExt(f)))
	return files
}

// TruthFile is the ids file of the ground truth of a data set in format f
// in dir, as Generate names it.
func TruthFile(dir string, f vecfile.Format) string {
	return filepath.Join(dir, "groundtruth"+truthExt(f))
}

// truthExt is the extension of the ground truth of a data set in format f.
func truthExt(f vecfile.Format) string {
	switch f {
	case vecfile.FBin, vecfile.U8Bin:
		return ".ibin"
	case vecfile.NPY:
		return ".npy"
	}
	return ".ivecs"
}

// Options configure GenerateWith. The zero value writes .fvecs (.u8bin for
// uint8 specs) with no progress output.
type Options struct {
	// Format is the vector files' format: FVecs, FBin or NPY for float32
	// specs, U8Bin, BVecs or NPY for uint8 ones. Default FVecs for float32,
	// U8Bin for uint8.
	Format vecfile.Format
	// ChunkRows is how many base vectors are generated and written at a
	// time, rounded up to whole blocks of 1024 rows. Memory is bounded by
	// it, not by N, and the files do not depend on it. Default 16384.
	ChunkRows int
	// TruthChunkRows is how many base rows the ground truth scores at a
	// time (as float32). Default 4 MiB worth.
	TruthChunkRows int
	// Progress, if not nil, receives progress bars (redrawn in place on a
	// terminal, periodic lines elsewhere).
	Progress io.Writer
	// NoTruth skips the ground truth: the returned Files name no truth
	// files. For sets too large for the CPU's brute force, whose truth
	// `shoal gt -gpu` computes afterwards.
	NoTruth bool
}

// GenerateFormat is Generate in format f (named as paths lists); it returns
// the paths written.
func GenerateFormat(ctx context.Context, progress io.Writer, spec Spec, dir string, f vecfile.Format) (Files, error) {
	return GenerateWith(ctx, spec, dir, Options{Format: f, Progress: progress})
}

// GenerateWith is Generate with options: the base and query vectors are
// written a chunk at a time, then the base file is streamed back for the
// exact ground truth (squared L2) of the queries read back from theirs,
// so the truth is exact for the values written, uint8 included.
func GenerateWith(ctx context.Context, spec Spec, dir string, o Options) (files Files, err error) {
	spec.EnsureDefaults()
	if err := spec.Validate(); err != nil {
		return Files{}, err
	}
	f := o.Format
	if f == 0 {
		f = vecfile.FVecs
		if spec.Elem == vecfile.Uint8 {
			f = vecfile.U8Bin
		}
	}
	if f != vecfile.NPY && f.Elem() != spec.Elem {
		return Files{}, fmt.Errorf("gen: format %v cannot hold %v vectors", f, spec.Elem)
	}
	if o.ChunkRows <= 0 {
		o.ChunkRows = chunkBlocks * blockRows
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, err
	}
	files = paths(dir, f)
	defer func() {
		if err != nil {
			for _, p := range []string{files.Base, files.Query, files.GT, files.GTDist} {
				if p != "" {
					os.Remove(p)
				}
			}
		}
	}()

	m := newModel(spec)
	bar := clikit.NewBar(o.Progress, "generate   ", int64(spec.N+spec.Queries))
	err = m.writeFile(ctx, files.Base, f, streamBase, spec.N, o.ChunkRows, func(done int) { bar.Set(int64(done)) })
	if err == nil {
		err = m.writeFile(ctx, files.Query, f, streamQuery, spec.Queries, o.ChunkRows, func(done int) { bar.Set(int64(spec.N + done)) })
	}
	bar.Finish()
	if err != nil {
		return files, err
	}
	if o.NoTruth {
		files.GT, files.GTDist = "", ""
		return files, nil
	}
	_, err = WriteTruth(ctx, TruthOptions{
		Base: files.Base, Queries: files.Query, Out: files.GT, K: spec.K, Metric: index.L2,
		ChunkRows: o.TruthChunkRows, Progress: o.Progress,
	})
	return files, err
}

// createFile creates a vector file of format f (for NPY, of element e).
func createFile(path string, f vecfile.Format, e vecfile.Elem, dim int) (*vecfile.Writer, error) {
	if f == vecfile.NPY {
		return vecfile.CreateNPY(path, e, dim)
	}
	return vecfile.Create(path, f, dim)
}

// writeTruth writes nq·k ids and distances to gt, whose extension picks
// the layout (.ivecs, .ibin or .npy, see truthPaths), and the distances to
// dist where it is not "". The ids file comes last and appears under its
// name only when complete, so its presence marks a finished data set.
func writeTruth(gt, dist string, k int, ids []int32, dists []float32) error {
	f, err := vecfile.FormatFromPath(gt)
	if err != nil {
		return err
	}
	tmp := gt + ".tmp"
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if f == vecfile.IBin {
		if err := writeBigANNTruth(tmp, k, ids, dists); err != nil {
			return err
		}
		return os.Rename(tmp, gt)
	}
	distFormat := vecfile.FVecs
	if f == vecfile.NPY {
		distFormat = vecfile.NPY
	}
	w, err := createFile(dist, distFormat, vecfile.Float32, k)
	if err != nil {
		return err
	}
	if err := w.WriteFloat32(dists); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	w, err = createFile(tmp, f, vecfile.Int32, k)
	if err != nil {
		return err
	}
	if err := w.WriteInt32(ids); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, gt)
}

// writeBigANNTruth writes big-ann-benchmarks' ground-truth layout (see
// paths), little-endian.
func writeBigANNTruth(path string, k int, ids []int32, dists []float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	put := func(v uint32) {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], v)
		bw.Write(b[:]) // a write error sticks in bw and comes back from Flush
	}
	put(uint32(len(ids) / k))
	put(uint32(k))
	for _, id := range ids {
		put(uint32(id))
	}
	for _, d := range dists {
		put(math.Float32bits(d))
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("gen: %s: %w", path, err)
	}
	return f.Close()
}
