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
var genFormats = map[string]vecfile.Format{
	"fvecs": vecfile.FVecs, "fbin": vecfile.FBin, "npy": vecfile.NPY,
	"u8bin": vecfile.U8Bin, "bvecs": vecfile.BVecs,
}

// genElems are the element types `shoal gen -elem` writes.
var genElems = map[string]vecfile.Elem{
	"f32": vecfile.Float32, "float32": vecfile.Float32,
	"u8": vecfile.Uint8, "uint8": vecfile.Uint8,
}

// genPreset is what `shoal gen -preset` sets; flags given on the command
// line win.
type genPreset struct {
	dim          int
	elem, format string
}

// genPresets imitate the two big-ann-benchmarks shapes: BIGANN (SIFT,
// 128-d bytes) and Deep1B (96-d floats).
var genPresets = map[string]genPreset{
	"sift": {dim: 128, elem: "u8", format: "u8bin"},
	"deep": {dim: 96, elem: "f32", format: "fbin"},
}

// runGen is `shoal gen`.
func newGen() *clikit.Command {
	o := genOptions{}
	c := clikit.NewCommand("gen", "-n N -q Q -dim D -out DIR [flags]", "write a synthetic data set with exact ground truth")
	c.Long = `Writes N base and Q query vectors drawn from a seeded Gaussian mixture, and
the exact K nearest base vectors of each query (squared L2). The vectors
are generated and written a chunk at a time and the ground truth streams the
base file back (as shoal gt does), so memory does not grow with N; the same
seed gives the same files.

-elem u8 quantises the mixture to SIFT-like bytes (mean 64, one standard
deviation 32 units, clipped to 0..255). -preset sift is -dim 128 -elem u8
-format u8bin (BIGANN-like), -preset deep is -dim 96 -elem f32 -format fbin
(Deep1B-like); flags given with a preset win.`
	c.Group = clikit.GroupBench
	fs := c.Flags
	fs.IntVar(&o.spec.N, "n", 300_000, "number of base vectors")
	fs.IntVar(&o.spec.Queries, "q", 1000, "number of query vectors")
	fs.IntVar(&o.spec.Dim, "dim", 128, "dimension")
	fs.IntVar(&o.spec.K, "k", 100, "ground-truth neighbours per query")
	fs.Uint64Var(&o.spec.Seed, "seed", 1, "random seed")
	fs.StringVar(&o.out, "out", "", "output directory (created if missing)")
	fs.StringVar(&o.format, "format", "", "file format: fvecs, fbin, npy (f32); u8bin, bvecs, npy (u8); default fvecs for f32, u8bin for u8")
	fs.StringVar(&o.elem, "elem", "f32", "element type: f32 or u8 (SIFT-like bytes)")
	fs.BoolVar(&o.truth, "truth", true, "compute the exact ground truth on the CPU; -truth=false leaves it to shoal gt (-gpu for large sets)")
	fs.StringVar(&o.preset, "preset", "", "sift (-dim 128 -elem u8 -format u8bin) or deep (-dim 96 -elem f32 -format fbin)")
	fs.IntVar(&o.spec.Clusters, "clusters", 1000, "number of Gaussian clusters")
	fs.IntVar(&o.spec.Rank, "rank", 32, "dimension of the subspace the clusters live in")
	fs.Float64Var(&o.spec.Noise, "noise", 0.15, "stddev of the isotropic noise (0: none)")
	fs.Float64Var(&o.spec.Spread, "spread", 2, "median within-cluster stddev scale (centres have unit scale)")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if o.spec.Noise == 0 {
			o.spec.Noise = -1 // -noise 0 means none; synth.Spec's 0 means the default
		}
		if p, ok := genPresets[o.preset]; ok {
			if !fs.Changed("dim") {
				o.spec.Dim = p.dim
			}
			if !fs.Changed("elem") {
				o.elem = p.elem
			}
			if !fs.Changed("format") {
				o.format = p.format
			}
		}
		o.spec.Elem = genElems[o.elem] // 0 if unknown, which Validate reports
		if o.format == "" {
			o.format = "fvecs"
			if o.spec.Elem == vecfile.Uint8 {
				o.format = "u8bin"
			}
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
	format string // "": by elem
	elem   string
	preset string
	truth  bool
}

// Validate reports flags that cannot work.
func (o *genOptions) Validate() error {
	if o.out == "" {
		return errors.New("-out is required")
	}
	if _, ok := genPresets[o.preset]; !ok && o.preset != "" {
		return fmt.Errorf("-preset %q, want sift or deep", o.preset)
	}
	e, ok := genElems[o.elem]
	if !ok {
		return fmt.Errorf("-elem %q, want f32 or u8", o.elem)
	}
	f, ok := genFormats[o.format]
	if !ok {
		return fmt.Errorf("-format %q, want fvecs, fbin, npy, u8bin or bvecs", o.format)
	}
	if f != vecfile.NPY && f.Elem() != e {
		return fmt.Errorf("-format %s holds %v, not %v (-elem %s)", o.format, f.Elem(), e, o.elem)
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
	files, err := synth.GenerateWith(ctx, o.spec, o.out, synth.Options{Format: genFormats[o.format], Progress: env.Stderr, NoTruth: !o.truth})
	if err != nil {
		return err
	}
	spec := o.spec
	spec.EnsureDefaults()
	fmt.Fprintf(env.Stdout, "wrote %s in %.1fs (seed %d, %d clusters of rank %d, noise %g, spread %g):\n",
		o.out, time.Since(start).Seconds(), spec.Seed, spec.Clusters, spec.Rank, spec.Noise, spec.Spread)
	fmt.Fprintf(env.Stdout, "  %-24s %d × %d %v\n", filepath.Base(files.Base), spec.N, spec.Dim, spec.Elem)
	fmt.Fprintf(env.Stdout, "  %-24s %d × %d %v\n", filepath.Base(files.Query), spec.Queries, spec.Dim, spec.Elem)
	if files.GT == "" {
		fmt.Fprintf(env.Stdout, "  no ground truth (-truth=false): shoal gt -base %s -queries %s -out %s\n", files.Base, files.Query, synth.TruthFile(o.out, genFormats[o.format]))
		return nil
	}
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
