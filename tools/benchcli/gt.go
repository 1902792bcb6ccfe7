package benchcli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

func init() {
	register(newGT)
}

// gtGPUChunkBytes is the base chunk, as float32, that one GPU top-k call
// scores: large, so that each call's transfers and launches pay off.
const gtGPUChunkBytes = 256 << 20

// newGT is `shoal gt`.
func newGT() *clikit.Command {
	o := gtOptions{metric: "l2", gpu: "off"}
	c := clikit.NewCommand("gt", "-base FILE -queries FILE -out FILE [flags]", "compute the exact nearest neighbours of queries in a base file (ground truth)")
	c.Long = `Computes the exact K nearest base vectors of every query by brute force and
writes their ids, nearest first (ties to the lower id), and distances:
OUT.ivecs with OUT.dist.fvecs, OUT.npy with OUT.dist.npy, or OUT.ibin in
big-ann-benchmarks' layout (ids, then distances, under one header).
Distances are squared L2, −dot (ip) or −dot of the normalised vectors
(cosine). The base (any format: fvecs, bvecs, fbin, u8bin, i8bin, npy) is
streamed a chunk at a time against all queries held in memory, on every
core, so memory does not grow with the base; on a set made by shoal gen it
reproduces gen's ground truth byte for byte.`
	c.Group = clikit.GroupBench
	fs := c.Flags
	fs.StringVar(&o.truth.Base, "base", "", "base vectors (required)")
	fs.StringVar(&o.truth.Queries, "queries", "", "query vectors (required)")
	fs.StringVar(&o.truth.Out, "out", "", "ids file: .ivecs, .ibin or .npy (required)")
	fs.IntVar(&o.truth.K, "k", 100, "neighbours per query")
	fs.StringVar(&o.metric, "metric", o.metric, "l2, ip or cosine")
	fs.IntVar(&o.truth.ChunkRows, "chunk", 0, "base rows scored at a time (default 4 MiB of float32; 256 MiB with a GPU)")
	fs.StringVar(&o.gpu, "gpu", o.gpu, "score the chunks with a CUDA GPU's flat top-k: off, auto (when one is usable, else the CPU backend) or on; its GEMM-form distances may order near-ties differently from the CPU's (on an H100 they matched exactly at 1M × 1,000 queries; 100M × 10,000 took 33 s)")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

// gtOptions are the flags of `shoal gt`.
type gtOptions struct {
	truth  synth.TruthOptions
	metric string
	gpu    string
}

// Validate reports flags that cannot work.
func (o *gtOptions) Validate() error {
	if o.truth.Base == "" || o.truth.Queries == "" || o.truth.Out == "" {
		return errors.New("-base, -queries and -out are required")
	}
	if o.truth.K < 1 {
		return fmt.Errorf("-k %d, want >= 1", o.truth.K)
	}
	m, err := index.ParseMetric(o.metric)
	if err != nil {
		return err
	}
	if _, err := gpu.ParseMode(o.gpu); err != nil {
		return fmt.Errorf("-gpu: %w", err)
	}
	t := o.truth
	t.Metric = m
	t.EnsureDefaults()
	return t.Validate()
}

// Run computes the truth and prints what it wrote.
func (o *gtOptions) Run(ctx context.Context, env *clikit.Env) error {
	start := time.Now()
	o.truth.Metric, _ = index.ParseMetric(o.metric) // checked by Validate
	o.truth.Progress = env.Stderr
	if mode, _ := gpu.ParseMode(o.gpu); mode != gpu.Off {
		b, err := gpu.Open(&gpu.Options{Mode: mode, Logf: env.Logf})
		if err != nil {
			return err
		}
		defer b.Close()
		o.truth.Flat = b
		if o.truth.ChunkRows == 0 {
			if d, err := gtDim(o.truth.Queries); err == nil {
				o.truth.ChunkRows = max(1, gtGPUChunkBytes/(4*d))
			}
		}
	}
	files, err := synth.WriteTruth(ctx, o.truth)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s in %.1fs (k %d, %v)\n", files.GT, time.Since(start).Seconds(), o.truth.K, o.truth.Metric)
	if files.GTDist != "" {
		fmt.Fprintf(env.Stdout, "  distances in %s\n", files.GTDist)
	}
	return nil
}

// gtDim is the dimension of a vector file.
func gtDim(path string) (int, error) {
	src, err := index.OpenFile(path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	return src.Dim(), nil
}
