package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newCreate)
}

// createOptions are the flags of `shoal create`.
type createOptions struct {
	index    string
	dim      int
	metric   string
	elem     string
	cap      int
	replicas int
	rng      float64
	k        int
	seed     uint64
	quant    string
}

// Validate reports flags that cannot work.
func (o *createOptions) Validate() error {
	switch {
	case o.index == "":
		return errors.New("-index is required")
	case o.dim < 1:
		return fmt.Errorf("-dim %d, want >= 1", o.dim)
	case o.cap < 0:
		return fmt.Errorf("-cap %d, want >= 0", o.cap)
	}
	if _, _, err := index.ParseQuant(o.quant); err != nil {
		return fmt.Errorf("-quant: %w", err)
	}
	_, _, err := clikit.ParseStorage(o.metric, o.elem)
	return err
}

// runCreate is `shoal create`.
func newCreate() *clikit.Command {
	o := createOptions{}
	c := clikit.NewCommand("create", "-index DIR -dim N [flags]", "create an empty index that grows by upserts")
	c.Group = clikit.GroupIndex
	fs := c.Flags
	fs.StringVar(&o.index, "index", "", "index directory to create (must not exist or be empty)")
	fs.IntVar(&o.dim, "dim", 0, "vector dimension")
	fs.StringVar(&o.metric, "metric", "l2", "distance: l2, ip or cosine")
	clikit.ElemFlag(fs, &o.elem, "f32", "store vectors as (upserts into u8/i8 must be exact integers)")
	fs.IntVar(&o.cap, "cap", 0, "max vectors per posting before a split (default: 48 KiB worth)")
	fs.IntVar(&o.replicas, "replicas", 0, "max postings per vector (default 8)")
	fs.Float64Var(&o.rng, "rng", 0, "RNG rule factor; smaller keeps more replicas (default 1)")
	fs.IntVar(&o.k, "k", 0, "tree branching factor (default 32)")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed of splits (default 1)")
	clikit.QuantFlag(fs, &o.quant, "none")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

// Run creates the index and prints its shape.
func (o *createOptions) Run(ctx context.Context, env *clikit.Env) error {
	metric, elem, _ := clikit.ParseStorage(o.metric, o.elem)
	quant, bits, _ := index.ParseQuant(o.quant)
	m, err := index.Create(o.index, o.dim, &index.Options{
		Metric: metric, Elem: elem, PostingCap: o.cap, Replicas: o.replicas, RNGFactor: o.rng, K: o.k, Seed: o.seed,
		Quant: quant, QuantBits: bits,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "created %s: empty index of %d-dim %v vectors, metric %v, posting cap %d, %d replicas\n",
		o.index, m.Dim, m.Elem, m.Metric, m.PostingCap, m.Replicas)
	if m.Quant != nil {
		fmt.Fprintf(env.Stdout, "postings hold %s codes of %d bits per dimension; rows are stored once and read to rerank\n", m.Quant.Kind, m.Quant.Bits)
	}
	return nil
}
