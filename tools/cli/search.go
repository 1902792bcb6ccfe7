package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newSearch)
}

// searchOptions are the flags of `shoal search`.
type searchOptions struct {
	index   string
	queries string
	gt      string
	out     string
	k       int
	nprobe  int
	eps     float64
	rrEps   float64
	rrMax   int
	cache   clikit.SizeFlag
	tenant  uint
	tmode   string
	ef      int
	filter  string // -filter, the label filter's text (filter.Parse); "" for none
}

func (o *searchOptions) Validate() error {
	if o.index == "" || o.queries == "" {
		return errors.New("-index and -queries are required")
	}
	if o.k < 1 {
		return fmt.Errorf("-k %d, want >= 1", o.k)
	}
	if o.tenant > 1<<32-1 {
		return fmt.Errorf("-tenant %d, want at most 4294967295", o.tenant)
	}
	if _, err := parseTenantMode(o.tmode); err != nil {
		return err
	}
	_, err := o.parseFilter()
	return err
}

// parseFilter parses -filter: nil for none. Labels are numeric ids (an
// index keeps no label names).
func (o *searchOptions) parseFilter() (*filter.Expr, error) {
	if o.filter == "" {
		return nil, nil
	}
	e, err := filter.Parse(o.filter, nil)
	if err != nil {
		return nil, fmt.Errorf("-filter %q: %w", o.filter, err)
	}
	return e, nil
}

// parseTenantMode parses -tenant-mode.
func parseTenantMode(s string) (index.TenantMode, error) {
	for _, m := range []index.TenantMode{index.TenantShortlists, index.TenantScan, index.TenantBrute} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("-tenant-mode %q: want shortlists, scan or brute", s)
}

func newSearch() *clikit.Command {
	o := searchOptions{cache: 64 << 20}
	c := clikit.NewCommand("search", "-index DIR -queries FILE [-gt FILE] [-out FILE.u64bin] [flags]", "search an index with a query file, report recall")
	c.Group = clikit.GroupIndex
	fs := c.Flags
	fs.StringVar(&o.index, "index", "", "index directory")
	fs.StringVar(&o.queries, "queries", "", "query vector file")
	fs.StringVar(&o.gt, "gt", "", "ground truth file for recall")
	fs.StringVar(&o.out, "out", "", "write the result ids here as uint64: .npy, or .u64bin (uint32 queries, uint32 k, the ids); - for stdout")
	fs.IntVar(&o.k, "k", 10, "neighbours per query")
	fs.IntVar(&o.nprobe, "nprobe", 32, "postings read per query")
	fs.Float64Var(&o.eps, "eps", 7, "query-aware pruning ε (negative: off)")
	fs.Float64Var(&o.rrEps, "rerank-eps", 0, "quantized index: ε0 of the estimates' error bounds, in standard errors (default 1.9; larger reranks more)")
	fs.IntVar(&o.rrMax, "rerank-max", 0, "quantized index: most candidates reranked per query (default: no cap)")
	fs.Var(&o.cache, "cache", "posting cache budget, 0 for none (default 64MiB)")
	fs.UintVar(&o.tenant, "tenant", 0, "search as this tenant: only the vectors it may read (0: none)")
	fs.StringVar(&o.tmode, "tenant-mode", "shortlists", "how a tenant search runs: shortlists, scan (the shared index, filtered) or brute")
	fs.IntVar(&o.ef, "ef", 512, "rows a tenant's shortlist search reads at least (Curator's search_ef)")
	fs.StringVar(&o.filter, "filter", "", "search only vectors whose labels match this expression of label ids, e.g. '3 AND (7 OR 9) AND NOT 12'")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		defer clikit.LowerGC()()
		return o.Run(ctx, env)
	}
	return c
}

func (o *searchOptions) Run(ctx context.Context, env *clikit.Env) error {
	qs, dim, err := vecfile.ReadFloat32(o.queries)
	if err != nil {
		return err
	}
	nq := len(qs) / dim
	ix, err := index.Open(o.index, &index.Options{CacheBytes: clikit.CacheOption(o.cache)})
	if err != nil {
		return err
	}
	defer ix.Close()
	var truth [][]int32
	if o.gt != "" {
		if truth, err = clikit.ReadTruth(o.gt, nq, o.k); err != nil {
			return err
		}
	}
	var w *resultWriter
	summary := env.Stdout
	if o.out != "" {
		if w, err = createResults(o.out, env.Stdout, nq, o.k); err != nil {
			return err
		}
		defer w.Close() // the error is checked below; this one is for early returns
		if o.out == "-" || sameFile(o.out, env.Stdout) {
			summary = env.Stderr // the ids are on stdout
		}
	}
	mode, _ := parseTenantMode(o.tmode)
	fe, err := o.parseFilter()
	if err != nil {
		return err
	}
	sp := &index.SearchParams{NProbe: o.nprobe, Epsilon: o.eps, Tenant: uint32(o.tenant), TenantMode: mode, SearchEF: o.ef, Filter: fe, RerankEps: o.rrEps, RerankMax: o.rrMax}
	lat := make([]float64, nq)
	hits := 0
	ids := make([]uint64, 0, o.k)
	for i := 0; i < nq; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := time.Now()
		res, err := ix.Search(qs[i*dim:(i+1)*dim], o.k, sp)
		lat[i] = float64(time.Since(t).Nanoseconds()) / 1e6
		if err != nil {
			return fmt.Errorf("query %d: %w", i, err)
		}
		if truth != nil {
			hits += clikit.CountHits(res, truth[i])
		}
		if w != nil {
			ids = ids[:0]
			for _, r := range res {
				ids = append(ids, r.ID)
			}
			if err := w.WriteRow(ids); err != nil {
				if isBrokenPipe(err) {
					return nil // the reader has what it wanted (… | head)
				}
				return err
			}
		}
	}
	if w != nil {
		if err := w.Close(); err != nil {
			if isBrokenPipe(err) {
				return nil
			}
			return err
		}
	}
	slices.Sort(lat)
	var sum float64
	for _, l := range lat {
		sum += l
	}
	fmt.Fprintf(summary, "%d queries, nprobe %d: mean %.3f ms, p50 %.3f ms, p99 %.3f ms", nq, o.nprobe, sum/float64(nq), clikit.Percentile(lat, 0.5), clikit.Percentile(lat, 0.99))
	if truth != nil {
		fmt.Fprintf(summary, ", recall@%d %.4f", o.k, float64(hits)/float64(nq*o.k))
	}
	fmt.Fprintln(summary)
	return nil
}

// sameFile reports whether path is the file w writes to (-out /dev/stdout).
func sameFile(path string, w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	a, err1 := os.Stat(path)
	b, err2 := f.Stat()
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}
