package build

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/internal/filecopy"
	"github.com/shoaldb/shoal/internal/vec"
)

// A partitioned build clusters every vector, not a sample, so the number
// of heads is Ratio × n at any n (a sampled build can have at most one
// head per sample row, and has few sample rows per head long before
// that). It runs when the sample does not hold the whole source and the
// heads wanted outnumber the sample rows / minSamplePerHead:
//
//  1. the sample is clustered into P partitions, P = ⌈n / partRows⌉
//     (partRows = SampleSize / 2, so that a partition twice the average
//     size still fits the sample's memory);
//  2. one streaming pass routes every vector to its nearest partition and
//     appends (id, row) to that partition's spill file in the index
//     directory (PartitionDir; as many bytes as the source);
//  3. each partition in turn is read back (its rows sorted by id, so the
//     result does not depend on the order the workers wrote them; at most
//     SampleSize rows, picked by a hash of the id if it holds more) and
//     clustered into Ratio × its size heads, on all workers;
//  4. cluster.Graft puts the partitions' trees under the top tree, and the
//     spill files are removed.
//
// The assignment that follows routes through the whole tree as for a
// sampled build, so a vector near a partition border still gets heads on
// both sides. Memory: one partition's rows (≤ SampleSize) at a time, as
// the sample.

// minSamplePerHead is the fewest sample rows per head a sampled build
// clusters; with fewer, the build partitions.
const minSamplePerHead = 8

// PartitionDir is the directory, in the index directory, that holds a
// partitioned build's spill files while it runs.
const PartitionDir = "build-partitions"

// partitioned reports whether a build of n rows wanting leaves heads from
// a sample of sampleRows rows partitions.
func partitioned(n, sampleRows, leaves int) bool {
	return sampleRows < n && leaves > sampleRows/minSamplePerHead
}

// clusterPartitioned builds the tree of a partitioned build from a
// sample of the source and the source; accel, if not nil, runs each
// partition's k-means. It checkpoints the partitions' tree, the spill and
// each partition's sub-tree in cp and, when resumed, reuses those that cp
// holds.
func (b *builder) clusterPartitioned(cp *checkpoint, resumed bool, dir string, leaves int, accel gpu.Backend) (*cluster.Tree, error) {
	start := time.Now()
	partRows := max(1, b.opts.SampleSize/2)
	parts := max(2, (b.n+partRows-1)/partRows)
	pdir := filepath.Join(dir, PartitionDir)
	b.parts = &partitions{dir: pdir} // Run removes pdir
	var top *cluster.Tree
	var err error
	if resumed {
		if top, err = cp.loadTree("top.shct"); err != nil {
			return nil, err
		}
	}
	if top == nil {
		sample, err := b.readSample()
		if err != nil {
			return nil, err
		}
		b.logStage("sample", start)
		start = time.Now()
		sampleRows := len(sample) / b.dim
		// Vectors go to their nearest partition in L2, as k-means
		// partitions (for an inner-product index too: by −dot they would
		// crowd into the partitions of the longest centroids); the grafted
		// tree routes by the index's routing metric, as a sampled build's
		// does.
		top, err = cluster.Build(sample, b.dim, cluster.Options{
			K: b.opts.K, Leaves: parts, Seed: b.opts.Seed, Workers: b.opts.Workers, Metric: vec.L2,
		})
		if err != nil {
			return nil, fmt.Errorf("shoal: cluster the partitions: %w", err)
		}
		sample = nil
		debug.FreeOSMemory()
		b.logf("build: %d heads wanted, %d sample rows: %d partitions of about %d rows, each clustered whole", leaves, sampleRows, top.NumLeaves(), b.n/top.NumLeaves())
		if err := cp.saveTree(top, "top.shct"); err != nil {
			return nil, err
		}
	}
	parts = top.NumLeaves()
	var sizes []int64
	if resumed && len(cp.state.Sizes) == parts && b.spillsComplete(pdir, cp.state.Sizes) {
		sizes = cp.state.Sizes
		b.logf("build: resumed: %d partitions already spilled", parts)
	} else {
		if err := os.RemoveAll(pdir); err != nil {
			return nil, fmt.Errorf("shoal: %w", err)
		}
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			return nil, fmt.Errorf("shoal: %w", err)
		}
		if sizes, err = b.spill(top, pdir, parts); err != nil {
			return nil, err
		}
		cp.state.Sizes = sizes
		if err := cp.save(); err != nil {
			return nil, err
		}
	}
	b.parts.sizes = sizes
	subs := make([]*cluster.Tree, parts)
	var done int64
	reused := 0
	for p := range subs {
		want := max(1, int(math.Round(b.opts.Ratio*float64(sizes[p]))))
		if sizes[p] == 0 {
			continue // the top leaf stays a head with no points
		}
		if resumed {
			if subs[p], err = cp.loadTree(subName(p)); err != nil {
				return nil, err
			}
			if subs[p] != nil {
				reused++
				done += sizes[p]
				continue
			}
		}
		pts, err := b.readPartition(pdir, p, sizes[p])
		if err != nil {
			return nil, err
		}
		base := done
		co := cluster.Options{
			K: b.opts.K, Leaves: want, Seed: b.opts.Seed + uint64(p) + 1, Workers: b.opts.Workers, Metric: RoutingMetric(b.opts.Metric),
			Progress: func(d, total int) {
				b.report(Progress{Stage: "cluster", Done: base + int64(d)*sizes[p]/int64(total), Total: int64(b.n), Part: p + 1, Parts: parts})
			},
		}
		subs[p], err = b.clusterOn(accel, fmt.Sprintf("partition %d", p), pts, co)
		if err != nil {
			return nil, fmt.Errorf("shoal: cluster partition %d: %w", p, err)
		}
		if err := cp.saveTree(subs[p], subName(p)); err != nil {
			return nil, err
		}
		if hook := TestHook; hook != nil {
			if err := hook("partition", p); err != nil {
				return nil, err
			}
		}
		done += sizes[p]
	}
	if reused > 0 {
		b.logf("build: resumed: %d of %d partitions' sub-trees from the checkpoint", reused, parts)
	}
	b.logStage("cluster", start)
	top.Metric = RoutingMetric(b.opts.Metric)
	t, err := cluster.Graft(top, subs)
	if err != nil {
		return nil, fmt.Errorf("shoal: %w", err)
	}
	return t, nil
}

// partitions are a partitioned build's spill files, kept for the
// assignment (assignPartitioned).
type partitions struct {
	dir   string
	sizes []int64 // records per partition
}

// assignPartitioned is assign reading the vectors partition by partition
// from the spill files instead of in id order: the vectors of a chunk
// then route through the same part of the tree, whose centroid blocks
// stay in cache from one vector to the next. The entries are assign's
// (routing a vector does not depend on the others of its chunk).
func (b *builder) assignPartitioned() ([]entry, error) {
	type chunk struct {
		ids []uint32
		raw []byte
	}
	rb := b.dim * b.srcElem.Size()
	chunks := make(chan chunk, b.opts.Workers)
	free := make(chan chunk, 2*b.opts.Workers)
	stop := make(chan struct{})
	var readErr error
	go func() {
		defer close(chunks)
		readErr = b.readChunks(rb, func(ids []uint32, raw []byte) bool {
			var c chunk
			select {
			case c = <-free:
			default:
				c = chunk{raw: make([]byte, 0, chunkRows*rb)}
			}
			c.ids = append(c.ids[:0], ids...)
			c.raw = append(c.raw[:0], raw...)
			select {
			case chunks <- c:
				return true
			case <-stop:
				return false
			}
		})
	}()
	var done atomic.Int64
	var stopOnce sync.Once
	entries, err := gatherEntries(b.opts.Workers, func() ([]entry, error) {
		out, err := b.assignChunks(func() ([]uint32, []byte, bool) {
			c, ok := <-chunks
			return c.ids, c.raw, ok
		}, func(ids []uint32, raw []byte) {
			select {
			case free <- chunk{ids: ids, raw: raw}:
			default:
			}
		}, &done)
		if err != nil {
			stopOnce.Do(func() { close(stop) })
			for range chunks { // let the reader finish
			}
		}
		return out, err
	})
	if err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, readErr
	}
	return entries, nil
}

// readChunks reads the spill files in partition order and calls fn with
// up to chunkRows records at a time (ids, rows); fn returns false to stop.
func (b *builder) readChunks(rb int, fn func(ids []uint32, raw []byte) bool) error {
	ids := make([]uint32, 0, chunkRows)
	raw := make([]byte, 0, chunkRows*rb)
	rec := make([]byte, 4+rb)
	for p, size := range b.parts.sizes {
		if size == 0 {
			continue
		}
		name := partFile(b.parts.dir, p)
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("shoal: %w", err)
		}
		r := bufio.NewReaderSize(f, 1<<20)
		for i := int64(0); i < size; i++ {
			if _, err := io.ReadFull(r, rec); err != nil {
				f.Close()
				return fmt.Errorf("shoal: read %s record %d of %d: %w", name, i, size, err)
			}
			ids = append(ids, binary.LittleEndian.Uint32(rec))
			raw = append(raw, rec[4:]...)
			if len(ids) == chunkRows || i == size-1 {
				if !fn(ids, raw) {
					f.Close()
					return nil
				}
				ids, raw = ids[:0], raw[:0]
			}
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("shoal: %w", err)
		}
	}
	return nil
}

func partFile(pdir string, p int) string {
	return filepath.Join(pdir, fmt.Sprintf("part-%06d", p))
}

// spillFile is one partition's spill file: records of a u32 LE id and a
// row in the source's element type, appended by many workers.
type spillFile struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

// spill routes every source row to its nearest leaf of top and appends
// it to that partition's file; it returns the rows per partition.
func (b *builder) spill(top *cluster.Tree, pdir string, parts int) ([]int64, error) {
	files := make([]*spillFile, parts)
	for p := range files {
		f, err := os.Create(partFile(pdir, p))
		if err != nil {
			closeSpills(files)
			return nil, fmt.Errorf("shoal: %w", err)
		}
		files[p] = &spillFile{f: f, w: bufio.NewWriterSize(f, 256<<10)}
	}
	sizes := make([]atomic.Int64, parts)
	var next, done atomic.Int64
	chunks := (b.n + chunkRows - 1) / chunkRows
	err := runWorkers(b.opts.Workers, func() error {
		return b.spillWorker(top, files, sizes, &next, &done, chunks)
	})
	// Flushed and synced, so that a checkpoint naming the files never
	// outlives them.
	for _, sf := range files {
		if ferr := sf.w.Flush(); err == nil && ferr != nil {
			err = fmt.Errorf("shoal: spill: %w", ferr)
		}
		if err == nil {
			if serr := sf.f.Sync(); serr != nil {
				err = fmt.Errorf("shoal: sync %s: %w", sf.f.Name(), serr)
			}
		}
	}
	if err == nil {
		err = filecopy.SyncDir(pdir)
	}
	if cerr := closeSpills(files); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	out := make([]int64, parts)
	for p := range out {
		out[p] = sizes[p].Load()
	}
	return out, nil
}

// runWorkers runs work on workers goroutines and joins their errors.
func runWorkers(workers int, work func() error) error {
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = work()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func closeSpills(files []*spillFile) error {
	var errs []error
	for _, sf := range files {
		if sf != nil {
			errs = append(errs, sf.f.Close())
		}
	}
	return errors.Join(errs...)
}

func (b *builder) spillWorker(top *cluster.Tree, files []*spillFile, sizes []atomic.Int64, next, done *atomic.Int64, chunks int) error {
	dim := b.dim
	rb := dim * b.srcElem.Size()
	nextChunk, readErr := b.idChunks(next, chunks)
	xs := make([]float32, chunkRows*dim)
	var ws cluster.BatchWorkspace
	beam := min(top.NumNodes(), 64)
	byPart := make([][]int32, len(files)) // rows of the chunk, per partition
	var rec []byte
	for {
		ids, raw, ok := nextChunk()
		if !ok {
			return readErr()
		}
		cnt := len(ids)
		if err := b.toFloat32Chunk(ids, raw, xs); err != nil {
			return err
		}
		for p := range byPart {
			byPart[p] = byPart[p][:0]
		}
		for j, cands := range top.SearchBatch(xs[:cnt*dim], 1, beam, &ws) {
			p := cands[0].Leaf
			byPart[p] = append(byPart[p], int32(j))
		}
		for p, rows := range byPart {
			if len(rows) == 0 {
				continue
			}
			rec = rec[:0]
			for _, j := range rows {
				rec = binary.LittleEndian.AppendUint32(rec, ids[j])
				rec = append(rec, raw[int(j)*rb:(int(j)+1)*rb]...)
			}
			sf := files[p]
			sf.mu.Lock()
			_, err := sf.w.Write(rec)
			sf.mu.Unlock()
			if err != nil {
				return fmt.Errorf("shoal: spill: %w", err)
			}
			sizes[p].Add(int64(len(rows)))
		}
		b.progress("partition", done.Add(int64(cnt)), int64(b.n))
	}
}

// readPartition reads partition p's spill file of size records back as
// float32 rows sorted by id: all of them, or about SampleSize picked by a
// hash of the id when there are more.
func (b *builder) readPartition(pdir string, p int, size int64) ([]float32, error) {
	name := partFile(pdir, p)
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("shoal: %w", err)
	}
	defer f.Close()
	rb := b.dim * b.srcElem.Size()
	keep := func(uint32) bool { return true }
	if limit := int64(b.opts.SampleSize); size > limit {
		keep = func(id uint32) bool { return splitmix64(uint64(id)^b.opts.Seed)%uint64(size) < uint64(limit) }
	}
	type row struct {
		id  uint32
		raw []byte
	}
	var rows []row
	r := bufio.NewReaderSize(f, 1<<20)
	rec := make([]byte, 4+rb)
	var buf []byte // the kept rows' bytes, in blocks
	for i := int64(0); i < size; i++ {
		if _, err := io.ReadFull(r, rec); err != nil {
			return nil, fmt.Errorf("shoal: read %s record %d of %d: %w", name, i, size, err)
		}
		id := binary.LittleEndian.Uint32(rec)
		if !keep(id) {
			continue
		}
		if len(buf)+rb > cap(buf) {
			buf = make([]byte, 0, 4096*rb)
		}
		buf = append(buf, rec[4:]...)
		rows = append(rows, row{id: id, raw: buf[len(buf)-rb:]})
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.id, b.id) })
	pts := make([]float32, len(rows)*b.dim)
	for i, rw := range rows {
		if err := b.toFloat32(rw.raw, pts[i*b.dim:(i+1)*b.dim], int(rw.id)); err != nil {
			return nil, err
		}
	}
	return pts, nil
}

// splitmix64 is a 64-bit mixing function (Steele et al.'s SplitMix64
// finaliser): a well-spread hash of an id.
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}
