package index

import (
	"fmt"
	"time"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/index/internal/build"
	"github.com/shoaldb/shoal/index/internal/treelog"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// CheckCreate reports, as Create would, why an index of dim-dimensional
// vectors with options o cannot be created, without creating anything.
func CheckCreate(dim int, o *Options) error {
	opts, elem, err := createOptions(dim, o)
	if err == nil {
		_, _, _, err = quantSetup(&opts, dim, elem)
	}
	return err
}

// createOptions resolves o for Create and checks it against dim; elem is
// the element type (Float32 by default).
func createOptions(dim int, o *Options) (Options, ElemType, error) {
	opts, err := resolveOptions(o)
	if err != nil {
		return opts, 0, err
	}
	elem := opts.Elem
	if elem == 0 {
		elem = Float32
	}
	switch {
	case dim <= 0 || dim > posting.MaxDim:
		return opts, elem, fmt.Errorf("%w: dim %d, want 1..%d", ErrBadInput, dim, posting.MaxDim)
	case opts.Metric == Cosine && elem != Float32 && elem != Float16:
		return opts, elem, fmt.Errorf("%w: the cosine metric needs float32 or float16 vectors, not %v", ErrInvalidOptions, elem)
	}
	return opts, elem, nil
}

// Create makes an empty index of dim-dimensional vectors in dir, which
// must not exist or be empty, and returns its manifest. The index grows by
// Upsert alone: its tree starts as one head, and maintenance splits
// postings as they fill. Options fields marked (build) apply: Metric,
// Elem (default Float32), Replicas, PostingCap, RNGFactor, Ratio is
// unused.
func Create(dir string, dim int, o *Options) (*Manifest, error) {
	opts, elem, err := createOptions(dim, o)
	if err != nil {
		return nil, err
	}
	qi, _, entryBytes, err := quantSetup(&opts, dim, elem)
	if err != nil {
		return nil, err
	}
	if opts.PostingCap == 0 {
		opts.PostingCap = defaultPostingCap(entryBytes)
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	// One leaf at the origin; the first split replaces it.
	tree, err := cluster.Build(make([]float32, dim), dim, cluster.Options{K: opts.K, Leaves: 1, Seed: opts.Seed, Metric: build.RoutingMetric(vec.Metric(opts.Metric))})
	if err != nil {
		return nil, err
	}
	store, err := createStore(dir, &opts, &pebblestore.Options{CacheBytes: -1})
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		Version: manifestVersionOf(qi), Quant: qi, Dim: dim, Elem: elem, Metric: opts.Metric,
		Heads: 1, Replicas: opts.Replicas, PostingCap: opts.PostingCap,
		Ratio: opts.Ratio, RNGFactor: opts.RNGFactor, Seed: opts.Seed, BuiltAt: time.Now().UTC(),
	}
	err = treelog.Write(dir, tree)
	if err == nil {
		err = writeIndexedFields(store, opts.IndexedPayloadFields)
	}
	if err == nil {
		err = store.SetMeta(metaManifest, m.marshal())
	}
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}
