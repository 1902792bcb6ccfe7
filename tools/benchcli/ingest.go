package benchcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoaldb/shoal/client"
	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newIngestBench)
}

const ingestAbout = `Upserts rows [-from, -from+-n) of -data as new ids (row r gets id r)
into the index -index (opened in this process) or into -collection of a
running server (-addr), from -clients concurrent writers, -batch vectors
per call, while one searcher runs the queries back to back. It reports
the upsert rate, the bytes the process holding the index wrote to storage
per inserted vector (/proc/<pid>/io write_bytes: logs, tables, segment
files and compactions; with -addr, pass -server-pid) against the bytes one
vector occupies in the finished index (with -addr, pass -server-data),
search latency during the load next to the idle latency, the longest
upsert call, and, after maintenance drains, recall@k against -gt (ground
truth of the whole final set). The index is modified in place: copy it
first.
`

// ingestOptions are the flags of `shoal ingestbench`.
type ingestOptions struct {
	dir        string
	addr       string // a running server on loopback ("" : the library on -index)
	key        string
	collection string
	serverPID  int
	serverData string
	data       string
	queries    string
	gt         string
	from, n    int
	clients    int
	batch      int
	sync       string // call, periodic or none
	syncEvery  time.Duration
	nq, k      int
	nprobe     int
	cache      clikit.SizeFlag
	buffer     clikit.SizeFlag
	quiet      bool
	delFirst   bool
	report     reportOptions
}

func (o *ingestOptions) Validate() error {
	switch {
	case (o.dir == "") == (o.addr == "") || o.data == "" || o.queries == "":
		return errors.New("-data, -queries and one of -index and -addr are required")
	case o.addr != "" && !clikit.Loopback(o.addr):
		return fmt.Errorf("-addr %s: the benchmark runs on loopback only", o.addr)
	case o.addr != "" && (o.collection == "" || o.sync != "call"):
		return errors.New("-addr needs -collection, and a server syncs every write (-sync call)")
	case o.from < 0 || o.n < 1:
		return fmt.Errorf("-from %d -n %d: want from >= 0 and n >= 1", o.from, o.n)
	case o.clients < 1 || o.batch < 1:
		return fmt.Errorf("-clients %d -batch %d: want both >= 1", o.clients, o.batch)
	case o.sync != "call" && o.sync != "periodic" && o.sync != "none":
		return fmt.Errorf("-sync %q: want call, periodic or none", o.sync)
	case o.syncEvery <= 0:
		return fmt.Errorf("-sync-every %v: want > 0", o.syncEvery)
	case o.nq < 1 || o.k < 1 || o.nprobe < 1:
		return fmt.Errorf("-nq %d -k %d -nprobe %d: want all >= 1", o.nq, o.k, o.nprobe)
	}
	return nil
}

func newIngestBench() *clikit.Command {
	o := ingestOptions{cache: 64 << 20}
	c := clikit.NewCommand("ingestbench", "-index DIR -data FILE -queries FILE [flags]", "ingest benchmark: concurrent upserts of new vectors into a built index, with search latency and write amplification")
	c.Group = clikit.GroupBench
	c.Long = ingestAbout
	fs := c.Flags
	fs.StringVar(&o.dir, "index", "", "built index directory (modified in place)")
	fs.StringVar(&o.addr, "addr", "", "instead of -index: a running server on loopback")
	fs.StringVar(&o.key, "key", os.Getenv("SHOAL_API_KEY"), "with -addr: an API key that may write the collection")
	fs.StringVar(&o.collection, "collection", "", "with -addr: the collection to load")
	fs.IntVar(&o.serverPID, "server-pid", 0, "with -addr: the server's process id, for the bytes it writes")
	fs.StringVar(&o.serverData, "server-data", "", "with -addr: the server's data directory, for the bytes on disk")
	fs.StringVar(&o.data, "data", "", "vector file; row r is upserted as id r")
	fs.StringVar(&o.queries, "queries", "", "query vector file")
	fs.StringVar(&o.gt, "gt", "", "ground truth of the final set (.ivecs/.ibin) for recall after the load (default: no recall)")
	fs.IntVar(&o.from, "from", 0, "first row to upsert")
	fs.IntVar(&o.n, "n", 100_000, "rows to upsert")
	fs.IntVar(&o.clients, "clients", 4, "concurrent writers")
	fs.IntVar(&o.batch, "batch", 1000, "vectors per upsert call")
	fs.StringVar(&o.sync, "sync", "call", "call: every upsert synced (acknowledged = durable); periodic: NoSync and Sync every -sync-every; none: NoSync, one Sync at the end")
	fs.DurationVar(&o.syncEvery, "sync-every", time.Second, "with -sync periodic: how often to Sync")
	fs.IntVar(&o.nq, "nq", 1000, "queries (the first nq of -queries)")
	fs.IntVar(&o.k, "k", 10, "neighbours per query")
	fs.IntVar(&o.nprobe, "nprobe", 32, "postings read per query")
	fs.Var(&o.cache, "cache", "posting cache budget, 0 for none")
	fs.Var(&o.buffer, "buffer", "memory for unfolded posting tails (default: the index's)")
	fs.BoolVar(&o.quiet, "q", false, "no progress bar")
	fs.BoolVar(&o.delFirst, "delete-first", false, "delete-heavy run: first delete the ids of the rows to upsert (they must be in the index), let maintenance drain and reclaim, and report the bytes on disk before and after; then upsert them again")
	o.report.define(fs, "write the report as JSON to this file")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		_, err := runReport(env, o.report, func() (*ingestReport, error) { return o.Run(ctx, env) })
		return err
	}
	return c
}

// ingestReport is what `shoal ingestbench` measured.
type ingestReport struct {
	Inserted      int     `json:"inserted"`
	Deleted       int     `json:"deleted,omitempty"`
	DeleteSeconds float64 `json:"delete_seconds,omitempty"`
	BytesBefore   int64   `json:"bytes_before_delete,omitempty"`
	BytesDeleted  int64   `json:"bytes_after_delete,omitempty"`
	Clients       int     `json:"clients"`
	Batch         int     `json:"batch"`
	Sync          string  `json:"sync"`
	Seconds       float64 `json:"seconds"`
	Rate          float64 `json:"vectors_per_s"`
	DrainSeconds  float64 `json:"drain_seconds"`
	WriteBytes    int64   `json:"write_bytes"`
	WritePerVec   float64 `json:"write_bytes_per_vector"`
	IndexBytes    int64   `json:"index_bytes"`
	Live          int64   `json:"live"`
	BytesPerVec   float64 `json:"index_bytes_per_vector"`
	Amplification float64 `json:"write_amplification"`
	SegmentWrites int64   `json:"segment_write_bytes"`
	WALWrites     int64   `json:"wal_write_bytes"`
	FlushWrites   int64   `json:"flush_write_bytes"`
	CompactWrites int64   `json:"compaction_write_bytes"`
	UpsertP50     float64 `json:"upsert_p50_ms"`
	UpsertP99     float64 `json:"upsert_p99_ms"`
	UpsertMax     float64 `json:"upsert_max_ms"`
	IdleP50       float64 `json:"idle_search_p50_ms"`
	IdleP99       float64 `json:"idle_search_p99_ms"`
	LoadP50       float64 `json:"load_search_p50_ms"`
	LoadP99       float64 `json:"load_search_p99_ms"`
	LoadSearches  int     `json:"load_searches"`
	MaxTailMiB    float64 `json:"max_tail_mib"`
	BufferMiB     float64 `json:"update_buffer_mib"`
	Busy          int64   `json:"pushed_back"`
	LockP99       float64 `json:"maintenance_lock_p99_ms"`
	LockMax       float64 `json:"maintenance_lock_max_ms"`
	Splits        int64   `json:"splits"`
	Merges        int64   `json:"merges"`
	Reassigned    int64   `json:"reassigned"`
	Heads         int     `json:"heads"`
	Recall        float64 `json:"recall"`
	K             int     `json:"k"`
	NProbe        int     `json:"nprobe"`
}

// Print writes the report as a markdown table.
func (r *ingestReport) Print(w io.Writer) {
	fmt.Fprintf(w, "| measure | value |\n| --- | --- |\n")
	row := func(k, f string, a ...any) { fmt.Fprintf(w, "| %s | %s |\n", k, fmt.Sprintf(f, a...)) }
	if r.Deleted > 0 {
		row("deleted first", "%d vectors in %.1f s (maintenance drained)", r.Deleted, r.DeleteSeconds)
		row("bytes on disk before / after the deletes", "%s / %s", clikit.FormatBytes(r.BytesBefore), clikit.FormatBytes(r.BytesDeleted))
	}
	row("inserted", "%d vectors, %d clients × batches of %d, sync %s", r.Inserted, r.Clients, r.Batch, r.Sync)
	row("upsert rate", "%.0f vectors/s (%.1f s)", r.Rate, r.Seconds)
	row("drain after the load", "%.1f s", r.DrainSeconds)
	row("upsert call p50 / p99 / max", "%.1f / %.1f / %.1f ms", r.UpsertP50, r.UpsertP99, r.UpsertMax)
	row("written per inserted vector", "%.1f KiB (%s in all)", r.WritePerVec/1024, clikit.FormatBytes(r.WriteBytes))
	row("index bytes per vector", "%.1f KiB (%s for %d live)", r.BytesPerVec/1024, clikit.FormatBytes(r.IndexBytes), r.Live)
	row("write amplification", "%.1f×", r.Amplification)
	n := float64(max(1, r.Inserted)) * 1024
	row("… of which segments / WAL / flushes / compactions", "%.1f / %.1f / %.1f / %.1f KiB per vector",
		float64(r.SegmentWrites)/n, float64(r.WALWrites)/n, float64(r.FlushWrites)/n, float64(r.CompactWrites)/n)
	row("search p50 / p99 idle", "%.2f / %.2f ms", r.IdleP50, r.IdleP99)
	row("search p50 / p99 during load", "%.2f / %.2f ms (%d searches)", r.LoadP50, r.LoadP99, r.LoadSearches)
	if r.Busy > 0 {
		row("upserts pushed back (RESOURCE_EXHAUSTED, retried)", "%d", r.Busy)
	}
	if r.LockMax > 0 {
		row("maintenance writer-lock hold p99 / max", "%.2f / %.1f ms", r.LockP99, r.LockMax)
	}
	row("largest tail memory seen", "%.1f MiB (update buffer %.0f MiB)", r.MaxTailMiB, r.BufferMiB)
	row("splits / merges / reassigned", "%d / %d / %d (heads now %d)", r.Splits, r.Merges, r.Reassigned, r.Heads)
	if r.Recall >= 0 {
		row(fmt.Sprintf("recall@%d at nprobe %d after drain", r.K, r.NProbe), "%.4f", r.Recall)
	}
}

// target opens what the flags name: -index in this process, or -addr's
// collection.
func (o *ingestOptions) target() (ingestTarget, error) {
	if o.addr != "" {
		c, err := client.Dial(o.addr, &client.Options{APIKey: o.key})
		if err != nil {
			return nil, err
		}
		return &serverTarget{c: c, collection: o.collection, pid: o.serverPID, dataDir: o.serverData}, nil
	}
	opts := &index.Options{CacheBytes: clikit.CacheOption(o.cache), NoSync: o.sync != "call", UpdateBuffer: int64(o.buffer)}
	ix, err := index.Open(o.dir, opts)
	if err != nil {
		return nil, err
	}
	return &libraryTarget{ix: ix, dir: o.dir}, nil
}

// deleteFirst deletes the ids of the rows the run upserts, drains
// maintenance (folds, the sweep, segment compaction) and records the
// bytes on disk before and after.
func (o *ingestOptions) deleteFirst(ctx context.Context, tg ingestTarget, rep *ingestReport) error {
	rep.BytesBefore = tg.diskBytes()
	t := time.Now()
	ids := make([]uint64, 0, o.batch)
	for lo := o.from; lo < o.from+o.n; lo += o.batch {
		ids = ids[:0]
		for r := lo; r < min(lo+o.batch, o.from+o.n); r++ {
			ids = append(ids, uint64(r))
		}
		if err := tg.delete(ctx, ids); err != nil {
			return fmt.Errorf("delete rows [%d,%d): %w", lo, lo+len(ids), err)
		}
	}
	if err := tg.drain(ctx); err != nil {
		return err
	}
	rep.DeleteSeconds = time.Since(t).Seconds()
	rep.Deleted = o.n
	rep.BytesDeleted = tg.diskBytes()
	return nil
}

// Run runs the benchmark.
func (o *ingestOptions) Run(ctx context.Context, env *clikit.Env) (*ingestReport, error) {
	src, err := index.OpenFile(o.data)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if o.from+o.n > src.Len() {
		return nil, fmt.Errorf("-from %d -n %d: %s holds %d rows", o.from, o.n, o.data, src.Len())
	}
	dim := src.Dim()
	qs, qdim, err := vecfile.ReadFloat32(o.queries)
	if err != nil {
		return nil, err
	}
	if qdim != dim {
		return nil, fmt.Errorf("%w: %d-dim queries, %d-dim data", index.ErrDimensionMismatch, qdim, dim)
	}
	nq := min(o.nq, len(qs)/dim)
	if nq == 0 {
		return nil, fmt.Errorf("%s holds no queries", o.queries)
	}
	queries := make([][]float32, nq)
	for i := range queries {
		queries[i] = qs[i*dim : (i+1)*dim]
	}
	var truth [][]int32
	if o.gt != "" {
		if truth, err = clikit.ReadTruth(o.gt, nq, o.k); err != nil {
			return nil, err
		}
	}
	tg, err := o.target()
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			tg.close()
		}
	}()
	rep := &ingestReport{Inserted: o.n, Clients: o.clients, Batch: o.batch, Sync: o.sync, K: o.k, NProbe: o.nprobe, Recall: -1}

	if o.delFirst {
		if err := o.deleteFirst(ctx, tg, rep); err != nil {
			return nil, err
		}
	}
	// Idle latency: one pass over the queries.
	idle := make([]float64, 0, nq)
	for _, q := range queries {
		t := time.Now()
		if _, err := tg.search(ctx, q, o.k, o.nprobe); err != nil {
			return nil, err
		}
		idle = append(idle, msf(time.Since(t)))
	}
	slices.Sort(idle)
	rep.IdleP50, rep.IdleP99 = clikit.Percentile(idle, 0.50), clikit.Percentile(idle, 0.99)

	st0, err := tg.stats(ctx)
	if err != nil {
		return nil, err
	}
	w0 := tg.writeBytes()
	var barOut io.Writer // nil: no bar
	if !o.quiet {
		barOut = env.Stderr
	}
	bar := clikit.NewBar(barOut, "upsert", int64(o.n))
	var (
		next    atomic.Int64 // next batch
		done    atomic.Int64 // vectors upserted
		stop    = make(chan struct{})
		errOnce sync.Once
		runErr  error
		lats    = make([][]float64, o.clients)
		wg      sync.WaitGroup
	)
	fail := func(err error) { errOnce.Do(func() { runErr = err; close(stop) }) }
	batches := (o.n + o.batch - 1) / o.batch
	start := time.Now()
	for c := 0; c < o.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := clikit.NewRowReader(src)
			ids := make([]uint64, 0, o.batch)
			for {
				b := int(next.Add(1) - 1)
				if b >= batches || ctx.Err() != nil {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				first := o.from + b*o.batch
				cnt := min(o.batch, o.from+o.n-first)
				vs, err := rr.Read(first, cnt)
				if err != nil {
					fail(err)
					return
				}
				ids = ids[:0]
				for i := range cnt {
					ids = append(ids, uint64(first+i))
				}
				t := time.Now()
				if err := tg.upsert(ctx, ids, vs); err != nil {
					fail(fmt.Errorf("upsert rows [%d,%d): %w", first, first+cnt, err))
					return
				}
				lats[c] = append(lats[c], msf(time.Since(t)))
				bar.Set(done.Add(int64(cnt)))
			}
		}()
	}
	// The searcher, the periodic syncer and the sampler run until the
	// writers are done.
	loadDone := make(chan struct{})
	var load []float64
	var maxTail atomic.Int64
	var bg sync.WaitGroup
	bg.Add(3)
	go func() {
		defer bg.Done()
		for i := 0; ; i++ {
			select {
			case <-loadDone:
				return
			default:
			}
			t := time.Now()
			if _, err := tg.search(ctx, queries[i%nq], o.k, o.nprobe); err != nil {
				fail(err)
				return
			}
			load = append(load, msf(time.Since(t)))
		}
	}()
	go func() {
		defer bg.Done()
		if o.sync != "periodic" {
			return
		}
		tk := time.NewTicker(o.syncEvery)
		defer tk.Stop()
		for {
			select {
			case <-loadDone:
				return
			case <-tk.C:
				if err := tg.sync(); err != nil {
					fail(err)
					return
				}
			}
		}
	}()
	go func() {
		defer bg.Done()
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			if st, err := tg.stats(ctx); err == nil && st.tailBytes > maxTail.Load() {
				maxTail.Store(st.tailBytes)
			}
			select {
			case <-loadDone:
				return
			case <-tk.C:
			}
		}
	}()
	wg.Wait()
	if o.sync != "call" && runErr == nil {
		if err := tg.sync(); err != nil {
			fail(err)
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	close(loadDone)
	bg.Wait()
	bar.Finish()
	if runErr != nil {
		return nil, runErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.Rate = float64(o.n) / rep.Seconds
	all := slices.Concat(lats...)
	slices.Sort(all)
	rep.UpsertP50, rep.UpsertP99, rep.UpsertMax = clikit.Percentile(all, 0.50), clikit.Percentile(all, 0.99), all[len(all)-1]
	slices.Sort(load)
	rep.LoadSearches = len(load)
	if len(load) > 0 {
		rep.LoadP50, rep.LoadP99 = clikit.Percentile(load, 0.50), clikit.Percentile(load, 0.99)
	}
	rep.MaxTailMiB = float64(maxTail.Load()) / (1 << 20)

	t := time.Now()
	if err := tg.drain(ctx); err != nil {
		return nil, err
	}
	rep.DrainSeconds = time.Since(t).Seconds()
	rep.WriteBytes = tg.writeBytes() - w0
	rep.WritePerVec = float64(rep.WriteBytes) / float64(o.n)
	st, err := tg.stats(ctx)
	if err != nil {
		return nil, err
	}
	rep.Splits, rep.Merges, rep.Reassigned = st.splits-st0.splits, st.merges-st0.merges, st.reassigned-st0.reassigned
	rep.Heads, rep.Live = st.heads, st.live
	rep.BufferMiB = float64(st.buffer) / (1 << 20)
	rep.LockP99, rep.LockMax = msf(st.lockP99), msf(st.lockMax)
	rep.Busy = st.busy
	rep.SegmentWrites, rep.WALWrites = st.segWrites-st0.segWrites, st.walWrites-st0.walWrites
	rep.FlushWrites, rep.CompactWrites = st.flushWrites-st0.flushWrites, st.compactWrites-st0.compactWrites
	if truth != nil {
		hits := 0
		for i, q := range queries {
			res, err := tg.search(ctx, q, o.k, o.nprobe)
			if err != nil {
				return nil, err
			}
			hits += clikit.CountHits(res, truth[i])
		}
		rep.Recall = float64(hits) / float64(nq*o.k)
	}
	closed = true
	if err := tg.close(); err != nil {
		return nil, err
	}
	rep.IndexBytes = tg.indexBytes()
	rep.BytesPerVec = float64(rep.IndexBytes) / float64(max(1, rep.Live))
	rep.Amplification = rep.WritePerVec / rep.BytesPerVec
	return rep, nil
}

// msf returns d in milliseconds.
func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
