package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newBuild)
}

// buildOptions are the flags of `shoal build`.
type buildOptions struct {
	data     string
	out      string
	metric   string
	elem     string
	ratio    float64
	replicas int
	rng      float64
	closure  float64
	k        int
	cap      int
	sample   int
	mem      clikit.SizeFlag
	seed     uint64
	workers  int
	gpu      string
	quant    string
	quiet    bool
	profile  string
	resume   bool
}

func (o *buildOptions) Validate() error {
	if o.data == "" || o.out == "" {
		return errors.New("-data and -out are required")
	}
	if _, err := index.ParseGPUMode(o.gpu); err != nil {
		return fmt.Errorf("-gpu: %w", err)
	}
	if _, _, err := index.ParseQuant(o.quant); err != nil {
		return fmt.Errorf("-quant: %w", err)
	}
	_, _, err := clikit.ParseStorage(o.metric, o.elem)
	return err
}

func newBuild() *clikit.Command {
	var o buildOptions
	c := clikit.NewCommand("build", "-data FILE -out DIR [flags]", "build an index from a vector file")
	c.Group = clikit.GroupIndex
	fs := c.Flags
	fs.StringVar(&o.data, "data", "", "vector file (.fvecs .bvecs .fbin .u8bin .i8bin .npy)")
	fs.StringVar(&o.out, "out", "", "index directory to create (must not exist or be empty)")
	fs.StringVar(&o.metric, "metric", "l2", "distance: l2, ip or cosine")
	clikit.ElemFlag(fs, &o.elem, "", "store vectors as")
	fs.Float64Var(&o.ratio, "ratio", 0, "heads per vector (default 0.12)")
	fs.IntVar(&o.replicas, "replicas", 0, "max postings per vector (default 8)")
	fs.Float64Var(&o.rng, "rng", 0, "RNG rule factor; smaller keeps more replicas (default 1)")
	fs.Float64Var(&o.closure, "closure", 0, "closure assignment ε₁ (default 10)")
	fs.IntVar(&o.k, "k", 0, "tree branching factor (default 32)")
	fs.IntVar(&o.cap, "cap", 0, "max vectors per posting (default: 48 KiB worth)")
	fs.IntVar(&o.sample, "sample", 0, "max vectors held in memory for clustering; more heads than sample/8 cluster every vector, a partition at a time (default 1000000)")
	fs.Var(&o.mem, "mem", "memory for the assignment table; a larger one spills to the index directory (default 2GiB)")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed (default 1)")
	fs.IntVar(&o.workers, "workers", 0, "goroutines (default: all cores)")
	fs.StringVar(&o.gpu, "gpu", "auto", "k-means and nearest heads on a CUDA GPU: auto (when one is usable), on (or fail), off")
	clikit.QuantFlag(fs, &o.quant, "rabitq")
	fs.BoolVar(&o.quiet, "q", false, "no progress bars")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the build to this file")
	fs.BoolVar(&o.resume, "resume", false, "continue a killed build of the same data and flags in -out from its checkpoint (the tree, or the partitions already clustered)")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

func (o *buildOptions) Run(ctx context.Context, env *clikit.Env) error {
	defer clikit.LowerGC()()
	stop, err := clikit.StartCPUProfile(o.profile)
	if err != nil {
		return err
	}
	defer stop()
	src, err := index.OpenFile(o.data)
	if err != nil {
		return err
	}
	defer src.Close()
	metric, elem, _ := clikit.ParseStorage(o.metric, o.elem)
	mode, _ := index.ParseGPUMode(o.gpu)
	quant, bits, _ := index.ParseQuant(o.quant)
	opts := &index.Options{
		Metric: metric, Elem: elem, Ratio: o.ratio, Replicas: o.replicas, PostingCap: o.cap,
		RNGFactor: o.rng, ClosureEpsilon: o.closure, K: o.k,
		SampleSize: o.sample, AssignMemory: int64(o.mem), Seed: o.seed, Workers: o.workers, GPU: mode,
		Quant: quant, QuantBits: bits, Resume: o.resume,
	}
	var bar *clikit.Bar
	stage := ""
	opts.Logf = func(format string, args ...any) {
		if bar != nil {
			// Log lines come between stages: close the bar first.
			bar.Finish()
			bar, stage = nil, ""
		}
		env.Logf(format, args...)
	}
	if !o.quiet {
		opts.Progress = func(p index.Progress) {
			if p.Stage != stage {
				if bar != nil {
					bar.Finish()
				}
				stage = p.Stage
				bar = clikit.NewBar(env.Stderr, fmt.Sprintf("%-8s", p.Stage), p.Total)
			}
			if p.Parts > 0 {
				bar.SetNote(fmt.Sprintf("partition %d/%d", p.Part, p.Parts))
			}
			bar.Set(p.Done)
		}
	}
	raw := int64(src.Len()) * int64(src.Dim()) * int64(src.Elem().Size())
	fmt.Fprintf(env.Stderr, "building %s: %d vectors × %d %v (%s raw) → %s\n", o.data, src.Len(), src.Dim(), src.Elem(), clikit.FormatBytes(raw), o.out)
	start := time.Now()
	out := recordOut(o.out)
	m, err := index.Build(o.out, src, opts)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		if out.undo() {
			fmt.Fprintf(env.Stderr, "removed the unfinished index in %s\n", o.out)
		}
		return err
	}
	secs := time.Since(start).Seconds()
	peak := clikit.ProcStatus("VmHWM")
	size := clikit.DirSize(o.out)
	fmt.Fprintf(env.Stdout, "built %s in %.1fs: %d heads, %d entries (%.2f per vector, %d dropped by the cap of %d)\n",
		o.out, secs, m.Heads, m.Entries, float64(m.Entries)/float64(m.Count), m.Dropped, m.PostingCap)
	if m.Quant != nil {
		fmt.Fprintf(env.Stdout, "postings hold %s codes of %d bits per dimension; rows are stored once and read to rerank\n", m.Quant.Kind, m.Quant.Bits)
	}
	fmt.Fprintf(env.Stdout, "peak RSS %s (%.2f× the %s raw data); index on disk %s\n",
		clikit.FormatBytes(peak), float64(peak)/float64(raw), clikit.FormatBytes(raw), clikit.FormatBytes(size))
	_ = os.Stdout.Sync()
	return nil
}
