package cli

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(&clikit.Command{Name: "gen", Short: "write a synthetic data set with exact ground truth", Run: runGen})
}

// GenSpec describes a synthetic data set: N base vectors and Queries query
// vectors of dimension Dim, drawn from one Gaussian mixture, and the exact
// K nearest base vectors of every query. Zero fields take the defaults
// that EnsureDefaults documents; the same spec always gives the same data.
//
// The model imitates real embeddings:
//   - the cluster centres and the clusters' spread live in a random
//     Rank-dimensional subspace (a random orthonormal basis of R^Dim), so
//     the intrinsic dimension is much lower than Dim;
//   - the Clusters centres are themselves grouped around √Clusters
//     super-centres, a two-level structure;
//   - cluster weights are log-normal, so cluster sizes differ by two to
//     three orders of magnitude;
//   - each cluster has its own covariance factor (a random Gaussian matrix
//     times a power-law spectrum scaled by a log-normal spread around
//     Spread), so clusters differ in size, shape and orientation;
//   - isotropic noise of standard deviation Noise is added in all Dim
//     dimensions, and every vector is shifted by one random global mean.
type GenSpec struct {
	// N is the number of base vectors. Required, at most 2³¹−1 (ids are
	// int32 in the ground-truth files).
	N int
	// Queries is the number of query vectors, drawn from the same
	// distribution as the base vectors but from different random streams.
	// Required.
	Queries int
	// Dim is the dimension. Default 128.
	Dim int
	// K is the number of neighbours per query in the ground truth.
	// Default 100; a K above N is reduced to N.
	K int
	// Seed selects the data set. 0 is a seed like any other.
	Seed uint64
	// Clusters is the number of Gaussian clusters. Default 1000.
	Clusters int
	// Rank is the dimension of the subspace the clusters live in.
	// Default 32; a Rank above Dim is reduced to Dim.
	Rank int
	// Noise is the standard deviation of the isotropic noise. Default
	// 0.15; a negative value means no noise.
	Noise float64
	// Spread is the median scale of a cluster's standard deviation (the
	// centres have unit scale). Default 2.
	Spread float64
}

// EnsureDefaults fills unset fields with their defaults.
func (s *GenSpec) EnsureDefaults() {
	if s.Dim == 0 {
		s.Dim = 128
	}
	if s.K == 0 {
		s.K = 100
	}
	if s.K > s.N && s.N > 0 {
		s.K = s.N
	}
	if s.Clusters == 0 {
		s.Clusters = 1000
	}
	if s.Rank == 0 {
		s.Rank = 32
	}
	if s.Rank > s.Dim && s.Dim > 0 {
		s.Rank = s.Dim
	}
	if s.Noise == 0 {
		s.Noise = 0.15
	} else if s.Noise < 0 {
		s.Noise = 0
	}
	if s.Spread == 0 {
		s.Spread = 2
	}
}

// Validate reports a spec that cannot be generated. Call it after
// EnsureDefaults.
func (s *GenSpec) Validate() error {
	switch {
	case s.N < 1 || s.N > math.MaxInt32:
		return fmt.Errorf("gen: N %d, want 1..%d", s.N, math.MaxInt32)
	case s.Queries < 1 || s.Queries > math.MaxInt32:
		return fmt.Errorf("gen: Queries %d, want 1..%d", s.Queries, math.MaxInt32)
	case s.Dim < 1 || s.Dim > vecfile.MaxDim:
		return fmt.Errorf("gen: Dim %d, want 1..%d", s.Dim, vecfile.MaxDim)
	case s.K < 1:
		return fmt.Errorf("gen: K %d, want >= 1", s.K)
	case s.Clusters < 1:
		return fmt.Errorf("gen: Clusters %d, want >= 1", s.Clusters)
	case s.Rank < 1:
		return fmt.Errorf("gen: Rank %d, want >= 1", s.Rank)
	case !(s.Spread > 0) || math.IsInf(s.Spread, 0) || math.IsNaN(s.Noise) || math.IsInf(s.Noise, 0):
		return fmt.Errorf("gen: Spread %v must be > 0 and Noise %v finite", s.Spread, s.Noise)
	}
	return nil
}

// Generate writes base.fvecs, query.fvecs, groundtruth.ivecs (the ids of
// each query's K nearest base vectors by squared L2, nearest first, ties to
// the lower id) and groundtruth.dist.fvecs (their distances) into dir,
// creating it if needed, and reports progress on env.Stderr (a nil env or
// Stderr prints nothing). The base set is streamed to disk and read back
// for the ground truth, so memory stays small whatever N is.
// groundtruth.ivecs is written last, under its name only once complete, so
// its presence marks a finished data set. Generate stops between batches
// when ctx is cancelled; on any error it removes the files it was writing.
func Generate(ctx context.Context, env *clikit.Env, spec GenSpec, dir string) error {
	_, err := generate(ctx, env, spec, dir, vecfile.FVecs)
	return err
}

// genFormats are the formats `shoal gen -format` writes.
var genFormats = map[string]vecfile.Format{"fvecs": vecfile.FVecs, "fbin": vecfile.FBin, "npy": vecfile.NPY}

// genFiles are the paths of one generated data set.
type genFiles struct {
	base, query string
	gt          string // ids (and, for fbin, distances)
	gtDist      string // distances; "" for fbin, whose gt holds them
}

// genPaths names the files of a data set in format f:
//
//	fvecs  base.fvecs query.fvecs groundtruth.ivecs groundtruth.dist.fvecs
//	npy    base.npy   query.npy   groundtruth.npy   groundtruth.dist.npy
//	fbin   base.fbin  query.fbin  groundtruth.ibin
//
// groundtruth.ibin is big-ann-benchmarks' ground-truth layout: uint32 nq,
// uint32 k, then nq·k int32 ids, then nq·k float32 distances, which
// vecfile reads as an .ibin of ids.
func genPaths(dir string, f vecfile.Format) genFiles {
	p := func(name string) string { return filepath.Join(dir, name) }
	switch f {
	case vecfile.FBin:
		return genFiles{base: p("base.fbin"), query: p("query.fbin"), gt: p("groundtruth.ibin")}
	case vecfile.NPY:
		return genFiles{base: p("base.npy"), query: p("query.npy"), gt: p("groundtruth.npy"), gtDist: p("groundtruth.dist.npy")}
	}
	return genFiles{base: p("base.fvecs"), query: p("query.fvecs"), gt: p("groundtruth.ivecs"), gtDist: p("groundtruth.dist.fvecs")}
}

// generate is Generate for any of genFormats; it returns the paths written.
func generate(ctx context.Context, env *clikit.Env, spec GenSpec, dir string, f vecfile.Format) (files genFiles, err error) {
	spec.EnsureDefaults()
	if err := spec.Validate(); err != nil {
		return genFiles{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return genFiles{}, err
	}
	files = genPaths(dir, f)
	defer func() {
		if err != nil {
			for _, p := range []string{files.base, files.query, files.gt, files.gtDist} {
				if p != "" {
					os.Remove(p)
				}
			}
		}
	}()

	var stderr io.Writer // nil: NewBar discards
	if env != nil {
		stderr = env.Stderr
	}
	m := newGenModel(spec)
	bar := clikit.NewBar(stderr, "generate   ", int64(spec.N+spec.Queries))
	err = m.writeFile(ctx, files.base, f, genStreamBase, spec.N, func(done int) { bar.Set(int64(done)) })
	if err == nil {
		err = m.writeFile(ctx, files.query, f, genStreamQuery, spec.Queries, func(done int) { bar.Set(int64(spec.N + done)) })
	}
	bar.Finish()
	if err != nil {
		return files, err
	}
	queries := m.sample(genStreamQuery, 0, spec.Queries) // the same rows as query.*

	bar = clikit.NewBar(stderr, "groundtruth", int64(spec.N))
	chunkRows := max(1, genTruthBytes/(4*spec.Dim))
	ids, dists, err := genGroundTruth(ctx, files.base, queries, spec.Dim, spec.K, chunkRows, func(done int) { bar.Set(int64(done)) })
	bar.Finish()
	if err != nil {
		return files, err
	}
	return files, genWriteTruth(files, f, spec.K, ids, dists)
}

// runGen is `shoal gen`.
func runGen(ctx context.Context, env *clikit.Env, args []string) error {
	o := genOptions{format: "fvecs"}
	fs := clikit.NewFlags(env, "gen", "-n N -q Q -dim D -out DIR [flags]")
	fs.IntVar(&o.spec.N, "n", 300_000, "number of base vectors")
	fs.IntVar(&o.spec.Queries, "q", 1000, "number of query vectors")
	fs.IntVar(&o.spec.Dim, "dim", 128, "dimension")
	fs.IntVar(&o.spec.K, "k", 100, "ground-truth neighbours per query")
	fs.Uint64Var(&o.spec.Seed, "seed", 1, "random seed")
	fs.StringVar(&o.out, "out", "", "output directory (created if missing)")
	fs.StringVar(&o.format, "format", "fvecs", "file format: fvecs, fbin or npy")
	fs.IntVar(&o.spec.Clusters, "clusters", 1000, "number of Gaussian clusters")
	fs.IntVar(&o.spec.Rank, "rank", 32, "dimension of the subspace the clusters live in")
	fs.Float64Var(&o.spec.Noise, "noise", 0.15, "stddev of the isotropic noise (0: none)")
	fs.Float64Var(&o.spec.Spread, "spread", 2, "median within-cluster stddev scale (centres have unit scale)")
	if err := clikit.Parse(fs, args); err != nil {
		return err
	}
	if o.spec.Noise == 0 {
		o.spec.Noise = -1 // -noise 0 means none; GenSpec's 0 means the default
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := o.Validate(); err != nil {
		fs.Usage()
		return err
	}
	return o.Run(ctx, env)
}

// genOptions are the flags of `shoal gen`.
type genOptions struct {
	spec   GenSpec
	out    string
	format string
}

// Validate reports flags that cannot work.
func (o *genOptions) Validate() error {
	if o.out == "" {
		return errors.New("-out is required")
	}
	if _, ok := genFormats[o.format]; !ok {
		return fmt.Errorf("-format %q, want fvecs, fbin or npy", o.format)
	}
	// GenSpec takes zeros for defaults; a flag set to 0 is a mistake.
	if o.spec.N < 1 || o.spec.Queries < 1 || o.spec.Dim < 1 || o.spec.K < 1 || o.spec.Clusters < 1 || o.spec.Rank < 1 || !(o.spec.Spread > 0) {
		return fmt.Errorf("-n %d, -q %d, -dim %d, -k %d, -clusters %d, -rank %d and -spread %v must all be positive",
			o.spec.N, o.spec.Queries, o.spec.Dim, o.spec.K, o.spec.Clusters, o.spec.Rank, o.spec.Spread)
	}
	spec := o.spec
	spec.EnsureDefaults()
	return spec.Validate()
}

// Run writes the data set and prints what it wrote.
func (o *genOptions) Run(ctx context.Context, env *clikit.Env) error {
	start := time.Now()
	files, err := generate(ctx, env, o.spec, o.out, genFormats[o.format])
	if err != nil {
		return err
	}
	spec := o.spec
	spec.EnsureDefaults()
	fmt.Fprintf(env.Stdout, "wrote %s in %.1fs (seed %d, %d clusters of rank %d, noise %g, spread %g):\n",
		o.out, time.Since(start).Seconds(), spec.Seed, spec.Clusters, spec.Rank, spec.Noise, spec.Spread)
	fmt.Fprintf(env.Stdout, "  %-24s %d × %d float32\n", filepath.Base(files.base), spec.N, spec.Dim)
	fmt.Fprintf(env.Stdout, "  %-24s %d × %d float32\n", filepath.Base(files.query), spec.Queries, spec.Dim)
	what := "ids"
	if files.gtDist == "" {
		what = "ids, then squared L2 distances"
	}
	fmt.Fprintf(env.Stdout, "  %-24s %d × %d %s\n", filepath.Base(files.gt), spec.Queries, spec.K, what)
	if files.gtDist != "" {
		fmt.Fprintf(env.Stdout, "  %-24s %d × %d squared L2 distances\n", filepath.Base(files.gtDist), spec.Queries, spec.K)
	}
	return nil
}

// Random streams: the model, the base vectors and the queries each draw
// from their own PCG streams, and every block of genBlock vectors from its
// own, so the output does not depend on how many goroutines generate it.
const (
	genStreamModel = iota
	genStreamBase
	genStreamQuery
)

const (
	genBlock      = 1024    // vectors per random stream
	genChunk      = 16      // blocks generated in parallel, then written
	genTruthBytes = 4 << 20 // base rows read per pass over the queries
)

// genRand returns the random source of block b of a stream.
func genRand(seed uint64, stream, b int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x6a09e667f3bcc908, uint64(stream)<<48|uint64(b)))
}

// genModel is a fitted instance of the GenSpec mixture. It is read-only
// after newGenModel and safe for concurrent use.
type genModel struct {
	dim, rank int
	seed      uint64
	noise     float64
	basis     []float64 // dim rows of rank: row d holds coordinate d of the basis vectors
	mean      []float64 // dim
	centres   []float64 // clusters rows of rank
	factors   []float64 // clusters matrices rank×rank, row-major: x = centre + F·z
	cumWeight []float64 // cumulative cluster probabilities; the last is 1
}

func newGenModel(s GenSpec) *genModel {
	rng := genRand(s.Seed, genStreamModel, 0)
	m := &genModel{dim: s.Dim, rank: s.Rank, seed: s.Seed, noise: s.Noise}
	m.basis = genBasis(rng, s.Dim, s.Rank)

	groups := max(1, int(math.Round(math.Sqrt(float64(s.Clusters)))))
	super := genNormals(rng, groups*s.Rank, 1)
	m.centres = make([]float64, s.Clusters*s.Rank)
	for c := range s.Clusters {
		g := rng.IntN(groups)
		for r := range s.Rank {
			m.centres[c*s.Rank+r] = super[g*s.Rank+r] + 0.7*rng.NormFloat64()
		}
	}

	// Column j of a cluster's factor has scale spread·(1+j)^-0.3, jittered:
	// a decaying spectrum, mixed by the Gaussian entries into a random
	// orientation.
	m.factors = make([]float64, s.Clusters*s.Rank*s.Rank)
	inv := 1 / math.Sqrt(float64(s.Rank))
	for c := range s.Clusters {
		spread := s.Spread * math.Exp(0.35*rng.NormFloat64())
		f := m.factors[c*s.Rank*s.Rank : (c+1)*s.Rank*s.Rank]
		for j := range s.Rank {
			scale := spread * math.Pow(float64(1+j), -0.3) * math.Exp(0.25*rng.NormFloat64()) * inv
			for i := range s.Rank {
				f[i*s.Rank+j] = scale * rng.NormFloat64()
			}
		}
	}

	m.cumWeight = make([]float64, s.Clusters)
	total := 0.0
	for c := range m.cumWeight {
		total += math.Exp(rng.NormFloat64())
		m.cumWeight[c] = total
	}
	for c := range m.cumWeight {
		m.cumWeight[c] /= total
	}
	m.cumWeight[s.Clusters-1] = 1

	m.mean = genNormals(rng, s.Dim, 0.5)
	return m
}

// genNormals returns n draws of N(0, sd²).
func genNormals(rng *rand.Rand, n int, sd float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = sd * rng.NormFloat64()
	}
	return v
}

// genBasis returns rank orthonormal vectors of R^dim (rank ≤ dim), stored
// as dim rows of rank: Gram–Schmidt, applied twice for accuracy, to
// Gaussian vectors.
func genBasis(rng *rand.Rand, dim, rank int) []float64 {
	vecs := make([][]float64, rank)
	for r := range vecs {
		v := genNormals(rng, dim, 1)
		for range 2 {
			for _, u := range vecs[:r] {
				dot := 0.0
				for d := range v {
					dot += v[d] * u[d]
				}
				for d := range v {
					v[d] -= dot * u[d]
				}
			}
		}
		norm := 0.0
		for _, x := range v {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		for d := range v {
			v[d] /= norm
		}
		vecs[r] = v
	}
	basis := make([]float64, dim*rank)
	for r, v := range vecs {
		for d, x := range v {
			basis[d*rank+r] = x
		}
	}
	return basis
}

// genScratch is one goroutine's workspace for draw.
type genScratch struct{ z, latent []float64 }

// draw writes one vector into out.
func (m *genModel) draw(rng *rand.Rand, out []float32, ws *genScratch) {
	c := sort.SearchFloat64s(m.cumWeight, rng.Float64())
	R := m.rank
	for i := range ws.z {
		ws.z[i] = rng.NormFloat64()
	}
	f := m.factors[c*R*R : (c+1)*R*R]
	centre := m.centres[c*R : (c+1)*R]
	for i := range R {
		s := centre[i]
		for j, fij := range f[i*R : (i+1)*R] {
			s += fij * ws.z[j]
		}
		ws.latent[i] = s
	}
	for d := range out {
		s := m.mean[d] + m.noise*rng.NormFloat64()
		for r, b := range m.basis[d*R : (d+1)*R] {
			s += b * ws.latent[r]
		}
		out[d] = float32(s)
	}
}

// fill generates rows [first, first+len(out)/dim) of a stream into out;
// first must be a multiple of genBlock. Blocks are drawn in parallel.
func (m *genModel) fill(stream, first int, out []float32) {
	n := len(out) / m.dim
	blocks := (n + genBlock - 1) / genBlock
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(blocks, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			ws := &genScratch{z: make([]float64, m.rank), latent: make([]float64, m.rank)}
			for {
				b := int(next.Add(1)) - 1
				if b >= blocks {
					return
				}
				rng := genRand(m.seed, stream, first/genBlock+b)
				for i := b * genBlock; i < min((b+1)*genBlock, n); i++ {
					m.draw(rng, out[i*m.dim:(i+1)*m.dim], ws)
				}
			}
		})
	}
	wg.Wait()
}

// sample returns rows [first, first+n) of a stream; first must be a
// multiple of genBlock.
func (m *genModel) sample(stream, first, n int) []float32 {
	out := make([]float32, n*m.dim)
	m.fill(stream, first, out)
	return out
}

// writeFile writes n rows of a stream to path in format f, a chunk of
// blocks at a time, calling progress with the rows written so far. It
// checks ctx between chunks.
func (m *genModel) writeFile(ctx context.Context, path string, f vecfile.Format, stream, n int, progress func(done int)) error {
	w, err := genCreate(path, f, vecfile.Float32, m.dim)
	if err != nil {
		return err
	}
	buf := make([]float32, min(n, genChunk*genBlock)*m.dim)
	for done := 0; done < n; {
		if err := ctx.Err(); err != nil {
			w.Close()
			return err
		}
		rows := min(n-done, genChunk*genBlock)
		m.fill(stream, done, buf[:rows*m.dim])
		if err := w.WriteFloat32(buf[:rows*m.dim]); err != nil {
			w.Close()
			return err
		}
		done += rows
		progress(done)
	}
	return w.Close()
}

// genCreate creates a vector file of format f (for NPY, of element e).
func genCreate(path string, f vecfile.Format, e vecfile.Elem, dim int) (*vecfile.Writer, error) {
	if f == vecfile.NPY {
		return vecfile.CreateNPY(path, e, dim)
	}
	return vecfile.Create(path, f, dim)
}

// genNeighbor is one candidate of a top-k.
type genNeighbor struct {
	dist float32
	id   int32
}

// worse orders neighbours: farther, or as far with a higher id.
func (a genNeighbor) worse(b genNeighbor) bool {
	return a.dist > b.dist || (a.dist == b.dist && a.id > b.id)
}

// genTopK keeps the k best neighbours pushed so far: a max-heap on worse,
// so the root is the first to go. Not safe for concurrent use.
type genTopK struct {
	k int
	h []genNeighbor
}

func (t *genTopK) push(dist float32, id int32) {
	c := genNeighbor{dist, id}
	if len(t.h) < t.k {
		t.h = append(t.h, c)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if !t.h[i].worse(t.h[p]) {
				break
			}
			t.h[i], t.h[p] = t.h[p], t.h[i]
			i = p
		}
		return
	}
	if !t.h[0].worse(c) {
		return
	}
	t.h[0] = c
	for i := 0; ; {
		w, l, r := i, 2*i+1, 2*i+2
		if l < len(t.h) && t.h[l].worse(t.h[w]) {
			w = l
		}
		if r < len(t.h) && t.h[r].worse(t.h[w]) {
			w = r
		}
		if w == i {
			return
		}
		t.h[i], t.h[w] = t.h[w], t.h[i]
		i = w
	}
}

// pushAll pushes dists[i] with id first+i for every i. It skips the call
// to push for the candidates that cannot enter (almost all of them, once
// the top-k has filled): those strictly farther than the worst kept.
func (t *genTopK) pushAll(dists []float32, first int32) {
	for i, d := range dists {
		if len(t.h) == t.k && d > t.h[0].dist {
			continue
		}
		t.push(d, first+int32(i))
	}
}

// sorted returns the kept neighbours, best first.
func (t *genTopK) sorted() []genNeighbor {
	s := slices.Clone(t.h)
	slices.SortFunc(s, func(a, b genNeighbor) int {
		switch {
		case a.worse(b):
			return 1
		case b.worse(a):
			return -1
		}
		return 0
	})
	return s
}

// genGroundTruth computes the exact k nearest rows of the float32 vector
// file at path for every query by brute force: the file is read chunkRows
// rows at a time, and the queries are scored against each chunk on all
// cores with the batch kernel. It returns nq·k ids and distances,
// row-major, and calls progress with the rows scanned so far.
func genGroundTruth(ctx context.Context, path string, queries []float32, dim, k, chunkRows int, progress func(done int)) ([]int32, []float32, error) {
	r, err := vecfile.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	if r.Dim() != dim || r.Elem() != vecfile.Float32 {
		return nil, nil, fmt.Errorf("gen: %s holds %d-dimensional %v vectors, want %d-dimensional float32", path, r.Dim(), r.Elem(), dim)
	}
	nq := len(queries) / dim
	k = min(k, r.Len())
	tops := make([]genTopK, nq)
	for i := range tops {
		tops[i] = genTopK{k: k, h: make([]genNeighbor, 0, k)}
	}
	chunk := make([]float32, chunkRows*dim)
	workers := min(nq, runtime.GOMAXPROCS(0))
	dists := make([][]float32, workers)
	for w := range dists {
		dists[w] = make([]float32, chunkRows)
	}
	for done := 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		rows, err := r.Next(vec.F32ToBytes(chunk))
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		data := chunk[:rows*dim]
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
					vec.L2SquaredF32Batch(queries[q*dim:(q+1)*dim], data, out)
					tops[q].pushAll(out, int32(done))
				}
			})
		}
		wg.Wait()
		done += rows
		progress(done)
	}
	ids := make([]int32, 0, nq*k)
	ds := make([]float32, 0, nq*k)
	for i := range tops {
		for _, c := range tops[i].sorted() {
			ids = append(ids, c.id)
			ds = append(ds, c.dist)
		}
	}
	return ids, ds, nil
}

// genWriteTruth writes the ground truth files of files in format f. The
// ids file comes last and appears under its name only when complete, so
// its presence marks a finished data set.
func genWriteTruth(files genFiles, f vecfile.Format, k int, ids []int32, dists []float32) error {
	tmp := files.gt + ".tmp"
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if f == vecfile.FBin {
		if err := genWriteBigANNTruth(tmp, k, ids, dists); err != nil {
			return err
		}
		return os.Rename(tmp, files.gt)
	}
	idFormat, distFormat := vecfile.IVecs, vecfile.FVecs
	if f == vecfile.NPY {
		idFormat, distFormat = vecfile.NPY, vecfile.NPY
	}
	w, err := genCreate(files.gtDist, distFormat, vecfile.Float32, k)
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
	w, err = genCreate(tmp, idFormat, vecfile.Int32, k)
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
	return os.Rename(tmp, files.gt)
}

// genWriteBigANNTruth writes big-ann-benchmarks' ground-truth layout (see
// genPaths), little-endian.
func genWriteBigANNTruth(path string, k int, ids []int32, dists []float32) error {
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
