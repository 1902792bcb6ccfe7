package index

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// chunkRows is the number of rows a build worker reads at once.
const chunkRows = 1024

// Build builds an index of src in dir, which must not exist or be empty,
// and returns its manifest. The build streams src: it holds at most
// Options.SampleSize vectors (for clustering) plus the assignment table
// (16 bytes per posting entry) in memory.
//
// Build is SPANN's offline build: hierarchical balanced k-means picks the
// heads (package cluster), every vector is assigned to up to Replicas heads
// by closure assignment with the RNG rule, postings are capped, and all of
// them are written in one sequential bulk load. The manifest is written last,
// so an interrupted build leaves a directory that Open rejects with
// ErrNoIndex.
func Build(dir string, src Source, o *Options) (*Manifest, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
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
	if opts.PostingCap == 0 {
		opts.PostingCap = defaultPostingCap(dim * elem.Size())
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	start := time.Now()
	b := &builder{src: src, opts: opts, n: n, dim: dim, srcElem: srcElem, elem: elem}
	accel, closeAccel, err := b.openAccel()
	if err != nil {
		return nil, err
	}
	defer closeAccel()

	sample, err := b.readSample()
	if err != nil {
		return nil, err
	}
	b.logStage("sample", start)
	stage := time.Now()
	leaves := min(max(1, int(math.Round(opts.Ratio*float64(n)))), len(sample)/dim)
	co := cluster.Options{
		K:       opts.K,
		Leaves:  leaves,
		Seed:    opts.Seed,
		Workers: opts.Workers,
		Metric:  routingMetric(opts.Metric),
		Progress: func(done, total int) {
			b.progress("cluster", int64(done), int64(total))
		},
	}
	var pts gpu.Points
	if accel != nil {
		if pts, err = loadOnDevice(b, "the clustering sample", func() (gpu.Points, error) { return accel.LoadPoints(sample, dim) }); err != nil {
			return nil, err
		}
		if pts != nil {
			co.Accel = pts
		}
	}
	tree, err := cluster.Build(sample, dim, co)
	if pts != nil {
		if cerr := pts.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("shoal: cluster: %w", err)
	}
	b.logStage("cluster", stage)
	b.tree = tree
	sample = nil
	debug.FreeOSMemory() // the sample is the largest allocation of the build

	stage = time.Now()
	var entries []entry
	var heads gpu.TreeIndex
	if accel != nil {
		if heads, err = loadOnDevice(b, "the heads", func() (gpu.TreeIndex, error) { return accel.LoadTree(gpuTree(tree)) }); err != nil {
			return nil, err
		}
	}
	if heads != nil {
		entries, err = b.assignAccel(heads)
		if cerr := heads.Close(); err == nil {
			err = cerr
		}
	} else {
		entries, err = b.assign()
	}
	if err != nil {
		return nil, err
	}
	b.logStage("assign", stage)
	stage = time.Now()
	lists, dropped := b.capPostings(entries)
	entries = nil

	store, err := createStore(dir, opts.Shared, &pebblestore.Options{CacheBytes: 8 << 20})
	if err != nil {
		return nil, err
	}
	written, err := b.write(store.PostingStore(), lists)
	if err == nil {
		err = b.writeVectors(dir)
	}
	if err == nil {
		err = writeTree(dir, tree)
	}
	m := &Manifest{
		Version: manifestVersion, Dim: dim, Elem: elem, Metric: opts.Metric, Count: n,
		Heads: tree.NumLeaves(), Replicas: opts.Replicas, PostingCap: opts.PostingCap,
		Ratio: opts.Ratio, RNGFactor: opts.RNGFactor, Seed: opts.Seed,
		Entries: written, Dropped: dropped, BuiltAt: start.UTC(),
	}
	m.BuildSecs = time.Since(start).Seconds()
	if err == nil {
		// The commit point: only now does the directory hold an index.
		err = store.SetMeta(metaManifest, m.marshal())
	}
	if err == nil {
		_ = store.DropPageCache()
	}
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	b.logStage("write", stage)
	return m, nil
}

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

// routingMetric is the metric the tree routes by: squared L2 to centroids
// for L2 and Cosine (on normalised vectors), −dot for inner product.
func routingMetric(m Metric) Metric {
	if m == InnerProduct {
		return InnerProduct
	}
	return L2
}

type builder struct {
	src     Source
	opts    Options
	n       int
	dim     int
	srcElem ElemType // as the source holds vectors
	elem    ElemType // as the index stores them
	tree    *cluster.Tree
	device  string // the accelerator's name, "" on the CPU

	progressMu sync.Mutex
}

func (b *builder) logf(format string, args ...any) {
	if b.opts.Logf != nil {
		b.opts.Logf(format, args...)
	}
}

// logStage logs how long a build stage took since start.
func (b *builder) logStage(stage string, start time.Time) {
	where := ""
	if b.device != "" && (stage == "cluster" || stage == "assign") {
		where = " on " + b.device
	}
	b.logf("build: %s took %.2fs%s", stage, time.Since(start).Seconds(), where)
}

// openAccel returns the backend that runs Build's k-means and
// nearest-heads steps (Options.GPU, Options.GPUBackend), or nil for the
// CPU code of packages cluster and index, and a function releasing it.
func (b *builder) openAccel() (gpu.Backend, func(), error) {
	o := &b.opts
	if o.GPUBackend != nil {
		b.device = o.GPUBackend.Info().Name
		return o.GPUBackend, func() {}, nil
	}
	if o.GPU == gpu.Off {
		return nil, func() {}, nil
	}
	be, err := gpu.Open(&gpu.Options{Mode: o.GPU, Logf: o.Logf})
	if err != nil {
		return nil, nil, fmt.Errorf("shoal: GPU mode %v: %w", o.GPU, err)
	}
	if be.Info().Kind != gpu.KindCUDA {
		// Auto without a device: the CPU code, exactly as with GPU off.
		be.Close()
		return nil, func() {}, nil
	}
	b.device = be.Info().Name
	return be, func() { be.Close() }, nil
}

// loadOnDevice makes an input resident on the accelerator. An input too
// large for the device's memory leaves its step to the CPU (zero T, nil
// error), unless Options.GPU is On.
func loadOnDevice[T any](b *builder, what string, load func() (T, error)) (T, error) {
	v, err := load()
	if err == nil {
		return v, nil
	}
	var zero T
	if errors.Is(err, gpu.ErrOutOfMemory) && b.opts.GPU != gpu.On {
		b.logf("build: %s do not fit on the device (%v); that step runs on the CPU", what, err)
		return zero, nil
	}
	return zero, fmt.Errorf("shoal: %s on the device: %w", what, err)
}

// gpuTree is t in package gpu's flat form (sharing t's arrays).
func gpuTree(t *cluster.Tree) *gpu.Tree {
	return &gpu.Tree{
		Dim: t.Dim, Metric: t.Metric, Centroids: t.Centroids,
		ChildStart: t.ChildStart, ChildCount: t.ChildCount, LeafID: t.LeafID,
	}
}

func (b *builder) progress(stage string, done, total int64) {
	if b.opts.Progress == nil {
		return
	}
	b.progressMu.Lock()
	defer b.progressMu.Unlock()
	b.opts.Progress(Progress{Stage: stage, Done: done, Total: total})
}

// readSample reads the clustering sample: every vector if there are at most
// SampleSize, else SampleSize evenly spaced rows. Vectors are converted to
// float32, checked and (for Cosine) normalised.
func (b *builder) readSample() ([]float32, error) {
	s := min(b.n, b.opts.SampleSize)
	out := make([]float32, s*b.dim)
	rb := b.dim * b.srcElem.Size()
	raw := make([]byte, chunkRows*rb)
	for i := 0; i < s; {
		var rows []int // source rows of sample rows i..i+len(rows)
		if s == b.n {
			cnt := min(chunkRows, s-i)
			if err := b.src.ReadRows(i, cnt, raw[:cnt*rb]); err != nil {
				return nil, fmt.Errorf("shoal: read rows %d..%d: %w", i, i+cnt, err)
			}
			for j := 0; j < cnt; j++ {
				rows = append(rows, i+j)
			}
		} else {
			for j := 0; j < chunkRows && i+j < s; j++ {
				r := int(int64(i+j) * int64(b.n) / int64(s))
				if err := b.src.ReadRows(r, 1, raw[j*rb:(j+1)*rb]); err != nil {
					return nil, fmt.Errorf("shoal: read row %d: %w", r, err)
				}
				rows = append(rows, r)
			}
		}
		for j, r := range rows {
			dst := out[(i+j)*b.dim : (i+j+1)*b.dim]
			if err := b.toFloat32(raw[j*rb:(j+1)*rb], dst, r); err != nil {
				return nil, err
			}
		}
		i += len(rows)
		b.progress("sample", int64(i), int64(s))
	}
	return out, nil
}

// toFloat32 converts one raw row to float32, checks it and normalises it
// for Cosine. row is the source row, for error messages.
func (b *builder) toFloat32(raw []byte, dst []float32, row int) error {
	toFloat32(b.srcElem, raw, dst)
	if b.srcElem == Float32 {
		if err := vec.CheckFinite(dst); err != nil {
			return fmt.Errorf("%w: row %d: %v", ErrNotFinite, row, err)
		}
	}
	if b.opts.Metric == Cosine && !vec.Normalize(dst) {
		return fmt.Errorf("%w: row %d is the zero vector, which has no cosine", ErrBadInput, row)
	}
	return nil
}

// toFloat32 widens a raw little-endian row of elem into dst.
func toFloat32(elem ElemType, raw []byte, dst []float32) {
	switch elem {
	case Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
		}
	case Uint8:
		for i := range dst {
			dst[i] = float32(raw[i])
		}
	case Int8:
		for i := range dst {
			dst[i] = float32(int8(raw[i]))
		}
	case Float16:
		for i := range dst {
			dst[i] = vec.Float16frombits(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
	}
}

// entry is one (posting, vector) assignment.
type entry struct {
	posting uint32
	id      uint32
	dist    float32
	primary bool // the vector's nearest head: never dropped by the cap
}

// assign streams the source and picks each vector's postings: its nearest
// Candidates heads by tree search, filtered by closure assignment and the
// RNG rule (SPANN §3.2), at most Replicas of them.
func (b *builder) assign() ([]entry, error) {
	var next, done atomic.Int64
	chunks := (b.n + chunkRows - 1) / chunkRows
	return gatherEntries(b.opts.Workers, func() ([]entry, error) {
		return b.assignWorker(&next, &done, chunks)
	})
}

// gatherEntries runs work on workers goroutines and concatenates what they
// return.
func gatherEntries(workers int, work func() ([]entry, error)) ([]entry, error) {
	results := make([][]entry, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			results[w], errs[w] = work()
		}(w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	total := 0
	for _, r := range results {
		total += len(r)
	}
	all := make([]entry, 0, total)
	for i, r := range results {
		all = append(all, r...)
		results[i] = nil
	}
	return all, nil
}

func (b *builder) assignWorker(next, done *atomic.Int64, chunks int) ([]entry, error) {
	rb := b.dim * b.srcElem.Size()
	raw := make([]byte, chunkRows*rb)
	x := make([]float32, b.dim)
	var ws cluster.Workspace
	var kept []cluster.Candidate
	var out []entry
	beam := 2 * b.opts.Candidates
	closure := b.opts.Metric != InnerProduct
	for {
		c := int(next.Add(1) - 1)
		if c >= chunks {
			return out, nil
		}
		lo := c * chunkRows
		cnt := min(chunkRows, b.n-lo)
		if err := b.src.ReadRows(lo, cnt, raw[:cnt*rb]); err != nil {
			return nil, fmt.Errorf("shoal: read rows %d..%d: %w", lo, lo+cnt, err)
		}
		for j := 0; j < cnt; j++ {
			id := lo + j
			if err := b.toFloat32(raw[j*rb:(j+1)*rb], x, id); err != nil {
				return nil, err
			}
			cands := b.tree.Search(x, b.opts.Candidates, beam, &ws)
			kept = b.selectReplicas(x, cands, kept[:0], closure)
			for i, h := range kept {
				out = append(out, entry{posting: h.Leaf, id: uint32(id), dist: h.Dist, primary: i == 0})
			}
		}
		d := done.Add(int64(cnt))
		b.progress("assign", d, int64(b.n))
	}
}

// accelRows is the number of rows an assignAccel worker reads and
// searches at once: one batch of the device's tree search.
const accelRows = 8192

// assignAccel is assign with the nearest heads found by heads (a
// TreeIndex on the accelerator), a batch of rows at a time; each worker
// then applies the RNG rule to its batch on the CPU while others' batches
// are on the device.
func (b *builder) assignAccel(heads gpu.TreeIndex) ([]entry, error) {
	var next, done atomic.Int64
	chunks := (b.n + accelRows - 1) / accelRows
	return gatherEntries(min(b.opts.Workers, chunks), func() ([]entry, error) {
		return b.assignAccelWorker(heads, &next, &done, chunks)
	})
}

func (b *builder) assignAccelWorker(heads gpu.TreeIndex, next, done *atomic.Int64, chunks int) ([]entry, error) {
	dim, nc := b.dim, b.opts.Candidates
	rb := dim * b.srcElem.Size()
	raw := make([]byte, accelRows*rb)
	xs := make([]float32, accelRows*dim)
	leaves := make([]int32, accelRows*nc)
	dists := make([]float32, accelRows*nc)
	cands := make([]cluster.Candidate, 0, nc)
	var kept []cluster.Candidate
	var out []entry
	beam := 2 * nc
	closure := b.opts.Metric != InnerProduct
	for {
		c := int(next.Add(1) - 1)
		if c >= chunks {
			return out, nil
		}
		lo := c * accelRows
		cnt := min(accelRows, b.n-lo)
		if err := b.src.ReadRows(lo, cnt, raw[:cnt*rb]); err != nil {
			return nil, fmt.Errorf("shoal: read rows %d..%d: %w", lo, lo+cnt, err)
		}
		for j := 0; j < cnt; j++ {
			if err := b.toFloat32(raw[j*rb:(j+1)*rb], xs[j*dim:(j+1)*dim], lo+j); err != nil {
				return nil, err
			}
		}
		if err := heads.Search(xs[:cnt*dim], nc, beam, leaves[:cnt*nc], dists[:cnt*nc]); err != nil {
			return nil, fmt.Errorf("shoal: nearest heads of rows %d..%d: %w", lo, lo+cnt, err)
		}
		for j := 0; j < cnt; j++ {
			cands = cands[:0]
			for r := j * nc; r < (j+1)*nc && leaves[r] >= 0; r++ {
				cands = append(cands, cluster.Candidate{Leaf: uint32(leaves[r]), Dist: dists[r]})
			}
			kept = b.selectReplicas(xs[j*dim:(j+1)*dim], cands, kept[:0], closure)
			for i, h := range kept {
				out = append(out, entry{posting: h.Leaf, id: uint32(lo + j), dist: h.Dist, primary: i == 0})
			}
		}
		d := done.Add(int64(cnt))
		b.progress("assign", d, int64(b.n))
	}
}

// selectReplicas applies closure assignment and the RNG rule to the
// candidate heads (nearest first) of x. SPANN §3.2: h_i is kept only if
// d(x,h_i) ≤ (1+ε₁)·d(x,h_1), and no already kept h_j has
// RNGFactor·d(h_i,h_j) < d(x,h_i) — a vector is replicated to heads in
// different directions, not to a cluster of near-duplicate heads. The
// RNG test uses squared L2 whatever the metric.
func (b *builder) selectReplicas(x []float32, cands, kept []cluster.Candidate, closure bool) []cluster.Candidate {
	return selectReplicas(b.tree, replicaRule{b.opts.Replicas, b.opts.RNGFactor, b.opts.ClosureEpsilon, closure}, x, cands, kept)
}

// replicaRule holds the parameters of selectReplicas.
type replicaRule struct {
	replicas       int
	rngFactor      float64
	closureEpsilon float64
	closure        bool // false for InnerProduct: no closure bound
}

func selectReplicas(t *cluster.Tree, r replicaRule, x []float32, cands, kept []cluster.Candidate) []cluster.Candidate {
	if len(cands) == 0 {
		return kept
	}
	limit := float32((1 + r.closureEpsilon) * float64(cands[0].Dist))
	for _, c := range cands {
		if len(kept) == r.replicas {
			break
		}
		if r.closure && len(kept) > 0 && c.Dist > limit {
			break
		}
		hc := t.Head(int(c.Leaf))
		dxc := c.Dist
		if !r.closure {
			dxc = vec.L2SquaredF32(x, hc)
		}
		ok := true
		for _, k := range kept {
			if float32(r.rngFactor)*vec.L2SquaredF32(hc, t.Head(int(k.Leaf))) < dxc {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	return kept
}

// capPostings groups entries by posting, sorts each posting nearest first
// and drops the farthest replica entries beyond PostingCap (primary entries
// are never dropped, so every vector stays reachable). It returns the
// per-posting lists and the number of entries dropped.
func (b *builder) capPostings(entries []entry) ([][]entry, int64) {
	heads := b.tree.NumLeaves()
	counts := make([]int, heads+1)
	for _, e := range entries {
		counts[e.posting+1]++
	}
	for i := 1; i <= heads; i++ {
		counts[i] += counts[i-1]
	}
	sorted := make([]entry, len(entries))
	pos := append([]int(nil), counts[:heads]...)
	for _, e := range entries {
		sorted[pos[e.posting]] = e
		pos[e.posting]++
	}
	lists := make([][]entry, heads)
	var dropped int64
	for p := 0; p < heads; p++ {
		l := sorted[counts[p]:counts[p+1]]
		slices.SortFunc(l, func(a, c entry) int {
			if a.dist != c.dist {
				if a.dist < c.dist {
					return -1
				}
				return 1
			}
			return int(a.id) - int(c.id)
		})
		if len(l) > b.opts.PostingCap {
			primaries := 0
			for _, e := range l {
				if e.primary {
					primaries++
				}
			}
			room := max(0, b.opts.PostingCap-primaries)
			kept := l[:0]
			for _, e := range l {
				if e.primary || room > 0 {
					if !e.primary {
						room--
					}
					kept = append(kept, e)
				}
			}
			dropped += int64(len(l) - len(kept))
			l = kept
		}
		lists[p] = l
	}
	return lists, dropped
}

// write encodes every non-empty posting and loads them into store with one
// bulk ingestion. Postings are encoded by workers in groups and added in
// id order. It returns the number of entries written.
func (b *builder) write(store posting.Store, lists [][]entry) (int64, error) {
	bw, err := store.NewBulkWriter()
	if err != nil {
		return 0, err
	}
	const group = 64
	groups := (len(lists) + group - 1) / group
	type result struct {
		enc [][]byte
		err error
	}
	out := make([]chan result, groups)
	for g := range out {
		out[g] = make(chan result, 1)
	}
	// tokens bounds the encoded groups waiting for the writer. A worker
	// takes a token before it claims a group, so the lowest unwritten group
	// always belongs to a worker that holds one and can finish it.
	tokens := make(chan struct{}, 2*b.opts.Workers)
	for range cap(tokens) {
		tokens <- struct{}{}
	}
	stop := make(chan struct{})
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < b.opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := &encoder{b: b}
			for {
				select {
				case <-tokens:
				case <-stop:
					return
				}
				g := int(next.Add(1) - 1)
				if g >= groups {
					return
				}
				var r result
				for p := g * group; p < min((g+1)*group, len(lists)); p++ {
					e, err := enc.encode(lists[p])
					if err != nil {
						r.err = err
						break
					}
					r.enc = append(r.enc, e)
				}
				out[g] <- r
			}
		}()
	}
	var written int64
	var werr error
	for g := 0; g < groups && werr == nil; g++ {
		r := <-out[g]
		tokens <- struct{}{}
		if r.err != nil {
			werr = r.err
			break
		}
		for i, e := range r.enc {
			p := g*group + i
			if len(lists[p]) == 0 {
				continue
			}
			if err := bw.Add(uint32(p), e); err != nil {
				werr = err
				break
			}
			written += int64(len(lists[p]))
		}
		b.progress("write", int64(min((g+1)*group, len(lists))), int64(len(lists)))
	}
	close(stop)
	wg.Wait()
	if werr != nil {
		bw.Abort()
		return 0, werr
	}
	return written, bw.Commit()
}

// encoder reads the member vectors of a posting and encodes it.
type encoder struct {
	b   *builder
	src []byte // one source row
	raw []byte // the posting's rows, stored element type
	ids []uint64
	ver []uint8
	f   []float32
}

func (e *encoder) encode(l []entry) ([]byte, error) {
	if len(l) == 0 {
		return nil, nil
	}
	b := e.b
	rb := b.dim * b.elem.Size()
	e.raw = slices.Grow(e.raw[:0], len(l)*rb)[:len(l)*rb]
	e.ids = e.ids[:0]
	same := b.srcElem == b.elem && b.opts.Metric != Cosine
	if !same && len(e.f) != b.dim {
		e.f = make([]float32, b.dim)
		e.src = make([]byte, b.dim*b.srcElem.Size())
	}
	for i, en := range l {
		row := e.raw[i*rb : (i+1)*rb]
		if same {
			if err := b.src.ReadRows(int(en.id), 1, row); err != nil {
				return nil, fmt.Errorf("shoal: read row %d: %w", en.id, err)
			}
		} else {
			if err := b.src.ReadRows(int(en.id), 1, e.src); err != nil {
				return nil, fmt.Errorf("shoal: read row %d: %w", en.id, err)
			}
			toFloat32(b.srcElem, e.src, e.f)
			if b.opts.Metric == Cosine {
				vec.Normalize(e.f)
			}
			if err := fromFloat32(b.elem, e.f, row); err != nil {
				return nil, fmt.Errorf("%w: row %d: %v", ErrBadInput, en.id, err)
			}
		}
		e.ids = append(e.ids, uint64(en.id))
	}
	if len(e.ver) < len(l) {
		e.ver = make([]uint8, len(l))
	}
	p := posting.Posting{Elem: b.elem, Dim: b.dim, IDs: e.ids, Versions: e.ver[:len(l)], Vectors: e.raw}
	return posting.Encode(nil, &p), nil
}

// fromFloat32 writes v as a raw little-endian row of elem. Integer types
// take only exact integers in range: conversion is lossless or an error.
// Float16 rounds to nearest (lossy, documented at Options.Elem).
func fromFloat32(elem ElemType, v []float32, raw []byte) error {
	switch elem {
	case Float32:
		copy(raw, vec.F32ToBytes(v))
	case Float16:
		for i, x := range v {
			if x >= 65520 || x <= -65520 {
				return fmt.Errorf("value %v at dimension %d is beyond float16's range (±65504)", x, i)
			}
		}
		vec.F32ToF16(vec.BytesToF16(raw[:2*len(v)]), v)
	case Uint8, Int8:
		lo, hi := 0.0, 255.0
		if elem == Int8 {
			lo, hi = -128, 127
		}
		for i, x := range v {
			f := float64(x)
			if f != math.Trunc(f) || f < lo || f > hi {
				return fmt.Errorf("value %v at dimension %d is not an exact %v", x, i, elem)
			}
			if elem == Int8 {
				raw[i] = byte(int8(f))
			} else {
				raw[i] = uint8(f)
			}
		}
	}
	return nil
}
