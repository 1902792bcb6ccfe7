package index

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/shoaldb/shoal/index/internal/build"
	"github.com/shoaldb/shoal/index/internal/treelog"
	"github.com/shoaldb/shoal/internal/filecopy"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// Build builds an index of src in dir, which must not exist or be empty,
// and returns its manifest. The build streams src: it holds at most
// Options.SampleSize vectors (for clustering; a partitioned build, one
// partition of at most as many) plus the assignment table (16 bytes per
// posting entry) in memory.
//
// Build is SPANN's offline build (package index/internal/build):
// hierarchical balanced k-means picks the heads (package cluster), every
// vector is assigned to up to Replicas heads by closure assignment with
// the RNG rule, postings are capped, and all of them are written in one
// sequential bulk load. The manifest is written last, so an interrupted
// build leaves a directory that Open rejects with ErrNoIndex.
func Build(dir string, src Source, o *Options) (*Manifest, error) {
	opts, err := resolveOptions(o)
	if err != nil {
		return nil, err
	}
	n, dim, srcElem := src.Len(), src.Dim(), src.Elem()
	elem := srcElem
	if opts.Elem != 0 {
		elem = opts.Elem
	}
	switch {
	case n == 0:
		return nil, ErrEmpty
	case dim <= 0 || dim > posting.MaxDim:
		return nil, fmt.Errorf("%w: dim %d, want 1..%d", ErrBadInput, dim, posting.MaxDim)
	case !srcElem.Valid():
		return nil, fmt.Errorf("%w: element type %d", ErrBadInput, srcElem)
	case opts.Metric == Cosine && elem != Float32 && elem != Float16:
		return nil, fmt.Errorf("%w: the cosine metric needs float32 or float16 vectors, not %v", ErrInvalidOptions, elem)
	case n > math.MaxUint32:
		return nil, fmt.Errorf("%w: %d vectors, at most %d per build", ErrBadInput, n, uint32(math.MaxUint32))
	}
	qi, z, entryBytes, err := quantSetup(&opts, dim, elem)
	if err != nil {
		return nil, err
	}
	if opts.PostingCap == 0 {
		opts.PostingCap = defaultPostingCap(entryBytes)
	}
	prepare := prepareDir
	if opts.Resume {
		prepare = prepareResume
	}
	if err := prepare(dir); err != nil {
		return nil, err
	}
	start := time.Now()
	store, err := createStore(dir, &opts, &pebblestore.Options{CacheBytes: 8 << 20})
	if err != nil {
		return nil, err
	}
	bo := build.Options{
		Metric: vec.Metric(opts.Metric), Elem: vec.ElemType(elem), Ratio: opts.Ratio, Replicas: opts.Replicas,
		PostingCap: opts.PostingCap, RNGFactor: opts.RNGFactor, ClosureEpsilon: opts.ClosureEpsilon,
		Candidates: opts.Candidates, K: opts.K, SampleSize: opts.SampleSize, AssignMemory: max(opts.AssignMemory, 0), Seed: opts.Seed,
		Workers: opts.Workers, GPU: opts.GPU, GPUBackend: opts.GPUBackend, Logf: opts.Logf,
		Quant: z, Resume: opts.Resume,
	}
	if opts.Progress != nil {
		bo.Progress = func(p build.Progress) {
			opts.Progress(Progress{Stage: p.Stage, Done: p.Done, Total: p.Total, Part: p.Part, Parts: p.Parts})
		}
	}
	res, err := build.Run(buildSource{src}, store, dir, bo)
	if errors.Is(err, build.ErrCheckpointMismatch) {
		err = fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	var m *Manifest
	if err == nil {
		err = treelog.Write(dir, res.Tree)
	}
	if err == nil {
		// Before the commit point: a directory holding a manifest never
		// holds a checkpoint, so a resume cannot take an index for one.
		err = removeCheckpoint(dir)
	}
	if err == nil {
		m = &Manifest{
			Version: manifestVersionOf(qi), Quant: qi, Dim: dim, Elem: elem, Metric: opts.Metric, Count: n,
			Heads: res.Tree.NumLeaves(), Replicas: opts.Replicas, PostingCap: opts.PostingCap,
			Ratio: opts.Ratio, RNGFactor: opts.RNGFactor, Seed: opts.Seed,
			Entries: res.Entries, Dropped: res.Dropped, BuiltAt: start.UTC(),
			BuildSecs: time.Since(start).Seconds(),
		}
		// The commit point: only now does the directory hold an index.
		if err = writeIndexedFields(store, opts.IndexedPayloadFields); err == nil {
			err = store.SetMeta(metaManifest, m.marshal())
		}
	}
	if err == nil {
		if d, ok := store.(interface{ DropPageCache() error }); ok {
			_ = d.DropPageCache()
		}
	}
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// buildSource is a Source as package build reads it.
type buildSource struct{ Source }

func (s buildSource) Elem() vec.ElemType { return vec.ElemType(s.Source.Elem()) }

// prepareDir creates dir, or checks that it is empty.
func prepareDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%w: %s", ErrExists, dir)
	}
	return nil
}

// prepareResume readies dir for a resumed build: a missing or empty dir
// as prepareDir does; one holding a build checkpoint loses everything but
// the checkpoint and the partition spill files (the killed build's store
// and files). Anything else is ErrExists: a finished index has no
// checkpoint (Build removes it before the commit point).
func prepareResume(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(ents) == 0) {
		return prepareDir(dir)
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, build.CheckpointDir, "state.json")); err != nil {
		return fmt.Errorf("%w: %s holds no build checkpoint to resume (remove it to build from scratch)", ErrExists, dir)
	}
	for _, e := range ents {
		if n := e.Name(); n != build.CheckpointDir && n != build.PartitionDir {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeCheckpoint removes a build's checkpoint directory, durably.
func removeCheckpoint(dir string) error {
	if err := os.RemoveAll(filepath.Join(dir, build.CheckpointDir)); err != nil {
		return err
	}
	return filecopy.SyncDir(dir)
}
