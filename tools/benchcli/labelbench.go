package benchcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

func init() {
	register(newLabelBench)
}

const labelBenchAbout = `labelbench measures label-filtered search. For each selectivity s of
-sel (percent), label j+1 is put on exactly round(s·N) rows of the index
chosen at random (-seed), replacing any labels the rows had; the exact
k nearest labelled rows of each query are computed from -data. Then,
per selectivity, the queries search with filter "label j+1" in each mode:

  auto    the planner (FilterAuto): pre-filtering up to -brutemax matches,
          else in-scan filtering with NProbe raised by 1/selectivity
          (at most -maxprobe-fold)
  scan    in-scan filtering with NProbe raised, whatever the count
  pre     pre-filtering: every labelled vector scored
  inscan  in-scan filtering at -nprobe as given: the baseline

reporting recall@k, p50/p99 latency and KiB read per query: posting
bytes read from disk plus, for pre-filtering, the bytes of stored
vectors read (QueryStats.StoredBytes: build rows through the page cache,
neighbouring rows read in one call, so more than rows × row size).
The first 50 queries run once, unfiltered, before timing.`

// labelBenchOptions are the flags of `shoal labelbench`.
type labelBenchOptions struct {
	index, data, queries string
	sel                  clikit.FloatList
	seed                 uint64
	k, maxQ, nprobe      int
	bruteMax, maxProbe   int
	cache                clikit.SizeFlag
	modes                string
	report               reportOptions
}

func (o *labelBenchOptions) Validate() error {
	switch {
	case o.index == "" || o.data == "" || o.queries == "":
		return errors.New("-index, -data and -queries are required")
	case o.k < 1:
		return fmt.Errorf("-k %d, want >= 1", o.k)
	case o.nprobe < 1:
		return fmt.Errorf("-nprobe %d, want >= 1", o.nprobe)
	case len(o.sel) == 0:
		return errors.New("-sel is empty")
	}
	for _, s := range o.sel {
		if s <= 0 || s > 100 {
			return fmt.Errorf("-sel %g: want a percentage in (0, 100]", s)
		}
	}
	for _, m := range splitComma(o.modes) {
		if _, ok := labelBenchModes[m]; !ok {
			return fmt.Errorf("-modes: unknown mode %q", m)
		}
	}
	return nil
}

// labelBenchModes are the search parameters of each mode (Filter and
// NProbe set per run).
var labelBenchModes = map[string]index.SearchParams{
	"auto":   {FilterMode: index.FilterAuto},
	"scan":   {FilterMode: index.FilterAuto, FilterBruteMax: 1},
	"pre":    {FilterMode: index.FilterPre},
	"inscan": {FilterMode: index.FilterInScan},
}

func newLabelBench() *clikit.Command {
	o := labelBenchOptions{sel: clikit.FloatList{10, 1, 0.1}, seed: 1, k: 10, maxQ: 1000, nprobe: 32, modes: "auto,inscan,scan,pre"}
	c := clikit.NewCommand("labelbench", "-index DIR -data FILE -queries FILE [flags]", "label-filtered search at chosen selectivities: the planner vs plain in-scan filtering")
	c.Group = clikit.GroupBench
	c.Long = labelBenchAbout
	fs := c.Flags
	fs.StringVar(&o.index, "index", "", "index directory (built from -data; its labels are replaced)")
	fs.StringVar(&o.data, "data", "", "base vector file the index was built from (rows = ids)")
	fs.StringVar(&o.queries, "queries", "", "query vector file")
	fs.Var(&o.sel, "sel", "selectivities in percent, a list (default 10,1,0.1)")
	fs.Uint64Var(&o.seed, "seed", o.seed, "seed of the label assignment")
	fs.IntVar(&o.k, "k", o.k, "neighbours per query")
	fs.IntVar(&o.maxQ, "nq", o.maxQ, "use only the first nq queries (0: all)")
	fs.IntVar(&o.nprobe, "nprobe", o.nprobe, "NProbe of every mode (before the planner raises it)")
	fs.IntVar(&o.bruteMax, "brutemax", 0, "planner's pre-filter threshold, SearchParams.FilterBruteMax (0: default)")
	fs.IntVar(&o.maxProbe, "maxprobe", 0, "bound on the planner's NProbe raise, SearchParams.FilterMaxProbe (0: default)")
	fs.Var(&o.cache, "cache", "posting cache budget, 0 for none (default 0: every read from disk)")
	fs.StringVar(&o.modes, "modes", o.modes, "modes to run, comma-separated: auto, inscan, scan, pre")
	o.report.define(fs, "write results as JSON to this file")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		_, err := runReport(env, o.report, func() (*labelBenchReport, error) { return o.Run(ctx, env) })
		return err
	}
	return c
}

// labelBenchRow is one mode at one selectivity.
type labelBenchRow struct {
	Selectivity float64 `json:"selectivity_percent"`
	Matches     int     `json:"matches"`
	Mode        string  `json:"mode"`
	queryStats
	Heads   float64        `json:"heads_per_query"`
	Vectors float64        `json:"vectors_scored_per_query"`
	Plans   map[string]int `json:"plans"`
}

// labelBenchReport is the whole run.
type labelBenchReport struct {
	Index        string          `json:"index"`
	Rows         int             `json:"rows"`
	Queries      int             `json:"queries"`
	NProbe       int             `json:"nprobe"`
	LabelSeconds float64         `json:"label_seconds"`
	TruthSeconds float64         `json:"truth_seconds"`
	Results      []labelBenchRow `json:"results"`
}

// assignLabels returns, for each selectivity (percent), the rows that
// carry its label: exactly round(s·n) of the n rows, drawn with seed.
func assignLabels(n int, sel []float64, seed uint64) [][]uint64 {
	out := make([][]uint64, len(sel))
	for j, s := range sel {
		rng := rand.New(rand.NewPCG(seed, uint64(j)+1))
		c := int(float64(n)*s/100 + 0.5)
		perm := rng.Perm(n)[:c]
		rows := make([]uint64, c)
		for i, r := range perm {
			rows[i] = uint64(r)
		}
		slices.Sort(rows)
		out[j] = rows
	}
	return out
}

func (o *labelBenchOptions) Run(ctx context.Context, env *clikit.Env) (*labelBenchReport, error) {
	src, err := index.OpenFile(o.data)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	qs, dim, err := vecfile.ReadFloat32(o.queries)
	if err != nil {
		return nil, err
	}
	if dim != src.Dim() {
		return nil, fmt.Errorf("queries have %d dimensions, data %d", dim, src.Dim())
	}
	nq := len(qs) / dim
	if o.maxQ > 0 {
		nq = min(nq, o.maxQ)
	}
	qs = qs[:nq*dim]
	ix, err := index.Open(o.index, &index.Options{CacheBytes: clikit.CacheOption(o.cache)})
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	n := src.Len()
	if ix.Len() != n {
		return nil, fmt.Errorf("%s holds %d vectors, %s %d rows", o.index, ix.Len(), o.data, n)
	}
	man := ix.Manifest()
	rep := &labelBenchReport{Index: o.index, Rows: n, Queries: nq, NProbe: o.nprobe}

	// Labels: row r gets label j+1 when selectivity j picked it.
	start := time.Now()
	members := assignLabels(n, o.sel, o.seed)
	labels := make([][]uint32, n)
	for j, rows := range members {
		for _, r := range rows {
			labels[r] = append(labels[r], uint32(j+1))
		}
	}
	const batch = 16384
	bar := clikit.NewBar(env.Stderr, "labels", int64(n))
	for lo := 0; lo < n; lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(n, lo+batch)
		ids := make([]uint64, hi-lo)
		for i := range ids {
			ids[i] = uint64(lo + i)
		}
		if err := ix.SetLabels(ids, labels[lo:hi]); err != nil {
			return nil, err
		}
		bar.Set(int64(hi))
	}
	bar.Finish()
	rep.LabelSeconds = time.Since(start).Seconds()

	// Exact filtered ground truth, one pass over the data per selectivity.
	start = time.Now()
	truth := make([][][]int32, len(o.sel))
	for j, rows := range members {
		skip := make([]bool, n)
		for i := range skip {
			skip[i] = true
		}
		for _, r := range rows {
			skip[r] = false
		}
		truth[j], err = synth.ExactTruth(ctx, src, skip, qs, o.k, man.Metric, nil)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(env.Stderr, "ground truth at %g%% done\n", o.sel[j])
	}
	rep.TruthSeconds = time.Since(start).Seconds()

	for i := range min(nq, 50) {
		if _, err := ix.Search(qs[i*dim:(i+1)*dim], o.k, &index.SearchParams{NProbe: o.nprobe}); err != nil {
			return nil, err
		}
	}
	for j, s := range o.sel {
		expr := filter.Label(uint32(j + 1))
		for _, mode := range splitComma(o.modes) {
			sp := labelBenchModes[mode]
			sp.Filter, sp.NProbe = expr, o.nprobe
			if sp.FilterBruteMax == 0 {
				sp.FilterBruteMax = o.bruteMax
			}
			sp.FilterMaxProbe = o.maxProbe
			row := labelBenchRow{Selectivity: s, Matches: len(members[j]), Mode: mode, Plans: map[string]int{}}
			lat := make([]float64, 0, nq)
			var bytes int64
			var recall float64
			for i := range nq {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				r0 := ix.Stats().ReadBytes
				var st index.QueryStats
				t0 := time.Now()
				res, err := ix.SearchWithStats(qs[i*dim:(i+1)*dim], o.k, &sp, &st)
				if err != nil {
					return nil, fmt.Errorf("%g%% %s: query %d: %w", s, mode, i, err)
				}
				lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
				bytes += ix.Stats().ReadBytes - r0
				bytes += st.StoredBytes
				recall += recallAtK(res, truth[j][i], o.k)
				row.Heads += float64(st.Heads)
				row.Vectors += float64(st.Vectors)
				row.Plans[st.Plan.String()]++
			}
			row.queryStats = newQueryStats(lat, recall, float64(bytes)/1024)
			row.Heads /= float64(nq)
			row.Vectors /= float64(nq)
			rep.Results = append(rep.Results, row)
			fmt.Fprintf(env.Stderr, "%g%% %s done\n", s, mode)
		}
	}
	return rep, nil
}

// Print writes the report: a summary line and a table of the modes by
// selectivity.
func (rep *labelBenchReport) Print(w io.Writer) {
	fmt.Fprintf(w, "%s: %d rows, %d queries, nprobe %d; labels set in %.1fs, ground truth in %.1fs\n",
		rep.Index, rep.Rows, rep.Queries, rep.NProbe, rep.LabelSeconds, rep.TruthSeconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sel %\tmatches\tmode\tplans\trecall\tp50 ms\tp99 ms\tmean ms\tKiB read\theads\tscored\t")
	for _, r := range rep.Results {
		var plans []string
		for p, c := range r.Plans {
			plans = append(plans, p+":"+strconv.Itoa(c))
		}
		slices.Sort(plans)
		fmt.Fprintf(tw, "%g\t%d\t%s\t%s\t%.4f\t%.3f\t%.3f\t%.3f\t%.1f\t%.1f\t%.0f\t\n", r.Selectivity, r.Matches, r.Mode, strings.Join(plans, ","),
			r.Recall, r.P50Ms, r.P99Ms, r.MeanMs, r.KiBRead, r.Heads, r.Vectors)
	}
	tw.Flush()
}
