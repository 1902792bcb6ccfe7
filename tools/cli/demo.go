package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/sweep"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

func init() {
	register(newDemo)
}

// demoOptions are the flags of `shoal demo`.
type demoOptions struct {
	n, dim, queries int
	data            string
	keep            bool
}

func (o *demoOptions) Validate() error {
	if o.n < 1000 || o.dim < 2 || o.queries < 1 {
		return fmt.Errorf("need -n >= 1000, -dim >= 2, -queries >= 1")
	}
	return nil
}

func newDemo() *clikit.Command {
	o := demoOptions{}
	c := clikit.NewCommand("demo", "[flags]", "end to end on a synthetic data set: generate, build, search, report")
	c.Group = clikit.GroupIndex
	fs := c.Flags
	fs.IntVar(&o.n, "n", 100_000, "vectors")
	fs.IntVar(&o.dim, "dim", 128, "dimension")
	fs.IntVar(&o.queries, "queries", 1000, "queries")
	fs.StringVar(&o.data, "data", "", "data set directory (default: a cache directory; generated if missing)")
	fs.BoolVar(&o.keep, "keep", false, "keep the index directory")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

func (o *demoOptions) Run(ctx context.Context, env *clikit.Env) error {
	if o.data == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		o.data = filepath.Join(cache, "shoal", fmt.Sprintf("demo-%dx%d-q%d", o.n, o.dim, o.queries))
	}
	base := filepath.Join(o.data, "base.fvecs")
	if _, err := os.Stat(filepath.Join(o.data, "groundtruth.ivecs")); err != nil {
		fmt.Fprintf(env.Stderr, "== generating %d×%d synthetic vectors and exact ground truth in %s\n", o.n, o.dim, o.data)
		spec := synth.Spec{N: o.n, Queries: o.queries, Dim: o.dim, Seed: 1}
		if err := synth.Generate(ctx, env.Stderr, spec, o.data); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(env.Stderr, "== using the data set in %s\n", o.data)
	}
	tmp, err := os.MkdirTemp("", "shoal-demo-")
	if err != nil {
		return err
	}
	dir := filepath.Join(tmp, "index")
	if !o.keep {
		defer os.RemoveAll(tmp)
	}
	fmt.Fprintf(env.Stderr, "== building the index in %s\n", dir)
	t0 := time.Now()
	b := buildOptions{data: base, out: dir, metric: "l2", quant: "rabitq"}
	if err := b.Run(ctx, env); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "== searching %d queries (one at a time, then from all cores)\n", o.queries)
	bo := sweep.Options{
		Index: dir, Queries: filepath.Join(o.data, "query.fvecs"), GT: filepath.Join(o.data, "groundtruth.ivecs"),
		K: 10, NProbe: clikit.IntList{4, 8, 16, 32}, Eps: clikit.FloatList{7}, Threads: clikit.IntList{1, 2}, Cache: 16 << 20, Label: "demo",
	}
	rep, err := bo.Run(ctx, env)
	if err != nil {
		return err
	}
	rep.Print(env.Stdout)
	fmt.Fprintf(env.Stdout, "memory: %s resident after opening the index (heads %s), posting cache budget %s\n",
		clikit.FormatBytes(rep.OpenRSSBytes), clikit.FormatBytes(rep.HeadsMemoryBytes), clikit.FormatBytes(rep.CacheBytes))
	fmt.Fprintf(env.Stdout, "demo done in %.0fs", time.Since(t0).Seconds())
	if o.keep {
		fmt.Fprintf(env.Stdout, "; index kept in %s", dir)
	}
	fmt.Fprintln(env.Stdout)
	return nil
}
