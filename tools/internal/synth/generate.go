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
	GT          string // ids (and, for fbin, distances)
	GTDist      string // distances; "" for fbin, whose GT holds them
}

// paths names the files of a data set in format f:
//
//	fvecs  base.fvecs query.fvecs groundtruth.ivecs groundtruth.dist.fvecs
//	npy    base.npy   query.npy   groundtruth.npy   groundtruth.dist.npy
//	fbin   base.fbin  query.fbin  groundtruth.ibin
//
// groundtruth.ibin is big-ann-benchmarks' ground-truth layout: uint32 nq,
// uint32 k, then nq·k int32 ids, then nq·k float32 distances, which
// vecfile reads as an .ibin of ids.
func paths(dir string, f vecfile.Format) Files {
	p := func(name string) string { return filepath.Join(dir, name) }
	switch f {
	case vecfile.FBin:
		return Files{Base: p("base.fbin"), Query: p("query.fbin"), GT: p("groundtruth.ibin")}
	case vecfile.NPY:
		return Files{Base: p("base.npy"), Query: p("query.npy"), GT: p("groundtruth.npy"), GTDist: p("groundtruth.dist.npy")}
	}
	return Files{Base: p("base.fvecs"), Query: p("query.fvecs"), GT: p("groundtruth.ivecs"), GTDist: p("groundtruth.dist.fvecs")}
}

// GenerateFormat is Generate in format f (vecfile.FVecs, FBin or NPY,
// named as paths lists); it returns the paths written.
func GenerateFormat(ctx context.Context, progress io.Writer, spec Spec, dir string, f vecfile.Format) (files Files, err error) {
	spec.EnsureDefaults()
	if err := spec.Validate(); err != nil {
		return Files{}, err
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
	bar := clikit.NewBar(progress, "generate   ", int64(spec.N+spec.Queries))
	err = m.writeFile(ctx, files.Base, f, streamBase, spec.N, func(done int) { bar.Set(int64(done)) })
	if err == nil {
		err = m.writeFile(ctx, files.Query, f, streamQuery, spec.Queries, func(done int) { bar.Set(int64(spec.N + done)) })
	}
	bar.Finish()
	if err != nil {
		return files, err
	}
	queries := m.sample(streamQuery, 0, spec.Queries) // the same rows as query.*

	bar = clikit.NewBar(progress, "groundtruth", int64(spec.N))
	ids, dists, err := groundTruth(ctx, files.Base, queries, spec.Dim, spec.K, truthChunkRows(spec.Dim), func(done int) { bar.Set(int64(done)) })
	bar.Finish()
	if err != nil {
		return files, err
	}
	return files, writeTruth(files, f, spec.K, ids, dists)
}

// createFile creates a vector file of format f (for NPY, of element e).
func createFile(path string, f vecfile.Format, e vecfile.Elem, dim int) (*vecfile.Writer, error) {
	if f == vecfile.NPY {
		return vecfile.CreateNPY(path, e, dim)
	}
	return vecfile.Create(path, f, dim)
}

// writeTruth writes the ground truth files of files in format f. The
// ids file comes last and appears under its name only when complete, so
// its presence marks a finished data set.
func writeTruth(files Files, f vecfile.Format, k int, ids []int32, dists []float32) error {
	tmp := files.GT + ".tmp"
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if f == vecfile.FBin {
		if err := writeBigANNTruth(tmp, k, ids, dists); err != nil {
			return err
		}
		return os.Rename(tmp, files.GT)
	}
	idFormat, distFormat := vecfile.IVecs, vecfile.FVecs
	if f == vecfile.NPY {
		idFormat, distFormat = vecfile.NPY, vecfile.NPY
	}
	w, err := createFile(files.GTDist, distFormat, vecfile.Float32, k)
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
	w, err = createFile(tmp, idFormat, vecfile.Int32, k)
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
	return os.Rename(tmp, files.GT)
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
