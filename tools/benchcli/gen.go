package benchcli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

func init() {
	register(newGen)
}

// genFormats are the formats `shoal gen -format` writes.
var genFormats = map[string]vecfile.Format{"fvecs": vecfile.FVecs, "fbin": vecfile.FBin, "npy": vecfile.NPY}

// runGen is `shoal gen`.
func newGen() *clikit.Command {
	o := genOptions{format: "fvecs"}
	c := clikit.NewCommand("gen", "-n N -q Q -dim D -out DIR [flags]", "write a synthetic data set with exact ground truth")
	c.Group = clikit.GroupBench
	fs := c.Flags
	fs.IntVar(&o.spec.N, "n", 300_000, "number of base vectors")
	fs.IntVar(&o.spec.Queries, "q", 1000, "number of query vectors")
	fs.IntVar(&o.spec.Dim, "dim", 128, "dimension")
	fs.IntVar(&o.spec.K, "k", 100, "ground-truth neighbours per query")
	fs.Uint64Var(&o.spec.Seed, "seed", 1, "random seed")
	fs.StringVar(&o.out, "out", "", "output directory (created if missing)")
	fs.StringVar(&o.format, "format", "fvecs", "file format: fvecs, fbin or npy")
	fs.IntVar(&o.spec.Clusters, "clusters", 1000, "number of Gaussian clusters")
	fs.IntVar(&o.spec.Rank, "rank", 32, "dimension of the subspace the clusters live in")
	fs.Float64Var(&o.spec.Noise, "noise", 0.15, "stddev of the isotropic noise (0: none)")
	fs.Float64Var(&o.spec.Spread, "spread", 2, "median within-cluster stddev scale (centres have unit scale)")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if o.spec.Noise == 0 {
			o.spec.Noise = -1 // -noise 0 means none; synth.Spec's 0 means the default
		}
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

// genOptions are the flags of `shoal gen`.
type genOptions struct {
	spec   synth.Spec
	out    string
	format string
}

// Validate reports flags that cannot work.
func (o *genOptions) Validate() error {
	if o.out == "" {
		return errors.New("-out is required")
	}
	if _, ok := genFormats[o.format]; !ok {
		return fmt.Errorf("-format %q, want fvecs, fbin or npy", o.format)
	}
	// synth.Spec takes zeros for defaults; a flag set to 0 is a mistake.
	if o.spec.N < 1 || o.spec.Queries < 1 || o.spec.Dim < 1 || o.spec.K < 1 || o.spec.Clusters < 1 || o.spec.Rank < 1 || !(o.spec.Spread > 0) {
		return fmt.Errorf("-n %d, -q %d, -dim %d, -k %d, -clusters %d, -rank %d and -spread %v must all be positive",
			o.spec.N, o.spec.Queries, o.spec.Dim, o.spec.K, o.spec.Clusters, o.spec.Rank, o.spec.Spread)
	}
	spec := o.spec
	spec.EnsureDefaults()
	return spec.Validate()
}

// Run writes the data set and prints what it wrote.
func (o *genOptions) Run(ctx context.Context, env *clikit.Env) error {
	start := time.Now()
	files, err := synth.GenerateFormat(ctx, env.Stderr, o.spec, o.out, genFormats[o.format])
	if err != nil {
		return err
	}
	spec := o.spec
	spec.EnsureDefaults()
	fmt.Fprintf(env.Stdout, "wrote %s in %.1fs (seed %d, %d clusters of rank %d, noise %g, spread %g):\n",
		o.out, time.Since(start).Seconds(), spec.Seed, spec.Clusters, spec.Rank, spec.Noise, spec.Spread)
	fmt.Fprintf(env.Stdout, "  %-24s %d × %d float32\n", filepath.Base(files.Base), spec.N, spec.Dim)
	fmt.Fprintf(env.Stdout, "  %-24s %d × %d float32\n", filepath.Base(files.Query), spec.Queries, spec.Dim)
	what := "ids"
	if files.GTDist == "" {
		what = "ids, then squared L2 distances"
	}
	fmt.Fprintf(env.Stdout, "  %-24s %d × %d %s\n", filepath.Base(files.GT), spec.Queries, spec.K, what)
	if files.GTDist != "" {
		fmt.Fprintf(env.Stdout, "  %-24s %d × %d squared L2 distances\n", filepath.Base(files.GTDist), spec.Queries, spec.K)
	}
	return nil
}
