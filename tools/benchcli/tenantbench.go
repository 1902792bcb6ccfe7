package benchcli

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newTenantBench)
}

const tenantBenchAbout = `tenantbench measures tenant (filtered) search on a workload of
shoal tenantgen, in one run, per tenant-size bucket: recall@k, p50/p99
latency and bytes read, for

  curator     the tenant's shortlists (SearchParams.TenantMode shortlists),
              at each -ef (Curator's search_ef)
  shared      the shared index searched as usual, rows the tenant may not
              read dropped while scanning (mode scan), at each -nprobe
  brute       every vector on the tenant's list scored (mode brute)
  pertenant   one separate Shoal index per tenant (-pertenant DIR; built
              there on the first run), at each -nprobe

The tenants and grants of access.bin are loaded into -index on the first
run (tenant t of the workload is tenant t+1 of the index) and persist.
Memory: the tenant state of the shared index (lists, shortlists), its
process RSS, and the RSS the per-tenant indexes add when all are open.`

// tenantBenchOptions are the flags of `shoal tenantbench`.
type tenantBenchOptions struct {
	index, data, queries, workload, perTenant string
	plain                                     string
	k, maxQ, maxSL                            int
	ef, nprobe                                clikit.IntList
	cache                                     clikit.SizeFlag
	modes                                     string
	report                                    reportOptions
}

func (o *tenantBenchOptions) Validate() error {
	switch {
	case o.index == "" || o.queries == "" || o.workload == "":
		return errors.New("-index, -queries and -workload are required")
	case o.perTenant != "" && o.data == "":
		return errors.New("-pertenant needs -data, the base file the index was built from")
	case o.k < 1:
		return fmt.Errorf("-k %d, want >= 1", o.k)
	}
	return nil
}

func newTenantBench() *clikit.Command {
	o := tenantBenchOptions{k: 10, ef: clikit.IntList{256, 512, 1024}, nprobe: clikit.IntList{16, 32, 64}, modes: "curator,shared,brute,pertenant"}
	c := clikit.NewCommand("tenantbench", "-index DIR -queries FILE -workload DIR [flags]", "multi-tenant search: Curator shortlists vs the shared index, brute force and per-tenant indexes")
	c.Group = clikit.GroupBench
	c.Long = tenantBenchAbout
	fs := c.Flags
	fs.StringVar(&o.index, "index", "", "shared index directory (built from -data)")
	fs.StringVar(&o.data, "data", "", "base vector file the index was built from (for -pertenant)")
	fs.StringVar(&o.queries, "queries", "", "query vector file given to tenantgen")
	fs.StringVar(&o.workload, "workload", "", "tenantgen output directory")
	fs.StringVar(&o.plain, "plain", "", "a copy of -index without tenants: its open memory is the shared index's baseline")
	fs.StringVar(&o.perTenant, "pertenant", "", "directory of the per-tenant indexes (built if missing); empty skips them")
	fs.IntVar(&o.k, "k", 10, "neighbours per query")
	fs.IntVar(&o.maxQ, "nq", 0, "use only the first nq queries")
	fs.IntVar(&o.maxSL, "maxsl", 0, "Curator's max_sl_size, rows per shortlist before it splits (Options.MaxSLSize; 0: default 256; applies to loading)")
	fs.Var(&o.ef, "ef", "curator search_ef values, a list (default 256,512,1024)")
	fs.Var(&o.nprobe, "nprobe", "nprobe values of shared and pertenant, a list (default 16,32,64)")
	fs.Var(&o.cache, "cache", "posting cache budget of every index, 0 for none (default 0: every read from disk)")
	fs.StringVar(&o.modes, "modes", o.modes, "modes to run, comma-separated")
	o.report.define(fs, "write results as JSON to this file")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		_, err := runReport(env, o.report, func() (*tenantBenchReport, error) { return o.Run(ctx, env) })
		return err
	}
	return c
}

// tenantBenchRow is one mode and parameter in one tenant-size bucket.
type tenantBenchRow struct {
	Mode   string `json:"mode"`
	Param  string `json:"param"`
	Bucket string `json:"bucket"`
	queryStats
}

// tenantBenchReport is the whole run.
type tenantBenchReport struct {
	Index       string            `json:"index"`
	Tenants     int               `json:"tenants"`
	Rows        int               `json:"rows"`
	Queries     int               `json:"queries"`
	LoadSeconds float64           `json:"load_seconds,omitempty"`
	TenantState index.TenantStats `json:"tenant_state"`
	OpenRSS     int64             `json:"open_rss_bytes"`
	HeapBytes   int64             `json:"heap_bytes"`
	// PlainRSS and PlainHeap are the same for -plain: the shared index
	// without tenants, opened first in the same process.
	PlainRSS  int64            `json:"plain_rss_bytes,omitempty"`
	PlainHeap int64            `json:"plain_heap_bytes,omitempty"`
	PerTenant *perTenantMemory `json:"per_tenant,omitempty"`
	Results   []tenantBenchRow `json:"results"`
	Buckets   map[string]int   `json:"tenants_per_bucket"`
	QueriesIn map[string]int   `json:"queries_per_bucket"`
}

// perTenantMemory is what the per-tenant indexes cost.
type perTenantMemory struct {
	Indexes      int     `json:"indexes"`
	BuildSeconds float64 `json:"build_seconds,omitempty"`
	AddedRSS     int64   `json:"added_rss_bytes"`
	AddedHeap    int64   `json:"added_heap_bytes"`
	DiskBytes    int64   `json:"disk_bytes"`
}

// tenantWorkload is tenantgen's output, read back.
type tenantWorkload struct {
	access  [][]uint32 // per row: its tenants, owner first (workload numbering)
	tenants int
	qt      []uint32  // tenant of each query
	truth   [][]int32 // nearest accessible rows of each query
}

func readTenantWorkload(dir string) (*tenantWorkload, error) {
	w := &tenantWorkload{}
	f, err := os.Open(filepath.Join(dir, "access.bin"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:4]) != "SHTA" || binary.LittleEndian.Uint32(hdr[4:]) != 1 {
		return nil, fmt.Errorf("%s: not a version 1 access file", f.Name())
	}
	rows := int(binary.LittleEndian.Uint32(hdr[8:]))
	w.tenants = int(binary.LittleEndian.Uint32(hdr[12:]))
	w.access = make([][]uint32, rows)
	buf := make([]byte, 4*255)
	for i := range w.access {
		c, err := r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", f.Name(), i, err)
		}
		if _, err := io.ReadFull(r, buf[:4*int(c)]); err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", f.Name(), i, err)
		}
		ts := make([]uint32, c)
		for j := range ts {
			ts[j] = binary.LittleEndian.Uint32(buf[4*j:])
			if int(ts[j]) >= w.tenants {
				return nil, fmt.Errorf("%s: row %d names tenant %d of %d", f.Name(), i, ts[j], w.tenants)
			}
		}
		w.access[i] = ts
	}
	qb, err := os.ReadFile(filepath.Join(dir, "query_tenants.u32"))
	if err != nil {
		return nil, err
	}
	for i := 0; i+4 <= len(qb); i += 4 {
		w.qt = append(w.qt, binary.LittleEndian.Uint32(qb[i:]))
	}
	gb, err := os.ReadFile(filepath.Join(dir, "groundtruth.ivecs"))
	if err != nil {
		return nil, err
	}
	for o := 0; o+4 <= len(gb); {
		n := int(binary.LittleEndian.Uint32(gb[o:]))
		o += 4
		if o+4*n > len(gb) {
			return nil, errors.New("groundtruth.ivecs: truncated")
		}
		row := make([]int32, n)
		for j := range row {
			row[j] = int32(binary.LittleEndian.Uint32(gb[o+4*j:]))
		}
		o += 4 * n
		w.truth = append(w.truth, row)
	}
	if len(w.truth) != len(w.qt) {
		return nil, fmt.Errorf("workload: %d query tenants, %d ground-truth rows", len(w.qt), len(w.truth))
	}
	return w, nil
}

// members returns each tenant's readable rows (sorted) and owned rows.
func (w *tenantWorkload) members() (readable, owned [][]uint64) {
	readable = make([][]uint64, w.tenants)
	owned = make([][]uint64, w.tenants)
	for row, ts := range w.access {
		for j, t := range ts {
			readable[t] = append(readable[t], uint64(row))
			if j == 0 {
				owned[t] = append(owned[t], uint64(row))
			}
		}
	}
	return readable, owned
}

func (o *tenantBenchOptions) Run(ctx context.Context, env *clikit.Env) (*tenantBenchReport, error) {
	w, err := readTenantWorkload(o.workload)
	if err != nil {
		return nil, err
	}
	qs, dim, err := vecfile.ReadFloat32(o.queries)
	if err != nil {
		return nil, err
	}
	nq := min(len(w.qt), len(qs)/dim)
	if o.maxQ > 0 {
		nq = min(nq, o.maxQ)
	}
	readable, owned := w.members()
	rep := &tenantBenchReport{Index: o.index, Tenants: w.tenants, Rows: len(w.access), Queries: nq, Buckets: map[string]int{}, QueriesIn: map[string]int{}}
	for _, r := range readable {
		rep.Buckets[tenantBuckets[tenantBucket(len(r))].Name]++
	}
	for _, t := range w.qt[:nq] {
		rep.QueriesIn[tenantBuckets[tenantBucket(len(readable[t]))].Name]++
	}

	if o.plain != "" {
		px, err := index.Open(o.plain, &index.Options{CacheBytes: clikit.CacheOption(o.cache)})
		if err != nil {
			return nil, err
		}
		if len(px.Tenants()) > 0 {
			px.Close()
			return nil, fmt.Errorf("-plain %s has tenants", o.plain)
		}
		rep.PlainHeap, rep.PlainRSS = heapAndRSS()
		px.Close()
		debug.FreeOSMemory()
	}
	ix, err := index.Open(o.index, &index.Options{CacheBytes: clikit.CacheOption(o.cache), MaxSLSize: o.maxSL})
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	if len(ix.Tenants()) == 0 {
		start := time.Now()
		if err := loadTenants(ctx, ix, env, readable, owned); err != nil {
			return nil, err
		}
		rep.LoadSeconds = time.Since(start).Seconds()
	} else if len(ix.Tenants()) != w.tenants {
		return nil, fmt.Errorf("%s holds %d tenants, the workload %d", o.index, len(ix.Tenants()), w.tenants)
	}
	rep.HeapBytes, rep.OpenRSS = heapAndRSS()
	rep.TenantState = ix.TenantStats()

	modes := map[string]bool{}
	for _, m := range splitComma(o.modes) {
		modes[m] = true
	}
	queries := make([][]float32, nq)
	for i := range queries {
		queries[i] = qs[i*dim : (i+1)*dim]
	}
	run := func(mode, param string, search func(i int) ([]index.Result, error), read func() int64) error {
		lat := make([][]float64, len(tenantBuckets))
		rec := make([]float64, len(tenantBuckets))
		kib := make([]float64, len(tenantBuckets))
		for i := range queries {
			if err := ctx.Err(); err != nil {
				return err
			}
			b := tenantBucket(len(readable[w.qt[i]]))
			r0 := read()
			t0 := time.Now()
			res, err := search(i)
			if err != nil {
				return fmt.Errorf("%s %s: query %d: %w", mode, param, i, err)
			}
			lat[b] = append(lat[b], float64(time.Since(t0).Microseconds())/1000)
			kib[b] += float64(read()-r0) / 1024
			rec[b] += recallAtK(res, w.truth[i], o.k)
		}
		for b := range tenantBuckets {
			if len(lat[b]) == 0 {
				continue
			}
			rep.Results = append(rep.Results, tenantBenchRow{Mode: mode, Param: param, Bucket: tenantBuckets[b].Name,
				queryStats: newQueryStats(lat[b], rec[b], kib[b])})
		}
		fmt.Fprintf(env.Stderr, "%s %s done\n", mode, param)
		return nil
	}
	sharedRead := func() int64 { return ix.Stats().ReadBytes }
	if modes["curator"] {
		for _, ef := range o.ef {
			sp := &index.SearchParams{TenantMode: index.TenantShortlists, SearchEF: ef}
			err := run("curator", "ef="+strconv.Itoa(ef), func(i int) ([]index.Result, error) {
				p := *sp
				p.Tenant = w.qt[i] + 1
				return ix.Search(queries[i], o.k, &p)
			}, sharedRead)
			if err != nil {
				return nil, err
			}
		}
	}
	if modes["shared"] {
		for _, np := range o.nprobe {
			err := run("shared", "nprobe="+strconv.Itoa(np), func(i int) ([]index.Result, error) {
				return ix.Search(queries[i], o.k, &index.SearchParams{Tenant: w.qt[i] + 1, TenantMode: index.TenantScan, NProbe: np})
			}, sharedRead)
			if err != nil {
				return nil, err
			}
		}
	}
	if modes["brute"] {
		err := run("brute", "-", func(i int) ([]index.Result, error) {
			return ix.Search(queries[i], o.k, &index.SearchParams{Tenant: w.qt[i] + 1, TenantMode: index.TenantBrute})
		}, sharedRead)
		if err != nil {
			return nil, err
		}
	}
	if modes["pertenant"] && o.perTenant != "" {
		if err := o.perTenantRuns(ctx, env, ix, rep, w, queries, readable, run); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// loadTenants creates the workload's tenants in ix (tenant t as t+1),
// gives each its owned rows and grants it the others, a chunk of tenants
// per batch (CreateTenants, OwnMany, GrantMany).
func loadTenants(ctx context.Context, ix *index.Index, env *clikit.Env, readable, owned [][]uint64) error {
	const chunk = 1000
	bar := clikit.NewBar(env.Stderr, "tenants", int64(len(readable)))
	for lo := 0; lo < len(readable); lo += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+chunk, len(readable))
		ts := make([]uint32, 0, hi-lo)
		own := make(map[uint32][]uint64)
		grant := make(map[uint32][]uint64)
		for t := lo; t < hi; t++ {
			id := uint32(t + 1)
			ts = append(ts, id)
			if len(owned[t]) > 0 {
				own[id] = owned[t]
			}
			for _, r := range readable[t] {
				if _, ok := slices.BinarySearch(owned[t], r); !ok {
					grant[id] = append(grant[id], r)
				}
			}
		}
		if err := ix.CreateTenants(ts); err != nil {
			return err
		}
		if len(own) > 0 {
			if err := ix.OwnMany(own); err != nil {
				return err
			}
		}
		if len(grant) > 0 {
			if err := ix.GrantMany(grant); err != nil {
				return err
			}
		}
		bar.Set(int64(hi))
	}
	bar.Finish()
	return ix.Sync()
}

// perTenantRuns builds (if missing) and opens one index per tenant and
// runs the pertenant mode.
func (o *tenantBenchOptions) perTenantRuns(ctx context.Context, env *clikit.Env, shared *index.Index, rep *tenantBenchReport, w *tenantWorkload, queries [][]float32, readable [][]uint64,
	run func(string, string, func(int) ([]index.Result, error), func() int64) error) error {
	man := shared.Manifest()
	mem := &perTenantMemory{Indexes: len(readable)}
	rep.PerTenant = mem
	if _, err := os.Stat(o.perTenant); err != nil {
		src, err := index.OpenFile(o.data)
		if err != nil {
			return err
		}
		defer src.Close()
		start := time.Now()
		bar := clikit.NewBar(env.Stderr, "per-tenant builds", int64(len(readable)))
		for t, rows := range readable {
			if err := ctx.Err(); err != nil {
				return err
			}
			bar.Set(int64(t))
			if len(rows) == 0 {
				continue
			}
			ri := make([]int, len(rows))
			for i, r := range rows {
				ri[i] = int(r)
			}
			dir := filepath.Join(o.perTenant, strconv.Itoa(t))
			_, err := index.Build(dir, subsetSource(src, ri), &index.Options{Metric: man.Metric, Elem: man.Elem, Replicas: man.Replicas, RNGFactor: man.RNGFactor, Workers: 1})
			if err != nil {
				return fmt.Errorf("tenant %d: %w", t, err)
			}
		}
		bar.Finish()
		mem.BuildSeconds = time.Since(start).Seconds()
	}
	mem.DiskBytes = clikit.DirSize(o.perTenant)
	heap0, rss0 := heapAndRSS()
	ixs := make([]*index.Index, len(readable))
	defer func() {
		for _, x := range ixs {
			if x != nil {
				x.Close()
			}
		}
	}()
	for t, rows := range readable {
		if len(rows) == 0 {
			continue
		}
		x, err := index.Open(filepath.Join(o.perTenant, strconv.Itoa(t)), &index.Options{CacheBytes: clikit.CacheOption(o.cache)})
		if err != nil {
			return fmt.Errorf("tenant %d: %w", t, err)
		}
		ixs[t] = x
	}
	heap1, rss1 := heapAndRSS()
	mem.AddedHeap, mem.AddedRSS = heap1-heap0, rss1-rss0
	read := func() int64 {
		var n int64
		for _, x := range ixs {
			if x != nil {
				n += x.Stats().ReadBytes
			}
		}
		return n
	}
	for _, np := range o.nprobe {
		err := run("pertenant", "nprobe="+strconv.Itoa(np), func(i int) ([]index.Result, error) {
			t := w.qt[i]
			res, err := ixs[t].Search(queries[i], o.k, &index.SearchParams{NProbe: np})
			if err != nil {
				return nil, err
			}
			for j := range res {
				res[j].ID = readable[t][res[j].ID]
			}
			return res, nil
		}, read)
		if err != nil {
			return err
		}
	}
	return nil
}

// heapAndRSS returns the Go heap in use after a collection and the
// process's resident memory.
func heapAndRSS() (heap, rss int64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc), clikit.ProcStatus("VmRSS")
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// Print writes the report: memory, then a table of the modes by bucket.
func (rep *tenantBenchReport) Print(w io.Writer) {
	fmt.Fprintf(w, "%d tenants over %d rows, %d queries; tenants per bucket %v, queries per bucket %v\n", rep.Tenants, rep.Rows, rep.Queries, rep.Buckets, rep.QueriesIn)
	st := rep.TenantState
	if rep.PlainRSS > 0 {
		fmt.Fprintf(w, "shared index without tenants (-plain): RSS %s, Go heap %s\n", clikit.FormatBytes(rep.PlainRSS), clikit.FormatBytes(rep.PlainHeap))
	}
	fmt.Fprintf(w, "shared index: RSS %s, Go heap %s; tenant state: %d shortlists holding %d rows, shortlists %s, lists %s, value versions %s\n",
		clikit.FormatBytes(rep.OpenRSS), clikit.FormatBytes(rep.HeapBytes), st.Shortlists, st.ShortlistRows, clikit.FormatBytes(st.ShortlistBytes), clikit.FormatBytes(st.ListBytes), clikit.FormatBytes(st.VersionBytes))
	if rep.LoadSeconds > 0 {
		fmt.Fprintf(w, "tenants loaded in %.1fs\n", rep.LoadSeconds)
	}
	if m := rep.PerTenant; m != nil {
		fmt.Fprintf(w, "per-tenant indexes: %d, open adds RSS %s, Go heap %s; %s on disk", m.Indexes, clikit.FormatBytes(m.AddedRSS), clikit.FormatBytes(m.AddedHeap), clikit.FormatBytes(m.DiskBytes))
		if m.BuildSeconds > 0 {
			fmt.Fprintf(w, "; built in %.1fs", m.BuildSeconds)
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tparam\tbucket\tqueries\trecall\tp50 ms\tp99 ms\tmean ms\tKiB read\t")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.4f\t%.3f\t%.3f\t%.3f\t%.1f\t\n", r.Mode, r.Param, r.Bucket, r.Queries, r.Recall, r.P50Ms, r.P99Ms, r.MeanMs, r.KiBRead)
	}
	tw.Flush()
}
