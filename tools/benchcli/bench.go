package benchcli

import (
	"context"
	"os"
	"runtime"

	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/sweep"
)

func init() {
	register(newBench)
}

// benchOptions are the flags of `shoal bench`: the sweep's, and where its
// report goes.
type benchOptions struct {
	sweep.Options
	report reportOptions // -json and -cpuprofile
	plot   string
}

func newBench() *clikit.Command {
	o := benchOptions{Options: sweep.Options{GPU: "auto", K: 10, NProbe: clikit.IntList{8, 16, 32, 64}, Eps: clikit.FloatList{7}, Threads: clikit.IntList{1, runtime.GOMAXPROCS(0)}, Cache: 64 << 20}}
	c := clikit.NewCommand("bench", "-index DIR -queries FILE [-gt FILE] [flags]", "sweep search parameters: recall, QPS, latency, I/O, memory; bench churn (or -churn): updates")
	c.Long = "A sweep of search parameters over a built index: recall, QPS, latency, I/O and memory.\n" +
		"'shoal bench churn' (or 'shoal bench -churn') is the SPFresh update benchmark instead."
	c.Subs = []*clikit.Command{newChurn()}
	c.Group = clikit.GroupBench
	fs := c.Flags
	fs.StringVar(&o.Index, "index", "", "index directory")
	fs.StringVar(&o.Queries, "queries", "", "query vector file")
	fs.StringVar(&o.GT, "gt", "", "ground truth (.ivecs/.ibin: nearest ids per query) for recall")
	fs.StringVar(&o.Warmup, "warmup", "", "queries run once before each point, not measured")
	fs.IntVar(&o.K, "k", 10, "neighbours per query")
	fs.Var(&o.NProbe, "nprobe", "postings read per query, a list (default 8,16,32,64)")
	fs.Var(&o.Eps, "eps", "query-aware pruning ε, a list (negative: off) (default 7)")
	fs.Var(&o.Threads, "threads", "concurrent query loops, a list; 1 also gives latency (default 1,GOMAXPROCS)")
	fs.Var(&o.Cache, "cache", "posting cache budget, 0 for none (default 64MiB)")
	fs.BoolVar(&o.Buffered, "buffered", false, "read through the OS page cache instead of direct I/O")
	o.report.define(fs, "write results as JSON to this file")
	fs.StringVar(&o.plot, "plot", "", "write a recall–QPS plot (SVG) to this file")
	fs.StringVar(&o.Label, "label", "shoal", "name of this run in JSON and plots")
	fs.IntVar(&o.MaxQ, "nq", 0, "use only the first nq queries")
	fs.BoolVar(&o.WarmCache, "warmcache", false, "fill the posting cache before measuring (in-memory end)")
	fs.IntVar(&o.Beam, "beam", 0, "routing beam width (default max(4·nprobe, 32))")
	fs.Float64Var(&o.RerankEps, "rerank-eps", 0, "quantized index: ε0 of the estimates' error bounds, in standard errors (default 1.9; larger reranks more)")
	fs.IntVar(&o.RerankMax, "rerank-max", 0, "quantized index: most candidates reranked per query (default: no cap)")
	fs.BoolVar(&o.Batch, "batch", false, "also measure SearchBatch of all queries at once: batch QPS and recall")
	fs.StringVar(&o.GPU, "gpu", "auto", "where -batch routes its queries: auto (a CUDA GPU when one is usable), on (or fail), off")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		rep, err := runReport(env, o.report, func() (*sweep.Report, error) { return o.Run(ctx, env) })
		if err != nil {
			return err
		}
		if o.plot != "" {
			if err := os.WriteFile(o.plot, plotSVG(rep), 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	return c
}
