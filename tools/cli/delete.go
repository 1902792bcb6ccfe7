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
	register(newDelete)
}

// deleteMaxRange bounds -range: the ids are materialised in batches, but a
// typo such as 0:10000000000000 should not run for hours.
const deleteMaxRange = 1 << 32

// deleteOptions are the flags of `shoal delete`.
type deleteOptions struct {
	index  string
	ids    string
	rng    idRange
	batch  int
	nosync bool
}

// Validate reports flags that cannot work.
func (o *deleteOptions) Validate() error {
	switch {
	case o.index == "":
		return errors.New("-index is required")
	case (o.ids == "") == !o.rng.set:
		return errors.New("give exactly one of -ids and -range")
	case o.rng.set && o.rng.hi-o.rng.lo > deleteMaxRange:
		return fmt.Errorf("-range %v spans more than %d ids", &o.rng, uint64(deleteMaxRange))
	case o.batch < 1:
		return fmt.Errorf("-batch %d, want >= 1", o.batch)
	}
	return nil
}

// runDelete is `shoal delete`.
func newDelete() *clikit.Command {
	o := deleteOptions{batch: 10000}
	c := clikit.NewCommand("delete", "-index DIR (-ids FILE | -range A:B) [flags]", "delete vectors from an index by id")
	c.Group = clikit.GroupIndex
	fs := c.Flags
	fs.StringVar(&o.index, "index", "", "index directory")
	fs.StringVar(&o.ids, "ids", "", "ids to delete (.ivecs .ibin or int32 .npy, all rows)")
	fs.Var(&o.rng, "range", "ids to delete: A:B is A, A+1, …, B-1")
	fs.IntVar(&o.batch, "batch", 10000, "ids per Delete call (one atomic, synced batch)")
	fs.BoolVar(&o.nosync, "nosync", false, "do not sync each batch; sync once at the end")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

// Run deletes the ids batch by batch and prints how many were removed.
func (o *deleteOptions) Run(ctx context.Context, env *clikit.Env) error {
	var ids []uint64
	repeats := 0
	if o.ids != "" {
		var err error
		if ids, err = readIDs(o.ids); err != nil {
			return err
		}
		ids, repeats = distinct(ids) // Delete refuses an id twice in a batch
	}
	requested := uint64(len(ids))
	if o.rng.set {
		requested = o.rng.hi - o.rng.lo
	}
	ix, err := index.Open(o.index, &index.Options{NoSync: o.nosync, CacheBytes: -1})
	if err != nil {
		return err
	}
	defer ix.Close()
	before := ix.Len()
	start := time.Now()
	removed := 0
	batch := make([]uint64, 0, o.batch)
	for done := uint64(0); done < requested; {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := min(uint64(o.batch), requested-done)
		batch = batch[:0]
		if ids != nil {
			batch = append(batch, ids[done:done+m]...)
		} else {
			for id := o.rng.lo + done; id < o.rng.lo+done+m; id++ {
				batch = append(batch, id)
			}
		}
		k, err := ix.Delete(batch)
		if err != nil {
			return fmt.Errorf("ids %d..%d: %w", batch[0], batch[len(batch)-1], err)
		}
		removed += k
		done += m
	}
	if o.nosync {
		if err := ix.Sync(); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stdout, "deleted %d of %d requested ids (%d held no vector) in %.2fs; the index holds %d vectors (was %d)\n",
		removed, requested, requested-uint64(removed), time.Since(start).Seconds(), ix.Len(), before)
	if repeats > 0 {
		fmt.Fprintf(env.Stdout, "%s listed %d ids more than once; each was requested once\n", o.ids, repeats)
	}
	return ix.Close()
}
