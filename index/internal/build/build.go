// Package build is SPANN's offline build (Chen et al., NeurIPS 2021, §3):
// hierarchical balanced k-means picks the heads (package cluster), every
// vector is assigned to up to Replicas heads by closure assignment with
// the RNG rule, postings are capped, and all of them are written in one
// sequential bulk load, followed by the vectors file. Package index wraps
// it (index.Build): it checks the options, prepares the directory, and
// writes the tree file and the manifest, the commit point.
//
// A build streams its source: it holds at most Options.SampleSize vectors
// (for clustering; a partitioned build, partition.go, one partition of at
// most as many) plus the assignment table (16 bytes per posting entry) in
// memory. Run is not safe to call twice on one directory at once; its
// workers are its own.
package build

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/index/internal/vectors"
	"github.com/shoaldb/shoal/internal/rabitq"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

// chunkRows is the number of rows a build worker reads at once.
const chunkRows = 1024

// VectorsFile holds the vectors of an offline build, row i for id i, in
// the index's element type (normalised for Cosine), in the format of
// package index/internal/vectors.
const VectorsFile = vectors.File

// Source is the data set: Len rows of Dim elements of type Elem, read in
// several streaming passes plus random reads of single rows. ReadRows
// must be safe for concurrent use.
type Source interface {
	Len() int
	Dim() int
	Elem() vec.ElemType
	ReadRows(start, n int, dst []byte) error
}

// Store is where postings are bulk-loaded.
type Store interface {
	NewBulkWriter() (posting.BulkWriter, error)
}

// Options are index.Options' build fields (documented there), with
// defaults already filled and checked.
type Options struct {
	Metric         vec.Metric
	Elem           vec.ElemType // the stored element type
	Ratio          float64
	Replicas       int
	PostingCap     int
	RNGFactor      float64
	ClosureEpsilon float64
	Candidates     int
	K              int
	SampleSize     int
	AssignMemory   int64
	Seed           uint64
	Workers        int
	GPU            gpu.Mode
	GPUBackend     gpu.Backend
	// Resume reuses the checkpoint (checkpoint.go) a killed build of the
	// same data and options left in the directory, if there is one.
	Resume bool
	// Quant, if set, makes postings of RaBitQ codes (posting format 2,
	// package index/internal/qcodes) relative to each posting's head.
	Quant *rabitq.Quantizer
	Logf  func(format string, args ...any)
	// Progress, if set, is called from one goroutine at a time with how
	// far the build is.
	Progress func(Progress)
}

// Progress is how far a build is.
type Progress struct {
	Stage       string // "sample", "partition", "cluster", "assign" or "write"
	Done, Total int64
	// Part and Parts are the partition being clustered (from 1) and the
	// number of partitions, in a partitioned build's cluster stage; 0
	// otherwise.
	Part, Parts int
}

// Result is what a build made.
type Result struct {
	Tree *cluster.Tree
	// Entries is the number of (posting, vector) entries written;
	// Dropped the replica entries PostingCap removed.
	Entries int64
	Dropped int64
}

// RoutingMetric is the metric the tree routes by: squared L2 to
// centroids for L2 and Cosine (on normalised vectors), −dot for inner
// product.
func RoutingMetric(m vec.Metric) vec.Metric {
	if m == vec.InnerProduct {
		return vec.InnerProduct
	}
	return vec.L2
}

// Run builds the postings of src into store and writes VectorsFile into
// dir. It returns the tree, which the caller persists.
func Run(src Source, store Store, dir string, opts Options) (*Result, error) {
	n, dim := src.Len(), src.Dim()
	b := &builder{src: src, opts: opts, n: n, dim: dim, srcElem: src.Elem(), elem: opts.Elem, dir: dir}
	b.spillState.budget = opts.AssignMemory
	accel, closeAccel, err := b.openAccel()
	if err != nil {
		return nil, err
	}
	defer closeAccel()

	cp, resumed, err := b.openCheckpoint(dir, opts.Resume)
	if err != nil {
		return nil, err
	}
	leaves := max(1, int(math.Round(opts.Ratio*float64(n))))
	var tree *cluster.Tree
	defer func() {
		if b.parts != nil {
			os.RemoveAll(b.parts.dir)
		}
	}()
	if resumed && cp.state.Tree {
		if tree, err = cp.loadTree("tree.shct"); err == nil && tree == nil {
			err = fmt.Errorf("shoal: checkpoint %s names a tree it does not hold; remove the directory to start over", cp.dir)
		}
		if err != nil {
			return nil, err
		}
		pdir := filepath.Join(dir, PartitionDir)
		if b.spillsComplete(pdir, cp.state.Sizes) {
			b.parts = &partitions{dir: pdir, sizes: cp.state.Sizes}
		} else if err := os.RemoveAll(pdir); err != nil {
			return nil, fmt.Errorf("shoal: %w", err)
		}
		b.logf("build: resumed after the cluster stage: the checkpointed tree of %d heads", tree.NumLeaves())
	} else {
		if partitioned(n, min(n, opts.SampleSize), leaves) {
			tree, err = b.clusterPartitioned(cp, resumed, dir, leaves, accel)
		} else {
			tree, err = b.clusterSampled(leaves, accel)
		}
		if err == nil {
			err = cp.treeDone(tree)
		}
		if err != nil {
			return nil, err
		}
	}
	b.tree = tree
	debug.FreeOSMemory() // the sample is the largest allocation of the build

	if hook := TestHook; hook != nil {
		if err := hook("assign", 0); err != nil {
			return nil, err
		}
	}
	stage := time.Now()
	var entries []entry
	var heads gpu.TreeIndex
	if accel != nil {
		if heads, err = loadOnDevice(b, "the heads", func() (gpu.TreeIndex, error) { return accel.LoadTree(GPUTree(tree)) }); err != nil {
			return nil, err
		}
	}
	if heads != nil {
		entries, err = b.assignAccel(heads)
		if cerr := heads.Close(); err == nil {
			err = cerr
		}
	} else if b.parts != nil {
		entries, err = b.assignPartitioned()
	} else {
		entries, err = b.assign()
	}
	if b.parts != nil {
		os.RemoveAll(b.parts.dir) // before the write needs the disk
	}
	if err != nil {
		return nil, err
	}
	b.logStage("assign", stage)
	stage = time.Now()
	written, dropped, err := b.write(store, entries)
	if err == nil {
		err = b.writeVectors(dir)
	}
	if err != nil {
		return nil, err
	}
	b.logStage("write", stage)
	return &Result{Tree: tree, Entries: written, Dropped: dropped}, nil
}

// clusterSampled reads the sample and clusters it into leaves heads (at
// most one per sample row): the tree of a sampled build.
func (b *builder) clusterSampled(leaves int, accel gpu.Backend) (*cluster.Tree, error) {
	start := time.Now()
	sample, err := b.readSample()
	if err != nil {
		return nil, err
	}
	b.logStage("sample", start)
	start = time.Now()
	tree, err := b.clusterSample(sample, min(leaves, len(sample)/b.dim), accel)
	if err != nil {
		return nil, err
	}
	b.logStage("cluster", start)
	return tree, nil
}

// clusterSample builds the tree of a sampled build: the sample clustered
// into leaves heads.
func (b *builder) clusterSample(sample []float32, leaves int, accel gpu.Backend) (*cluster.Tree, error) {
	tree, err := b.clusterOn(accel, "the clustering sample", sample, cluster.Options{
		K:       b.opts.K,
		Leaves:  leaves,
		Seed:    b.opts.Seed,
		Workers: b.opts.Workers,
		Metric:  RoutingMetric(b.opts.Metric),
		Progress: func(done, total int) {
			b.progress("cluster", int64(done), int64(total))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("shoal: cluster: %w", err)
	}
	return tree, nil
}

// clusterOn runs cluster.Build of pts with co, its k-means on accel's
// device when accel is not nil and pts fit there (what names pts in a
// message otherwise).
func (b *builder) clusterOn(accel gpu.Backend, what string, pts []float32, co cluster.Options) (*cluster.Tree, error) {
	var dev gpu.Points
	if accel != nil {
		var err error
		if dev, err = loadOnDevice(b, what, func() (gpu.Points, error) { return accel.LoadPoints(pts, b.dim) }); err != nil {
			return nil, err
		}
		if dev != nil {
			co.Accel = dev
		}
	}
	tree, err := cluster.Build(pts, b.dim, co)
	if dev != nil {
		if cerr := dev.Close(); err == nil {
			err = cerr
		}
	}
	return tree, err
}
