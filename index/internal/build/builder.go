package build

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/shoaldb/shoal/index/internal/qcodes"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/index/internal/vectors"
	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

type builder struct {
	src     Source
	opts    Options
	n       int
	dim     int
	srcElem vec.ElemType // as the source holds vectors
	elem    vec.ElemType // as the index stores them
	tree    *cluster.Tree
	device  string      // the accelerator's name, "" on the CPU
	dir     string      // the index directory
	parts   *partitions // a partitioned build's spill files, or nil

	spillState spillState

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

// GPUTree is t in package gpu's flat form (sharing t's arrays).
func GPUTree(t *cluster.Tree) *gpu.Tree {
	return &gpu.Tree{
		Dim: t.Dim, Metric: t.Metric, Centroids: t.Centroids,
		ChildStart: t.ChildStart, ChildCount: t.ChildCount, LeafID: t.LeafID,
	}
}

func (b *builder) progress(stage string, done, total int64) {
	if b.opts.Progress == nil {
		return
	}
	b.report(Progress{Stage: stage, Done: done, Total: total})
}

// report passes p to Options.Progress, if set, one call at a time.
func (b *builder) report(p Progress) {
	if b.opts.Progress == nil {
		return
	}
	b.progressMu.Lock()
	defer b.progressMu.Unlock()
	b.opts.Progress(p)
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
	vec.ToFloat32(b.srcElem, raw, dst)
	if b.srcElem == vec.Float32 {
		if err := vec.CheckFinite(dst); err != nil {
			return fmt.Errorf("%w: row %d: %v", errs.NotFinite, row, err)
		}
	}
	if b.opts.Metric == vec.Cosine && !vec.Normalize(dst) {
		return fmt.Errorf("%w: row %d is the zero vector, which has no cosine", errs.BadInput, row)
	}
	return nil
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

// assignWorker assigns chunks of chunkRows vectors in id order.
func (b *builder) assignWorker(next, done *atomic.Int64, chunks int) ([]entry, error) {
	nextChunk, readErr := b.idChunks(next, chunks)
	out, err := b.assignChunks(nextChunk, nil, done)
	if err := readErr(); err != nil {
		return nil, err
	}
	return out, err
}

// idChunks returns a worker's source of chunks in id order: each call of
// nextChunk claims chunk next of chunks (chunkRows rows each, fewer at the
// end) and returns its ids and rows, read from the source into buffers
// reused from call to call, or false once none is left or a read failed;
// readErr then returns the read's error.
func (b *builder) idChunks(next *atomic.Int64, chunks int) (nextChunk func() ([]uint32, []byte, bool), readErr func() error) {
	rb := b.dim * b.srcElem.Size()
	raw := make([]byte, chunkRows*rb)
	ids := make([]uint32, 0, chunkRows)
	var err error
	nextChunk = func() ([]uint32, []byte, bool) {
		c := int(next.Add(1) - 1)
		if c >= chunks || err != nil {
			return nil, nil, false
		}
		lo := c * chunkRows
		cnt := min(chunkRows, b.n-lo)
		if rerr := b.src.ReadRows(lo, cnt, raw[:cnt*rb]); rerr != nil {
			err = fmt.Errorf("shoal: read rows %d..%d: %w", lo, lo+cnt, rerr)
			return nil, nil, false
		}
		ids = ids[:0]
		for j := range cnt {
			ids = append(ids, uint32(lo+j))
		}
		return ids, raw[:cnt*rb], true
	}
	return nextChunk, func() error { return err }
}

// toFloat32Chunk converts the rows raw of ids to float32 rows of xs,
// checked and normalised as toFloat32 does.
func (b *builder) toFloat32Chunk(ids []uint32, raw []byte, xs []float32) error {
	dim := b.dim
	rb := dim * b.srcElem.Size()
	for j, id := range ids {
		if err := b.toFloat32(raw[j*rb:(j+1)*rb], xs[j*dim:(j+1)*dim], int(id)); err != nil {
			return err
		}
	}
	return nil
}

// assignChunks assigns the vectors that next returns, a chunk (ids and
// their rows, at most chunkRows) at a time until it returns false,
// routing each chunk with one SearchBatch: the same nearest heads as a
// Search per vector, a few times faster because the tree's centroid
// blocks are read once per chunk instead of once per vector. recycle, if
// not nil, takes each chunk back once assigned.
func (b *builder) assignChunks(next func() ([]uint32, []byte, bool), recycle func([]uint32, []byte), done *atomic.Int64) ([]entry, error) {
	dim := b.dim
	xs := make([]float32, chunkRows*dim)
	var ws cluster.BatchWorkspace
	var kept []cluster.Candidate
	var out []entry
	beam := 2 * b.opts.Candidates
	closure := b.opts.Metric != vec.InnerProduct
	for {
		ids, raw, ok := next()
		if !ok {
			return out, nil
		}
		cnt := len(ids)
		if err := b.toFloat32Chunk(ids, raw, xs); err != nil {
			return nil, err
		}
		heads := b.tree.SearchBatch(xs[:cnt*dim], b.opts.Candidates, beam, &ws)
		before := len(out)
		for j, cands := range heads {
			kept = b.selectReplicas(xs[j*dim:(j+1)*dim], cands, kept[:0], closure)
			for i, h := range kept {
				out = append(out, entry{posting: h.Leaf, id: ids[j], dist: h.Dist, primary: i == 0})
			}
		}
		if recycle != nil {
			recycle(ids, raw)
		}
		var err error
		if out, err = b.keepOrSpill(out, before, cnt); err != nil {
			return nil, err
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
	closure := b.opts.Metric != vec.InnerProduct
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
		before := len(out)
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
		var err error
		if out, err = b.keepOrSpill(out, before, cnt); err != nil {
			return nil, err
		}
		d := done.Add(int64(cnt))
		b.progress("assign", d, int64(b.n))
	}
}

// keepOrSpill notes the entries a worker added to out (from index
// before on) for rows vectors, and once the table spills (entryspill.go)
// moves all of out to the spill; it returns what the worker keeps.
func (b *builder) keepOrSpill(out []entry, before, rows int) ([]entry, error) {
	s, err := b.noteEntries(len(out)-before, rows)
	if err != nil || s == nil {
		return out, err
	}
	if err := s.add(out); err != nil {
		return nil, err
	}
	return out[:0], nil
}

func (b *builder) selectReplicas(x []float32, cands, kept []cluster.Candidate, closure bool) []cluster.Candidate {
	return cluster.SelectReplicas(b.tree, cluster.ReplicaRule{Replicas: b.opts.Replicas, RNGFactor: b.opts.RNGFactor, ClosureEpsilon: b.opts.ClosureEpsilon, Closure: closure}, x, cands, kept)
}

// capPostings groups entries, all of postings lo..lo+heads-1, by posting,
// sorts each posting nearest first and drops the farthest replica entries
// beyond PostingCap (primary entries are never dropped, so every vector
// stays reachable). It returns the lists of postings lo.. and the number
// of entries dropped.
func (b *builder) capPostings(entries []entry, lo, heads int) ([][]entry, int64) {
	counts := make([]int, heads+1)
	for _, e := range entries {
		counts[int(e.posting)-lo+1]++
	}
	for i := 1; i <= heads; i++ {
		counts[i] += counts[i-1]
	}
	sorted := make([]entry, len(entries))
	pos := append([]int(nil), counts[:heads]...)
	for _, e := range entries {
		p := int(e.posting) - lo
		sorted[pos[p]] = e
		pos[p]++
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

// write caps the postings of entries (all of them in memory) or of the
// spilled table, encodes every non-empty posting and loads them into
// store with one bulk ingestion, in id order. It returns the entries
// written and the entries the cap dropped.
func (b *builder) write(store Store, entries []entry) (written, dropped int64, err error) {
	bw, err := store.NewBulkWriter()
	if err != nil {
		return 0, 0, err
	}
	heads := b.tree.NumLeaves()
	s := b.spillState.spill.Load()
	if s == nil {
		lists, d := b.capPostings(entries, 0, heads)
		entries = nil
		written, err = b.writeLists(bw, 0, lists)
		dropped = d
	} else {
		defer os.RemoveAll(s.dir)
		if err = s.add(entries); err == nil {
			err = s.finish()
		}
		entries = nil
		for k := range s.files {
			if err != nil {
				break
			}
			var es []entry
			if es, err = s.read(k); err != nil {
				break
			}
			lo := k * s.per
			lists, d := b.capPostings(es, lo, min(s.per, heads-lo))
			dropped += d
			var w int64
			w, err = b.writeLists(bw, lo, lists)
			written += w
			if err == nil {
				err = os.Remove(s.name(k))
			}
		}
	}
	if err != nil {
		bw.Abort()
		return 0, 0, err
	}
	return written, dropped, bw.Commit()
}

// writeLists encodes the postings lo, lo+1, ... of lists and adds them to
// bw in id order. Postings are encoded by workers in groups. It returns
// the number of entries written; on error the caller aborts bw.
func (b *builder) writeLists(bw posting.BulkWriter, lo int, lists [][]entry) (int64, error) {
	heads := int64(b.tree.NumLeaves())
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
					e, err := enc.encode(lo+p, lists[p])
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
			if err := bw.Add(uint32(lo+p), e); err != nil {
				werr = err
				break
			}
			written += int64(len(lists[p]))
		}
		b.progress("write", int64(lo+min((g+1)*group, len(lists))), heads)
	}
	close(stop)
	wg.Wait()
	return written, werr
}

// encoder reads the member vectors of a posting and encodes it.
type encoder struct {
	b   *builder
	q   *qcodes.Encoder // for a quantized build
	src []byte          // one source row
	raw []byte          // the posting's rows, stored element type
	ids []uint64
	ver []uint8
	f   []float32
}

func (e *encoder) encode(head int, l []entry) ([]byte, error) {
	if len(l) == 0 {
		return nil, nil
	}
	b := e.b
	rb := b.dim * b.elem.Size()
	e.raw = slices.Grow(e.raw[:0], len(l)*rb)[:len(l)*rb]
	e.ids = e.ids[:0]
	same := b.srcElem == b.elem && b.opts.Metric != vec.Cosine
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
			vec.ToFloat32(b.srcElem, e.src, e.f)
			if b.opts.Metric == vec.Cosine {
				vec.Normalize(e.f)
			}
			if err := vec.FromFloat32(b.elem, e.f, row); err != nil {
				return nil, fmt.Errorf("%w: row %d: %v", errs.BadInput, en.id, err)
			}
		}
		e.ids = append(e.ids, uint64(en.id))
	}
	if len(e.ver) < len(l) {
		e.ver = make([]uint8, len(l))
	}
	if b.opts.Quant != nil {
		if e.q == nil {
			e.q = qcodes.New(b.opts.Quant)
		}
		enc, err := e.q.Posting(nil, b.elem, b.tree.Head(head), e.ids, e.ver[:len(l)], e.raw)
		if err != nil {
			return nil, fmt.Errorf("%w: posting %d: %v", errs.BadInput, head, err)
		}
		return enc, nil
	}
	p := posting.Posting{Elem: b.elem, Dim: b.dim, IDs: e.ids, Versions: e.ver[:len(l)], Vectors: e.raw}
	return posting.Encode(nil, &p), nil
}

// writeVectors streams the source once more and writes VectorsFile,
// synced, before the manifest commits the build.
func (b *builder) writeVectors(dir string) error {
	path := filepath.Join(dir, VectorsFile)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("shoal: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	srb := b.dim * b.srcElem.Size()
	rb := b.dim * b.elem.Size()
	newWriter := vectors.NewWriter
	if b.opts.Quant != nil {
		// The rerank reads single blocks with direct I/O.
		newWriter = vectors.NewAlignedWriter
	}
	w, err := newWriter(bw, b.n, rb)
	raw := make([]byte, chunkRows*srb)
	row := make([]byte, rb)
	x := make([]float32, b.dim)
	for lo := 0; lo < b.n && err == nil; lo += chunkRows {
		cnt := min(chunkRows, b.n-lo)
		if err = b.src.ReadRows(lo, cnt, raw[:cnt*srb]); err != nil {
			err = fmt.Errorf("shoal: read rows %d..%d: %w", lo, lo+cnt, err)
			break
		}
		if b.srcElem == b.elem && b.opts.Metric != vec.Cosine {
			err = w.Write(raw[:cnt*srb])
			continue
		}
		for j := 0; j < cnt && err == nil; j++ {
			vec.ToFloat32(b.srcElem, raw[j*srb:(j+1)*srb], x)
			if b.opts.Metric == vec.Cosine {
				vec.Normalize(x)
			}
			if err = vec.FromFloat32(b.elem, x, row); err != nil {
				err = fmt.Errorf("%w: row %d: %v", errs.BadInput, lo+j, err)
				break
			}
			err = w.Write(row)
		}
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("shoal: write %s: %w", path, err)
	}
	_ = directio.DropCache(path)
	return nil
}
