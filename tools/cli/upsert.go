package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newUpsert)
}

// upsertOptions are the flags of `shoal upsert`.
type upsertOptions struct {
	index   string
	data    string
	ids     string
	firstID int64 // -1: the index's Manifest().Count
	batch   int
	nosync  bool
	nodrain bool
	buffer  clikit.SizeFlag
	cache   clikit.SizeFlag
	quiet   bool
}

// Validate reports flags that cannot work.
func (o *upsertOptions) Validate() error {
	switch {
	case o.index == "" || o.data == "":
		return errors.New("-index and -data are required")
	case o.ids != "" && o.firstID >= 0:
		return errors.New("-ids and -first-id exclude each other")
	case o.firstID < -1:
		return fmt.Errorf("-first-id %d, want >= 0", o.firstID)
	case o.batch < 1:
		return fmt.Errorf("-batch %d, want >= 1", o.batch)
	}
	return nil
}

// runUpsert is `shoal upsert`.
func newUpsert() *clikit.Command {
	o := upsertOptions{firstID: -1, batch: 1000, cache: 64 << 20}
	c := clikit.NewCommand("upsert", "-index DIR -data FILE [-ids FILE | -first-id N] [flags]", "insert or replace the vectors of a file in an index")
	c.Group = clikit.GroupIndex
	fs := c.Flags
	fs.StringVar(&o.index, "index", "", "index directory (from build or create)")
	fs.StringVar(&o.data, "data", "", "vector file (.fvecs .bvecs .fbin .u8bin .i8bin .npy)")
	fs.StringVar(&o.ids, "ids", "", "ids of the vectors, one per row of -data (.ivecs .ibin or int32 .npy)")
	fs.Int64Var(&o.firstID, "first-id", -1, "id of the first row; row i gets first-id+i (default: the built vector count, the first id after a build's)")
	fs.IntVar(&o.batch, "batch", 1000, "vectors per Upsert call (one atomic, synced batch)")
	fs.BoolVar(&o.nosync, "nosync", false, "do not sync each batch; sync once at the end (a crash may lose the last batches)")
	fs.BoolVar(&o.nodrain, "nodrain", false, "close without draining maintenance: leave unfolded tails in the update log")
	fs.Var(&o.buffer, "buffer", "memory for unfolded posting tails; writers wait above twice it (default 32MiB)")
	fs.Var(&o.cache, "cache", "posting cache budget, 0 for none (default 64MiB)")
	fs.BoolVar(&o.quiet, "q", false, "no progress bar")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		defer clikit.LowerGC()()
		return o.Run(ctx, env)
	}
	return c
}

// Run upserts the file batch by batch, drains maintenance and prints a
// summary.
func (o *upsertOptions) Run(ctx context.Context, env *clikit.Env) error {
	src, err := index.OpenFile(o.data)
	if err != nil {
		return err
	}
	defer src.Close()
	n := src.Len()
	if n == 0 {
		return fmt.Errorf("%s holds no vectors", o.data)
	}
	var ids []uint64
	if o.ids != "" {
		if ids, err = readIDs(o.ids); err != nil {
			return err
		}
		if len(ids) != n {
			return fmt.Errorf("%s holds %d ids for the %d vectors of %s", o.ids, len(ids), n, o.data)
		}
	}
	ix, err := index.Open(o.index, &index.Options{NoSync: o.nosync, UpdateBuffer: int64(o.buffer), CacheBytes: clikit.CacheOption(o.cache)})
	if err != nil {
		return err
	}
	defer ix.Close()
	if src.Dim() != ix.Dim() {
		return fmt.Errorf("%w: %s holds %d-dim vectors, the index %d-dim", index.ErrDimensionMismatch, o.data, src.Dim(), ix.Dim())
	}
	first := uint64(ix.Manifest().Count)
	if o.firstID >= 0 {
		first = uint64(o.firstID)
	}
	before := ix.Len()
	fmt.Fprintf(env.Stderr, "upserting %s: %d vectors × %d %v into %s (%d vectors)\n", o.data, n, src.Dim(), src.Elem(), o.index, before)

	var bar *clikit.Bar
	if !o.quiet {
		bar = clikit.NewBar(env.Stderr, "upsert", int64(n))
	}
	rr := clikit.NewRowReader(src)
	batchIDs := make([]uint64, 0, o.batch)
	replaced := 0
	start := time.Now()
	for lo := 0; lo < n; lo += o.batch {
		if err := ctx.Err(); err != nil {
			return err // what was acknowledged stays; Close keeps the tails
		}
		hi := min(lo+o.batch, n)
		vs, err := rr.Read(lo, hi-lo)
		if err != nil {
			return err
		}
		batchIDs = batchIDs[:0]
		for i := lo; i < hi; i++ {
			id := first + uint64(i)
			if ids != nil {
				id = ids[i]
			}
			if ix.Contains(id) {
				replaced++
			}
			batchIDs = append(batchIDs, id)
		}
		if err := ix.Upsert(batchIDs, vs); err != nil {
			return fmt.Errorf("rows [%d,%d) of %s: %w", lo, hi, o.data, err)
		}
		if bar != nil {
			bar.Set(int64(hi))
		}
	}
	if o.nosync {
		if err := ix.Sync(); err != nil {
			return err
		}
	}
	if bar != nil {
		bar.Finish()
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(env.Stdout, "upserted %d vectors (%d new, %d replaced) in %.2fs: %.0f vectors/s; the index holds %d vectors\n",
		n, n-replaced, replaced, secs, float64(n)/secs, ix.Len())
	if o.nodrain {
		st := ix.Stats()
		fmt.Fprintf(env.Stdout, "not drained: %s of posting tails left to fold\n", clikit.FormatBytes(st.TailBytes))
		return ix.Close()
	}
	t := time.Now()
	if err := ix.Drain(); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	st := ix.Stats()
	fmt.Fprintf(env.Stdout, "drained maintenance in %.2fs: %d folds, %d splits, %d merges; %d heads\n",
		time.Since(t).Seconds(), st.Folds, st.Splits, st.Merges, st.Heads)
	return ix.Close()
}
