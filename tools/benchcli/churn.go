package benchcli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

// churnAbout is the description `shoal bench -churn -h` prints.
const churnAbout = `The SPFresh churn benchmark (SPFresh §5.1): does an index that is updated
in place stay as good as one built from scratch?

  1. build an index offline from the first -initial of the -data rows
     (ids are row numbers), timed;
  2. churn: upsert the other rows -batch at a time; after each batch delete
     that batch's share of a random (-seed) -delete fraction of all ids,
     only ids already inserted, and run -queries-per-batch searches; time
     upserts, deletes and searches, count bytes written to storage
     (/proc/self/io write_bytes, through the final drain of maintenance);
  3. drain maintenance; report splits, merges, folds and posting sizes;
  4. exact ground truth of the live rows for the first -nq queries, by the
     index's metric; recall@k and single-thread QPS at -nprobe (after one
     unmeasured pass over the queries, so that both indexes are measured
     with a warm posting cache);
  5. build the live rows from scratch with the same options and measure it
     the same way; report the recall difference: PASS when the churned
     index's recall is at most -tolerance below the static one's (the exit
     status is 0 either way; read "pass" in the -json report).

Indexes go to -work (default a temporary directory), removed at the end
unless -keep.`

// churnOptions are the flags of `shoal bench -churn`.
type churnOptions struct {
	data, queries   string
	quant           string // -quant: what the postings of both builds hold
	nq, nprobe, k   int
	eps             float64
	initial, delete float64
	batch, perBatch int
	work            string
	keep            bool
	tolerance       float64
	cache, buffer   clikit.SizeFlag
	nosync, quiet   bool
	reassign        int
	shuffle         bool
	curve           clikit.IntList
	report          reportOptions

	// Build options, as `shoal build`'s flags.
	metric, elem string
	ratio, rng   float64
	closure      float64
	replicas     int
	cap, branch  int
	seed         uint64
	workers      int
}

// Validate reports flags that cannot work.
func (o *churnOptions) Validate() error {
	switch {
	case o.data == "" || o.queries == "":
		return errors.New("-data and -queries are required")
	case quantErr(o.quant) != nil:
		return fmt.Errorf("-quant: %w", quantErr(o.quant))
	case o.nq < 1 || o.nprobe < 1 || o.k < 1:
		return fmt.Errorf("-nq %d, -nprobe %d and -k %d must be >= 1", o.nq, o.nprobe, o.k)
	case !(o.initial > 0 && o.initial < 1):
		return fmt.Errorf("-initial %v, want a fraction in (0, 1)", o.initial)
	case !(o.delete >= 0 && o.delete < 1):
		return fmt.Errorf("-delete %v, want a fraction in [0, 1)", o.delete)
	case o.batch < 1 || o.perBatch < 0:
		return fmt.Errorf("-batch %d must be >= 1 and -queries-per-batch %d >= 0", o.batch, o.perBatch)
	case !(o.tolerance >= 0):
		return fmt.Errorf("-tolerance %v, want >= 0", o.tolerance)
	}
	_, _, err := clikit.ParseStorage(o.metric, o.elem)
	return err
}

// newChurn is `shoal bench churn` (or `shoal bench -churn`).
func newChurn() *clikit.Command {
	o := churnOptions{
		nq: 1000, nprobe: 64, k: 10, eps: 7, initial: 0.5, delete: 0.25, batch: 1000, perBatch: 20,
		tolerance: 0.02, cache: 64 << 20, metric: "l2", seed: 1,
	}
	c := clikit.NewCommand("churn", "-data FILE -queries FILE [flags]", "the SPFresh churn benchmark: build half, upsert the rest, delete, search, compare with a static build")
	c.Long = churnAbout
	fs := c.Flags
	fs.StringVar(&o.data, "data", "", "base vector file (.fvecs .bvecs .fbin .u8bin .i8bin .npy); row i has id i")
	fs.StringVar(&o.queries, "queries", "", "query vector file")
	fs.IntVar(&o.nq, "nq", 1000, "queries for recall (the first nq of -queries)")
	fs.IntVar(&o.nprobe, "nprobe", 64, "postings read per query, everywhere")
	fs.IntVar(&o.k, "k", 10, "neighbours per query (recall@k)")
	fs.Float64Var(&o.eps, "eps", 7, "query-aware pruning ε (negative: off)")
	fs.Float64Var(&o.initial, "initial", 0.5, "fraction of the rows built offline")
	fs.Float64Var(&o.delete, "delete", 0.25, "fraction of all ids deleted during churn")
	fs.IntVar(&o.batch, "batch", 1000, "vectors per upsert batch")
	fs.IntVar(&o.perBatch, "queries-per-batch", 20, "searches after each batch (cycling through the queries)")
	fs.StringVar(&o.work, "work", "", "scratch directory for the two indexes (default: a temporary directory)")
	fs.BoolVar(&o.keep, "keep", false, "keep the indexes (in -work/churned and -work/static)")
	o.report.define(fs, "write the report as JSON to this file")
	fs.Float64Var(&o.tolerance, "tolerance", 0.02, "acceptable recall loss of the churned index against the static one")
	fs.Var(&o.cache, "cache", "posting cache budget, 0 for none (default 64MiB)")
	fs.Var(&o.buffer, "buffer", "memory for unfolded posting tails (default 32MiB)")
	fs.BoolVar(&o.nosync, "nosync", false, "do not sync each update batch to the write-ahead log")
	fs.BoolVar(&o.quiet, "q", false, "no progress bars")
	fs.IntVar(&o.reassign, "reassign", 0, "postings near a split checked for vectors to reassign (default: the index's; negative: no reassignment)")
	fs.BoolVar(&o.shuffle, "shuffle", false, "permute the rows (seeded) first: the offline and inserted halves then come from the same distribution")
	fs.Var(&o.curve, "curve", "more nprobes to measure both indexes at (e.g. 32,48): the churned index's recall at the static index's bytes read per query is interpolated from them")
	fs.StringVar(&o.metric, "metric", "l2", "build: distance: l2, ip or cosine")
	clikit.ElemFlag(fs, &o.elem, "", "build: store vectors as")
	fs.Float64Var(&o.ratio, "ratio", 0, "build: heads per vector (default 0.04 with codes, 0.12 without)")
	clikit.QuantFlag(fs, &o.quant, "rabitq")
	fs.IntVar(&o.replicas, "replicas", 0, "build: max postings per vector (default 8)")
	fs.Float64Var(&o.rng, "rng", 0, "build: RNG rule factor (default 1)")
	fs.Float64Var(&o.closure, "closure", 0, "build: closure assignment ε₁ (default 10)")
	fs.IntVar(&o.cap, "cap", 0, "build: max vectors per posting (default: 48 KiB worth)")
	fs.IntVar(&o.branch, "branch", 0, "build: tree branching factor (default 32)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed of the builds and of the deleted subset")
	fs.IntVar(&o.workers, "workers", 0, "build: goroutines (default: all cores)")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		_, err := runReport(env, o.report, func() (*churnReport, error) { return o.Run(ctx, env) })
		return err
	}
	return c
}

// churnSearch is the measurement of one index at the fixed nprobe.
type churnSearch struct {
	NProbe int     `json:"nprobe"`
	Recall float64 `json:"recall"`
	QPS    float64 `json:"qps"` // one thread
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	// VectorsPerQ is the copies scored per query, KiBPerQ the posting
	// bytes read from disk per query (after the warm-up pass).
	VectorsPerQ float64 `json:"vectors_per_query"`
	KiBPerQ     float64 `json:"kib_read_per_query"`
	Heads       int     `json:"heads"`
	BuildSecs   float64 `json:"build_secs,omitempty"`
}

// churnPostings summarises the stored postings after churn: copies per
// posting, stale copies included (they are read by queries until their
// posting is rewritten).
type churnPostings struct {
	Stored      int     `json:"stored"`
	EmptyHeads  int     `json:"empty_heads"` // live heads with no stored posting
	Min         int     `json:"min"`
	Mean        float64 `json:"mean"`
	P99         int     `json:"p99"`
	Max         int     `json:"max"`
	Cap         int     `json:"cap"`
	OverCap     int     `json:"over_cap"`
	Copies      int64   `json:"copies"`
	DeletedCopy int64   `json:"deleted_copies"` // copies of deleted ids, not yet dropped
}

// churnReport is the result of `shoal bench -churn`.
type churnReport struct {
	Data      string  `json:"data"`
	Rows      int     `json:"rows"`
	Dim       int     `json:"dim"`
	Elem      string  `json:"elem"`
	Metric    string  `json:"metric"`
	Queries   int     `json:"queries"`
	K         int     `json:"k"`
	NProbe    int     `json:"nprobe"`
	Epsilon   float64 `json:"epsilon"`
	Kernels   string  `json:"kernels"`
	RowBytes  int     `json:"row_bytes"` // one stored vector
	Initial   int     `json:"initial"`   // rows built offline
	Batches   int     `json:"batches"`
	BatchSize int     `json:"batch_size"`

	BuildSecs  float64 `json:"build_secs"`
	BuildHeads int     `json:"build_heads"`
	Upserted   int     `json:"upserted"`
	UpsertSecs float64 `json:"upsert_secs"` // time inside Upsert
	UpsertRate float64 `json:"upserts_per_sec"`
	Deleted    int     `json:"deleted"`
	DeleteSecs float64 `json:"delete_secs"` // time inside Delete
	DeleteRate float64 `json:"deletes_per_sec"`
	ChurnSecs  float64 `json:"churn_secs"` // the whole churn phase, searches included, drain excluded
	DrainSecs  float64 `json:"drain_secs"`
	Live       int     `json:"live"` // Len() after churn
	ChurnQ     int     `json:"churn_queries"`
	ChurnP50Ms float64 `json:"churn_search_p50_ms"`
	ChurnP99Ms float64 `json:"churn_search_p99_ms"`

	// Storage: write_bytes of this process over the churn phase and the
	// drain (-1 where /proc/self/io is missing), and after closing.
	WriteBytes         int64   `json:"write_bytes"`
	WriteBytesPerVec   float64 `json:"write_bytes_per_inserted_vector"`
	WriteAmplification float64 `json:"write_amplification"` // per inserted vector, over RowBytes
	WriteBytesAtClose  int64   `json:"write_bytes_through_close"`
	DirBytesBefore     int64   `json:"dir_bytes_before"`
	DirBytesAfter      int64   `json:"dir_bytes_after"`
	PeakRSSBuild       int64   `json:"peak_rss_build"`
	PeakRSSChurn       int64   `json:"peak_rss_churn"` // since the build; -1 where the kernel cannot reset the peak
	PeakRSS            int64   `json:"peak_rss"`

	Splits     int64         `json:"splits"`
	Merges     int64         `json:"merges"`
	Folds      int64         `json:"folds"`
	Reinserted int64         `json:"reinserted"`
	Heads      int           `json:"heads"`
	Check      string        `json:"check"` // "ok" or the error of Index.Check
	Postings   churnPostings `json:"postings"`

	TruthSecs  float64     `json:"truth_secs"`
	Churned    churnSearch `json:"churned"`
	Static     churnSearch `json:"static"`
	RecallDiff float64     `json:"recall_diff"` // churned − static
	// The -curve points, and the churned index's recall interpolated at
	// the static one's KiB read per query at -nprobe (0 when the curve
	// does not reach down to it).
	ChurnedCurve   []churnSearch `json:"churned_curve,omitempty"`
	StaticCurve    []churnSearch `json:"static_curve,omitempty"`
	RecallEqualKiB float64       `json:"churned_recall_at_static_kib,omitempty"`
	Tolerance      float64       `json:"tolerance"`
	Pass           bool          `json:"pass"` // RecallDiff ≥ −Tolerance

	writeBase int64 // write_bytes before churn
}

// buildOptions returns the index options of both builds.
func (o *churnOptions) buildOptions() *index.Options {
	metric, elem, _ := clikit.ParseStorage(o.metric, o.elem)
	quant, bits, _ := index.ParseQuant(o.quant)
	return &index.Options{
		Metric: metric, Elem: elem, Ratio: o.ratio, Replicas: o.replicas, PostingCap: o.cap,
		RNGFactor: o.rng, ClosureEpsilon: o.closure, K: o.branch, Seed: o.seed, Workers: o.workers,
		Quant: quant, QuantBits: bits,
	}
}

// openOptions returns the options both indexes are opened with.
func (o *churnOptions) openOptions() *index.Options {
	return &index.Options{CacheBytes: clikit.CacheOption(o.cache), NoSync: o.nosync, UpdateBuffer: int64(o.buffer), ReassignNeighbors: o.reassign}
}

// bar returns a progress bar, or nil with -q.
func (o *churnOptions) bar(env *clikit.Env, label string, total int) *clikit.Bar {
	if o.quiet {
		return nil
	}
	return clikit.NewBar(env.Stderr, label, int64(total))
}

// Run runs the benchmark and returns its report.
func (o *churnOptions) Run(ctx context.Context, env *clikit.Env) (rep *churnReport, err error) {
	src, err := index.OpenFile(o.data)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	n, dim := src.Len(), src.Dim()
	// data is the base as the benchmark sees it: row i has id i. With
	// -shuffle it is a seeded permutation of the file, so that the offline
	// half and the inserted half are drawn from the same distribution
	// (files such as GloVe's are sorted by word frequency).
	var data index.Source = src
	if o.shuffle {
		data = permutedSource(src, rand.New(rand.NewPCG(o.seed, 0x5f)).Perm(n))
	}
	qs, qdim, err := vecfile.ReadFloat32(o.queries)
	if err != nil {
		return nil, err
	}
	if qdim != dim {
		return nil, fmt.Errorf("%w: %s holds %d-dim queries, %s %d-dim vectors", index.ErrDimensionMismatch, o.queries, qdim, o.data, dim)
	}
	nq := min(o.nq, len(qs)/max(1, qdim))
	if nq == 0 {
		return nil, fmt.Errorf("%s holds no queries", o.queries)
	}
	queries := make([][]float32, nq)
	for i := range queries {
		queries[i] = qs[i*dim : (i+1)*dim]
	}
	initial := int(o.initial * float64(n))
	nDelete := int(math.Round(o.delete * float64(n)))
	switch {
	case initial < 1 || initial >= n:
		return nil, fmt.Errorf("-initial %v of %d rows builds %d: nothing to build or nothing to upsert", o.initial, n, initial)
	case n-nDelete < o.k:
		return nil, fmt.Errorf("-delete %v of %d rows leaves %d, fewer than k=%d", o.delete, n, n-nDelete, o.k)
	}
	plan := planChurn(n, initial, o.batch, nDelete, o.seed)

	work, made := o.work, false
	if work == "" {
		if work, err = os.MkdirTemp("", "shoal-churn-"); err != nil {
			return nil, err
		}
		made = true
	}
	churnDir, staticDir := filepath.Join(work, "churned"), filepath.Join(work, "static")
	defer func() {
		switch {
		case o.keep:
			fmt.Fprintf(env.Stderr, "kept the indexes in %s and %s\n", churnDir, staticDir)
		case made:
			os.RemoveAll(work)
		default:
			os.RemoveAll(churnDir)
			os.RemoveAll(staticDir)
		}
	}()

	rep = &churnReport{
		Data: o.data, Rows: n, Dim: dim, Queries: nq, K: o.k, NProbe: o.nprobe, Epsilon: o.eps,
		Kernels: vec.Impl(), Initial: initial, Batches: len(plan.batches), BatchSize: o.batch, Tolerance: o.tolerance,
	}
	sp := &index.SearchParams{NProbe: o.nprobe, Epsilon: o.eps}
	if o.eps == 0 {
		sp.Epsilon = -1 // as in bench: 0 means no pruning
	}

	// (a) The offline build of the first rows.
	fmt.Fprintf(env.Stderr, "== build %d of %d rows × %d %v offline → %s\n", initial, n, dim, src.Elem(), churnDir)
	t := time.Now()
	m, err := index.Build(churnDir, rangeSource(data, 0, initial), o.buildOptions())
	if err != nil {
		return nil, fmt.Errorf("initial build: %w", err)
	}
	rep.BuildSecs = time.Since(t).Seconds()
	rep.BuildHeads = m.Heads
	rep.Elem, rep.Metric = m.Elem.String(), m.Metric.String()
	rep.RowBytes = m.Dim * m.Elem.Size()
	rep.PeakRSSBuild = clikit.ProcStatus("VmHWM")
	churnPeak := resetPeakRSS()

	// (b) Churn.
	ix, err := index.Open(churnDir, o.openOptions())
	if err != nil {
		return nil, err
	}
	defer func() {
		if ix != nil {
			ix.Close()
		}
	}()
	fmt.Fprintf(env.Stderr, "== churn: upsert %d rows in %d batches of %d, delete %d ids, %d searches per batch\n",
		n-initial, len(plan.batches), o.batch, nDelete, o.perBatch)
	if err := o.churn(ctx, env, ix, data, plan, queries, sp, rep); err != nil {
		return nil, err
	}
	rep.PeakRSSChurn = -1
	if churnPeak {
		rep.PeakRSSChurn = clikit.ProcStatus("VmHWM")
	}

	// (c) Maintenance and posting statistics.
	st := ix.Stats()
	rep.Splits, rep.Merges, rep.Folds, rep.Reinserted, rep.Heads = st.Splits, st.Merges, st.Folds, st.Reinserted, st.Heads
	rep.Live = ix.Len()
	if rep.Postings, err = churnPostingStats(ix, st.Heads); err != nil {
		return nil, err
	}
	rep.Check = "ok"
	if err := ix.Check(); err != nil {
		rep.Check = err.Error()
	}

	// (d) Recall of the churned index against the exact answer over the
	// live rows.
	fmt.Fprintf(env.Stderr, "== exact ground truth of %d queries over the %d live rows\n", nq, n-nDelete)
	t = time.Now()
	bar := o.bar(env, "groundtruth", n)
	truth, err := synth.ExactTruth(ctx, data, plan.deleted, qs[:nq*dim], o.k, m.Metric, func(done int) {
		if bar != nil {
			bar.Set(int64(done))
		}
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return nil, err
	}
	rep.TruthSecs = time.Since(t).Seconds()
	if rep.Churned, err = churnMeasure(ix, queries, truth, o.k, sp, nil); err != nil {
		return nil, err
	}
	rep.Churned.Heads = rep.Heads
	if rep.ChurnedCurve, err = o.measureCurve(ix, queries, truth, sp, nil); err != nil {
		return nil, err
	}
	err = ix.Close()
	ix = nil
	if err != nil {
		return nil, err
	}
	if w := clikit.ProcIO("write_bytes"); rep.WriteBytes >= 0 && w >= 0 {
		rep.WriteBytesAtClose = w - rep.writeBase
	}

	// (e) The same live rows built from scratch.
	live := plan.live()
	fmt.Fprintf(env.Stderr, "== static build of the %d live rows → %s\n", len(live), staticDir)
	t = time.Now()
	sm, err := index.Build(staticDir, subsetSource(data, live), o.buildOptions())
	if err != nil {
		return nil, fmt.Errorf("static build: %w", err)
	}
	staticSecs := time.Since(t).Seconds()
	six, err := index.Open(staticDir, o.openOptions())
	if err != nil {
		return nil, err
	}
	defer six.Close()
	if rep.Static, err = churnMeasure(six, queries, truth, o.k, sp, live); err != nil {
		return nil, err
	}
	if rep.StaticCurve, err = o.measureCurve(six, queries, truth, sp, live); err != nil {
		return nil, err
	}
	rep.RecallEqualKiB = recallAtKiB(append(slices.Clone(rep.ChurnedCurve), rep.Churned), rep.Static.KiBPerQ)
	rep.Static.BuildSecs, rep.Static.Heads = staticSecs, sm.Heads
	rep.Churned.BuildSecs = rep.BuildSecs

	// (f) The verdict.
	rep.RecallDiff = rep.Churned.Recall - rep.Static.Recall
	rep.Pass = rep.RecallDiff >= -o.tolerance
	rep.PeakRSS = clikit.ProcStatus("VmHWM")
	return rep, nil
}

// churn runs phase (b): the batches of plan, their searches, and the
// final drain, filling the churn fields of rep.
func (o *churnOptions) churn(ctx context.Context, env *clikit.Env, ix *index.Index, src index.Source, plan *churnPlan, queries [][]float32, sp *index.SearchParams, rep *churnReport) error {
	rep.DirBytesBefore = clikit.DirSize(ix.Dir())
	rep.writeBase = clikit.ProcIO("write_bytes")
	var lat []float64
	var upsert, del time.Duration
	rr := clikit.NewRowReader(src)
	ids := make([]uint64, 0, o.batch)
	qi := 0
	bar := o.bar(env, "churn", plan.n-plan.initial)
	start := time.Now()
	for _, b := range plan.batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		vs, err := rr.Read(b.lo, b.hi-b.lo)
		if err != nil {
			return err
		}
		ids = ids[:0]
		for id := b.lo; id < b.hi; id++ {
			ids = append(ids, uint64(id))
		}
		t := time.Now()
		if err := ix.Upsert(ids, vs); err != nil {
			return fmt.Errorf("upsert rows [%d,%d): %w", b.lo, b.hi, err)
		}
		upsert += time.Since(t)
		rep.Upserted += len(ids)
		if len(b.deletes) > 0 {
			t = time.Now()
			k, err := ix.Delete(b.deletes)
			if err != nil {
				return fmt.Errorf("delete after rows [%d,%d): %w", b.lo, b.hi, err)
			}
			del += time.Since(t)
			if k != len(b.deletes) {
				return fmt.Errorf("delete after rows [%d,%d) removed %d of %d ids, all inserted and live", b.lo, b.hi, k, len(b.deletes))
			}
			rep.Deleted += k
		}
		for range o.perBatch {
			t = time.Now()
			if _, err := ix.Search(queries[qi], o.k, sp); err != nil {
				return fmt.Errorf("search during churn: %w", err)
			}
			lat = append(lat, float64(time.Since(t).Nanoseconds())/1e6)
			qi = (qi + 1) % len(queries)
		}
		if bar != nil {
			bar.Set(int64(b.hi - plan.initial))
		}
	}
	if bar != nil {
		bar.Finish()
	}
	rep.ChurnSecs = time.Since(start).Seconds()
	if o.nosync {
		if err := ix.Sync(); err != nil {
			return err
		}
	}
	t := time.Now()
	if err := ix.Drain(); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	if err := ix.MaintenanceErr(); err != nil {
		return fmt.Errorf("background maintenance: %w", err)
	}
	rep.DrainSecs = time.Since(t).Seconds()
	if w := clikit.ProcIO("write_bytes"); rep.writeBase >= 0 && w >= 0 {
		rep.WriteBytes = w - rep.writeBase
		rep.WriteBytesPerVec = float64(rep.WriteBytes) / float64(rep.Upserted)
		rep.WriteAmplification = rep.WriteBytesPerVec / float64(rep.RowBytes)
	} else {
		rep.WriteBytes, rep.WriteBytesAtClose = -1, -1
	}
	rep.DirBytesAfter = clikit.DirSize(ix.Dir())
	rep.UpsertSecs, rep.DeleteSecs = upsert.Seconds(), del.Seconds()
	rep.UpsertRate = float64(rep.Upserted) / rep.UpsertSecs
	if rep.Deleted > 0 {
		rep.DeleteRate = float64(rep.Deleted) / rep.DeleteSecs
	}
	rep.ChurnQ = len(lat)
	slices.Sort(lat)
	rep.ChurnP50Ms, rep.ChurnP99Ms = clikit.Percentile(lat, 0.5), clikit.Percentile(lat, 0.99)
	return nil
}

// churnMeasure searches every query once unmeasured, to fill the posting
// cache as the churn's searches filled the churned index's, then once
// more, one at a time, and returns recall@k against truth, QPS and
// latency of that pass. rowOf, if not nil, maps the index's ids to the
// rows truth names (the static index numbers the live rows 0, 1, …).
func churnMeasure(ix *index.Index, queries [][]float32, truth [][]int32, k int, sp *index.SearchParams, rowOf []int) (churnSearch, error) {
	for i, q := range queries {
		if _, err := ix.Search(q, k, sp); err != nil {
			return churnSearch{}, fmt.Errorf("query %d: %w", i, err)
		}
	}
	lat := make([]float64, len(queries))
	hits := 0
	before := ix.Stats()
	start := time.Now()
	for i, q := range queries {
		t := time.Now()
		res, err := ix.Search(q, k, sp)
		lat[i] = float64(time.Since(t).Nanoseconds()) / 1e6
		if err != nil {
			return churnSearch{}, fmt.Errorf("query %d: %w", i, err)
		}
		if rowOf != nil {
			for j := range res {
				res[j].ID = uint64(rowOf[res[j].ID])
			}
		}
		hits += clikit.CountHits(res, truth[i])
	}
	wall := time.Since(start).Seconds()
	after := ix.Stats()
	nq := float64(max(1, len(queries)))
	slices.Sort(lat)
	want := 0
	for _, t := range truth {
		want += len(t)
	}
	return churnSearch{
		NProbe: sp.NProbe,
		Recall: float64(hits) / float64(max(1, want)),
		QPS:    float64(len(queries)) / wall,
		P50Ms:  clikit.Percentile(lat, 0.5),
		P99Ms:  clikit.Percentile(lat, 0.99),

		VectorsPerQ: float64(after.VectorsRead-before.VectorsRead) / nq,
		KiBPerQ:     float64(after.ReadBytes-before.ReadBytes) / 1024 / nq,
	}, nil
}

// measureCurve measures ix at each -curve nprobe.
func (o *churnOptions) measureCurve(ix *index.Index, queries [][]float32, truth [][]int32, sp *index.SearchParams, rowOf []int) ([]churnSearch, error) {
	var out []churnSearch
	for _, np := range o.curve {
		p := *sp
		p.NProbe = np
		m, err := churnMeasure(ix, queries, truth, o.k, &p, rowOf)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// recallAtKiB interpolates recall linearly in KiB read per query between
// the two points of pts around kib; 0 if kib is outside them.
func recallAtKiB(pts []churnSearch, kib float64) float64 {
	slices.SortFunc(pts, func(a, b churnSearch) int { return cmp.Compare(a.KiBPerQ, b.KiBPerQ) })
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if a.KiBPerQ <= kib && kib <= b.KiBPerQ && b.KiBPerQ > a.KiBPerQ {
			return a.Recall + (b.Recall-a.Recall)*(kib-a.KiBPerQ)/(b.KiBPerQ-a.KiBPerQ)
		}
	}
	return 0
}

// churnPostingStats scans the stored postings of ix.
func churnPostingStats(ix *index.Index, heads int) (churnPostings, error) {
	ps := churnPostings{Cap: ix.Manifest().PostingCap}
	var sizes []int
	err := ix.ScanPostings(func(p *index.PostingInfo) error {
		n := len(p.IDs)
		sizes = append(sizes, n)
		ps.Copies += int64(n)
		if n > ps.Cap {
			ps.OverCap++
		}
		for _, id := range p.IDs {
			if !ix.Contains(id) {
				ps.DeletedCopy++
			}
		}
		return nil
	})
	if err != nil {
		return ps, err
	}
	ps.Stored = len(sizes)
	ps.EmptyHeads = max(0, heads-len(sizes))
	if len(sizes) == 0 {
		return ps, nil
	}
	slices.Sort(sizes)
	ps.Min, ps.Max = sizes[0], sizes[len(sizes)-1]
	ps.P99 = sizes[max(0, int(math.Ceil(0.99*float64(len(sizes))))-1)]
	ps.Mean = float64(ps.Copies) / float64(len(sizes))
	return ps, nil
}

// resetPeakRSS resets the kernel's peak RSS (VmHWM) of this process to its
// current RSS, and reports whether it could (Linux ≥ 4.0).
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// Print writes the report as a summary and a table.
func (r *churnReport) Print(w io.Writer) {
	fmt.Fprintf(w, "churn %s: %d rows × %d %s, %s, kernels %s\n", r.Data, r.Rows, r.Dim, r.Elem, r.Metric, r.Kernels)
	fmt.Fprintf(w, "built %d rows offline in %.2fs (%d heads); upserted %d in %d batches of %d, deleted %d; %d live\n",
		r.Initial, r.BuildSecs, r.BuildHeads, r.Upserted, r.Batches, r.BatchSize, r.Deleted, r.Live)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "churn\tcount\tseconds\tper second\t")
	fmt.Fprintf(tw, "upsert\t%d\t%.2f\t%.0f\t\n", r.Upserted, r.UpsertSecs, r.UpsertRate)
	fmt.Fprintf(tw, "delete\t%d\t%.2f\t%.0f\t\n", r.Deleted, r.DeleteSecs, r.DeleteRate)
	fmt.Fprintf(tw, "drain\t\t%.2f\t\t\n", r.DrainSecs)
	tw.Flush()
	fmt.Fprintf(w, "searches during churn: %d, p50 %.3f ms, p99 %.3f ms (nprobe %d)\n", r.ChurnQ, r.ChurnP50Ms, r.ChurnP99Ms, r.NProbe)
	if r.WriteBytes >= 0 {
		fmt.Fprintf(w, "written to storage: %s through the drain, %s per inserted vector (%.1f× its %d bytes); %s through close\n",
			clikit.FormatBytes(r.WriteBytes), clikit.FormatBytes(int64(r.WriteBytesPerVec)), r.WriteAmplification, r.RowBytes, clikit.FormatBytes(r.WriteBytesAtClose))
	} else {
		fmt.Fprintln(w, "written to storage: unknown (no /proc/self/io)")
	}
	churnPeak := "unknown (the kernel cannot reset the peak)"
	if r.PeakRSSChurn >= 0 {
		churnPeak = clikit.FormatBytes(r.PeakRSSChurn)
	}
	fmt.Fprintf(w, "index on disk %s before churn, %s after; peak RSS %s in the build, %s in churn\n",
		clikit.FormatBytes(r.DirBytesBefore), clikit.FormatBytes(r.DirBytesAfter), clikit.FormatBytes(r.PeakRSSBuild), churnPeak)
	fmt.Fprintf(w, "maintenance: %d splits, %d merges, %d folds, %d re-inserted; heads %d → %d; check: %s\n",
		r.Splits, r.Merges, r.Folds, r.Reinserted, r.BuildHeads, r.Heads, r.Check)
	p := r.Postings
	fmt.Fprintf(w, "postings: %d stored (+%d empty heads), copies min %d, mean %.1f, p99 %d, max %d, cap %d (%d over); %d copies of deleted ids left\n",
		p.Stored, p.EmptyHeads, p.Min, p.Mean, p.P99, p.Max, p.Cap, p.OverCap, p.DeletedCopy)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "index\trecall@%d\tQPS 1t\tp50 ms\tp99 ms\tvectors/q\tKiB read/q\theads\tbuild s\t\n", r.K)
	type row struct {
		name string
		m    churnSearch
	}
	rows := []row{{"churned", r.Churned}, {"static", r.Static}}
	for _, m := range r.ChurnedCurve {
		rows = append(rows, row{"churned", m})
	}
	for _, m := range r.StaticCurve {
		rows = append(rows, row{"static", m})
	}
	for _, s := range rows {
		fmt.Fprintf(tw, "%s np %d\t%.4f\t%.0f\t%.3f\t%.3f\t%.0f\t%.1f\t%d\t%.2f\t\n", s.name, s.m.NProbe, s.m.Recall, s.m.QPS, s.m.P50Ms, s.m.P99Ms, s.m.VectorsPerQ, s.m.KiBPerQ, s.m.Heads, s.m.BuildSecs)
	}
	tw.Flush()
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "recall@%d churned − static: %+.4f at nprobe %d over %d queries (tolerance %.3f): %s\n",
		r.K, r.RecallDiff, r.NProbe, r.Queries, r.Tolerance, verdict)
	if r.RecallEqualKiB > 0 {
		fmt.Fprintf(w, "at the static index's %.1f KiB read per query the churned index's recall@%d is %.4f (%+.4f)\n",
			r.Static.KiBPerQ, r.K, r.RecallEqualKiB, r.RecallEqualKiB-r.Static.Recall)
	}
}

// quantErr is index.ParseQuant's error for s.
func quantErr(s string) error {
	_, _, err := index.ParseQuant(s)
	return err
}
