// Package sweep measures a built index over a grid of search
// parameters: recall, latency, QPS, I/O per query, cache hits and memory.
// It is the engine of `shoal bench` and of `shoal demo`.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// Options are what a sweep measures: the search parameters, as the flags
// of `shoal bench` of the same names set them, and where it reads.
type Options struct {
	Index     string           // -index: the index directory
	Queries   string           // -queries: the query vector file
	GT        string           // -gt: ground truth for recall ("" for none)
	Warmup    string           // -warmup: queries run once before each point, not measured
	K         int              // -k: neighbours per query
	NProbe    clikit.IntList   // -nprobe: postings read per query, one point each
	Eps       clikit.FloatList // -eps: query-aware pruning ε (0 or negative: off), one point each
	Threads   clikit.IntList   // -threads: concurrent query loops for QPS; 1 also gives latency
	Cache     clikit.SizeFlag  // -cache: posting cache budget, 0 for none
	Buffered  bool             // -buffered: read through the OS page cache
	Label     string           // -label: the name of the run in the report
	MaxQ      int              // -nq: use only the first MaxQ queries (0: all)
	Beam      int              // -beam: routing beam width (0: the default)
	RerankEps float64          // -rerank-eps: ε0 of a quantized index's bounds (0: the default)
	RerankMax int              // -rerank-max: cap on reranked candidates (0: none)
	WarmCache bool             // -warmcache: fill the posting cache before measuring
	Batch     bool             // -batch: also measure SearchBatch of all queries
	GPU       string           // -gpu: where SearchBatch routes (auto, on, off)
}

// Validate reports options that cannot work, in terms of the flags.
func (o *Options) Validate() error {
	switch {
	case o.Index == "" || o.Queries == "":
		return errors.New("-index and -queries are required")
	case o.K < 1:
		return fmt.Errorf("-k %d, want >= 1", o.K)
	}
	if _, err := index.ParseGPUMode(o.GPU); err != nil {
		return fmt.Errorf("-gpu: %w", err)
	}
	return nil
}

// Point is one measured parameter setting.
type Point struct {
	NProbe    int             `json:"nprobe"`
	Epsilon   float64         `json:"epsilon"`
	Recall    float64         `json:"recall"`
	MeanMs    float64         `json:"mean_ms"`
	P50Ms     float64         `json:"p50_ms"`
	P99Ms     float64         `json:"p99_ms"`
	QPS       map[int]float64 `json:"qps"` // by threads
	Postings  float64         `json:"postings_per_query"`
	Vectors   float64         `json:"vectors_per_query"`
	KiBRead   float64         `json:"kib_read_per_query"`
	IOs       float64         `json:"ios_per_query"`
	CacheHit  float64         `json:"cache_hit_rate"`
	RSSBytes  int64           `json:"rss_bytes"`
	PeakBytes int64           `json:"peak_rss_bytes"`
	// BatchQPS and BatchRecall measure one SearchBatch of all queries
	// (-batch).
	BatchQPS    float64 `json:"batch_qps,omitempty"`
	BatchRecall float64 `json:"batch_recall,omitempty"`
}

// Report is the whole run.
type Report struct {
	Label      string         `json:"label"`
	Index      string         `json:"index"`
	Manifest   index.Manifest `json:"manifest"`
	Queries    int            `json:"queries"`
	K          int            `json:"k"`
	CacheBytes int64          `json:"cache_bytes"`
	DirectIO   bool           `json:"direct_io"`
	Kernels    string         `json:"kernels"`
	GPU        string         `json:"gpu"` // -gpu: where SearchBatch routes
	GoMaxProcs int            `json:"gomaxprocs"`
	// HasTruth says whether recall was measured (-gt given): without it
	// Recall and BatchRecall are 0 and print as n/a.
	HasTruth bool `json:"has_truth"`
	// FirstPass is the posting cache's state when the one-query-at-a-time
	// pass (latency, 1-thread QPS) of each point begins: "cold" (left by
	// the previous point), "warm-up" (after -warmup queries) or "warm"
	// (-warmcache). The multi-thread passes run after it, always warmer.
	FirstPass string  `json:"first_pass_cache"`
	Points    []Point `json:"points"`
	// Page-cache evidence: the machine's Cached: before and after all
	// measured queries, and how much of the index files is resident.
	PageCacheBefore  int64 `json:"page_cache_before"`
	PageCacheAfter   int64 `json:"page_cache_after"`
	IndexBytes       int64 `json:"index_bytes"`
	ResidentPages    int64 `json:"index_resident_pages"`
	IndexPages       int64 `json:"index_pages"`
	TotalQueriesRun  int64 `json:"total_queries_run"`
	TotalBytesRead   int64 `json:"total_bytes_read"`
	OpenRSSBytes     int64 `json:"open_rss_bytes"`
	HeadsMemoryBytes int64 `json:"heads_memory_bytes"`
}

// Run measures every point of the sweep: for each ε and nprobe, a
// one-query-at-a-time pass for latency and recall, a pass per thread count
// for QPS and, with Batch, one SearchBatch; progress goes to env.Stderr.
func (o *Options) Run(ctx context.Context, env *clikit.Env) (*Report, error) {
	// Only the queries run are held: they count in the measured RSS.
	qs, dim, err := vecfile.ReadFloat32Head(o.Queries, o.MaxQ)
	if err != nil {
		return nil, err
	}
	nq := len(qs) / max(1, dim)
	queries := make([][]float32, nq)
	for i := range queries {
		queries[i] = qs[i*dim : (i+1)*dim]
	}
	var truth [][]int32
	if o.GT != "" {
		if truth, err = clikit.ReadTruth(o.GT, nq, o.K); err != nil {
			return nil, err
		}
	}
	var warm [][]float32
	if o.Warmup == o.Queries {
		warm = queries // the same file: do not hold it twice
	} else if o.Warmup != "" {
		w, wdim, err := vecfile.ReadFloat32(o.Warmup)
		if err != nil {
			return nil, err
		}
		if wdim != dim {
			return nil, fmt.Errorf("warm-up queries have dim %d, queries %d", wdim, dim)
		}
		for i := 0; i < len(w)/wdim; i++ {
			warm = append(warm, w[i*wdim:(i+1)*wdim])
		}
	}

	mode := index.GPUOff // only SearchBatch (-batch) routes on a GPU
	if o.Batch {
		mode, _ = index.ParseGPUMode(o.GPU)
	}
	ix, err := index.Open(o.Index, &index.Options{CacheBytes: clikit.CacheOption(o.Cache), BufferedIO: o.Buffered, GPU: mode,
		Logf: env.Logf})
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	if ix.Dim() != dim {
		return nil, fmt.Errorf("%w: queries have dim %d, index %d", index.ErrDimensionMismatch, dim, ix.Dim())
	}
	if o.Batch && len(queries) > 0 {
		// Open the device and load the tree before measuring.
		if _, err := ix.SearchBatch(queries[:1], o.K, nil); err != nil {
			return nil, err
		}
	}
	if o.WarmCache {
		t := time.Now()
		if err := ix.WarmCache(); err != nil {
			return nil, err
		}
		st := ix.Stats()
		fmt.Fprintf(env.Stderr, "cache warmed in %.1fs: %s of %s\n", time.Since(t).Seconds(), clikit.FormatBytes(st.CacheBytes), clikit.FormatBytes(st.CacheCapacity))
	}
	runtime.GC()
	rep := &Report{
		Label: o.Label, Index: o.Index, GPU: o.GPU, Manifest: ix.Manifest(), Queries: nq, K: o.K,
		CacheBytes: int64(o.Cache), Kernels: vec.Impl(), GoMaxProcs: runtime.GOMAXPROCS(0),
		OpenRSSBytes:     clikit.ProcStatus("VmRSS"),
		HeadsMemoryBytes: ix.TreeStats().Bytes,
		IndexBytes:       clikit.DirSize(o.Index),
		HasTruth:         truth != nil,
		FirstPass:        "cold",
	}
	switch {
	case o.WarmCache:
		rep.FirstPass = "warm"
	case len(warm) > 0:
		rep.FirstPass = "warm-up"
	}
	rep.PageCacheBefore, _ = directio.PageCacheBytes()
	start := ix.Stats()
	for _, eps := range o.Eps {
		for _, np := range o.NProbe {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sp := &index.SearchParams{NProbe: np, Epsilon: eps, Beam: o.Beam, RerankEps: o.RerankEps, RerankMax: o.RerankMax}
			if eps == 0 {
				sp.Epsilon = -1 // flag value 0 means "no pruning"
			}
			pt, err := o.measure(ix, sp, queries, truth, warm)
			if err != nil {
				return nil, err
			}
			pt.Epsilon = eps
			rep.Points = append(rep.Points, *pt)
			fmt.Fprintf(env.Stderr, "nprobe %d eps %g: recall@%d %s, %.3f ms mean, %s\n", np, eps, o.K, fmtRecall(pt.Recall, rep.HasTruth), pt.MeanMs, fmtQPS(pt.QPS, rep.FirstPass, len(rep.Points) == 1))
			if o.Batch {
				fmt.Fprintf(env.Stderr, "nprobe %d eps %g: batch (gpu %s) recall@%d %s, %.0f QPS\n", np, eps, o.GPU, o.K, fmtRecall(pt.BatchRecall, rep.HasTruth), pt.BatchQPS)
			}
		}
	}
	end := ix.Stats()
	rep.DirectIO = end.DirectIO
	rep.TotalQueriesRun = end.Queries - start.Queries
	rep.TotalBytesRead = end.ReadBytes - start.ReadBytes
	rep.PageCacheAfter, _ = directio.PageCacheBytes()
	if files, err := ix.IndexFiles(); err == nil {
		for _, f := range files {
			if r, t, err := directio.Mincore(f); err == nil {
				rep.ResidentPages += r
				rep.IndexPages += t
			}
		}
	}
	return rep, nil
}

// measure runs one parameter setting: a warm-up pass, a one-query-at-a-time
// pass for latency and recall, then a pass per thread count for QPS.
func (o *Options) measure(ix *index.Index, sp *index.SearchParams, queries [][]float32, truth [][]int32, warm [][]float32) (*Point, error) {
	for _, q := range warm {
		if _, err := ix.Search(q, o.K, sp); err != nil {
			return nil, err
		}
	}
	pt := &Point{NProbe: sp.NProbe, QPS: map[int]float64{}}
	lat := make([]float64, len(queries))
	s0 := ix.Stats()
	var hits int
	t0 := time.Now()
	for i, q := range queries {
		t := time.Now()
		res, err := ix.Search(q, o.K, sp)
		lat[i] = float64(time.Since(t).Nanoseconds()) / 1e6
		if err != nil {
			return nil, err
		}
		if truth != nil {
			hits += clikit.CountHits(res, truth[i])
		}
	}
	wall := time.Since(t0).Seconds()
	s1 := ix.Stats()
	n := float64(len(queries))
	pt.QPS[1] = n / wall
	if truth != nil {
		pt.Recall = float64(hits) / (n * float64(o.K))
	}
	slices.Sort(lat)
	var sum float64
	for _, l := range lat {
		sum += l
	}
	pt.MeanMs = sum / n
	pt.P50Ms = clikit.Percentile(lat, 0.50)
	pt.P99Ms = clikit.Percentile(lat, 0.99)
	pt.Postings = float64(s1.PostingsRead-s0.PostingsRead) / n
	pt.Vectors = float64(s1.VectorsRead-s0.VectorsRead) / n
	pt.KiBRead = float64(s1.ReadBytes-s0.ReadBytes) / 1024 / n
	pt.IOs = float64(s1.ReadOps-s0.ReadOps) / n
	if lookups := (s1.CacheHits - s0.CacheHits) + (s1.CacheMisses - s0.CacheMisses); lookups > 0 {
		pt.CacheHit = float64(s1.CacheHits-s0.CacheHits) / float64(lookups)
	}
	for _, th := range o.Threads {
		if th <= 1 {
			continue
		}
		qps, err := concurrentQPS(ix, queries, o.K, sp, th)
		if err != nil {
			return nil, err
		}
		pt.QPS[th] = qps
	}
	if o.Batch {
		t := time.Now()
		res, err := ix.SearchBatch(queries, o.K, sp)
		if err != nil {
			return nil, err
		}
		pt.BatchQPS = n / time.Since(t).Seconds()
		if truth != nil {
			hits := 0
			for i, r := range res {
				hits += clikit.CountHits(r, truth[i])
			}
			pt.BatchRecall = float64(hits) / (n * float64(o.K))
		}
	}
	pt.RSSBytes = clikit.ProcStatus("VmRSS")
	pt.PeakBytes = clikit.ProcStatus("VmHWM")
	return pt, nil
}

// concurrentQPS runs all queries from th goroutines and returns queries per
// second of wall time.
func concurrentQPS(ix *index.Index, queries [][]float32, k int, sp *index.SearchParams, th int) (float64, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, th)
	t0 := time.Now()
	for w := 0; w < th; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(queries) {
					return
				}
				if _, err := ix.Search(queries[i], k, sp); err != nil {
					errs[w] = err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return float64(len(queries)) / time.Since(t0).Seconds(), nil
}

// fmtQPS formats the QPS of a point for the progress line, each with
// its thread count and cache state: the 1-thread figure comes from the
// first pass (first, as Report.FirstPass: "cold" only at the first
// point, firstPoint; after it the cache is as the point before left
// it), the others from later, warmer passes. The 1-thread figure comes
// first and the others after a semicolon: they are not comparable.
func fmtQPS(m map[int]float64, first string, firstPoint bool) string {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var parts []string
	for _, k := range ks {
		state := "warm cache"
		if k == 1 {
			state = first + " cache"
			if first == "cold" && !firstPoint {
				state = "cache as left"
			}
		}
		parts = append(parts, fmt.Sprintf("%.0f QPS (%d thread%s, %s)", m[k], k, plural(k), state))
	}
	return strings.Join(parts, "; ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// fmtRecall formats a recall, "n/a" where there was no ground truth.
func fmtRecall(r float64, measured bool) string {
	if !measured {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", r)
}

// Print writes the report: a summary line, then two tables, because
// their numbers are not comparable: the one-query-at-a-time pass
// (recall, latency, 1-thread QPS, I/O per query) and the throughput of
// the concurrent passes that follow it, on a warmer cache. Then the
// page-cache evidence.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "index %s: %d vectors × %d %v %v, %d heads, posting cache %s, direct I/O %v, kernels %s\n",
		r.Index, r.Manifest.Count, r.Manifest.Dim, r.Manifest.Elem, r.Manifest.Metric, r.Manifest.Heads,
		clikit.FormatBytes(r.CacheBytes), r.DirectIO, r.Kernels)
	var ths []int // the concurrent passes' thread counts
	if len(r.Points) > 0 {
		for t := range r.Points[0].QPS {
			if t > 1 {
				ths = append(ths, t)
			}
		}
		slices.Sort(ths)
	}
	batch := len(r.Points) > 0 && r.Points[0].BatchQPS > 0

	state := r.FirstPass
	if state == "cold" || state == "" {
		state = "cold at the first point, then as the point before left it"
	}
	fmt.Fprintf(w, "\nlatency: one query at a time, 1 thread; posting cache %s:\n", state)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "nprobe\teps\trecall@%d\tmean ms\tp50 ms\tp99 ms\tQPS\tpostings/q\tvectors/q\tKiB read/q\tIOs/q\tcache hit\tRSS MiB\t\n", r.K)
	for _, p := range r.Points {
		fmt.Fprintf(tw, "%d\t%g\t%s\t%.3f\t%.3f\t%.3f\t%.0f\t%.1f\t%.0f\t%.1f\t%.1f\t%.2f\t%.1f\t\n",
			p.NProbe, p.Epsilon, fmtRecall(p.Recall, r.HasTruth), p.MeanMs, p.P50Ms, p.P99Ms, p.QPS[1],
			p.Postings, p.Vectors, p.KiBRead, p.IOs, p.CacheHit, float64(p.RSSBytes)/(1<<20))
	}
	tw.Flush()

	if len(ths) > 0 || batch {
		fmt.Fprintf(w, "\nthroughput: concurrent query loops, after the latency pass of the same point (posting cache warm); not comparable with the QPS above:\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		hdr := "nprobe\teps\t"
		for _, t := range ths {
			hdr += fmt.Sprintf("QPS %d threads\t", t)
		}
		if batch {
			hdr += fmt.Sprintf("batch QPS (routing gpu %s)\tbatch recall@%d\t", r.GPU, r.K)
		}
		fmt.Fprintln(tw, hdr)
		for _, p := range r.Points {
			line := fmt.Sprintf("%d\t%g\t", p.NProbe, p.Epsilon)
			for _, t := range ths {
				line += fmt.Sprintf("%.0f\t", p.QPS[t])
			}
			if batch {
				line += fmt.Sprintf("%.0f\t%s\t", p.BatchQPS, fmtRecall(p.BatchRecall, r.HasTruth))
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\npage cache (Cached:) %s before, %s after %d queries that read %s from disk; index %s on disk, %d of %d pages resident\n",
		clikit.FormatBytes(r.PageCacheBefore), clikit.FormatBytes(r.PageCacheAfter), r.TotalQueriesRun, clikit.FormatBytes(r.TotalBytesRead),
		clikit.FormatBytes(r.IndexBytes), r.ResidentPages, r.IndexPages)
}
