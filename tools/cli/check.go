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
	register(&clikit.Command{Name: "check", Short: "verify an index's invariants; exit status 1 if broken", Run: runCheck})
}

// checkOptions are the flags of `shoal check`.
type checkOptions struct {
	index string
}

// Validate reports flags that cannot work.
func (o *checkOptions) Validate() error {
	if o.index == "" {
		return errors.New("-index is required")
	}
	return nil
}

// runCheck is `shoal check`.
func runCheck(ctx context.Context, env *clikit.Env, args []string) error {
	var o checkOptions
	fs := clikit.NewFlags(env, "check", "-index DIR")
	fs.StringVar(&o.index, "index", "", "index directory")
	if err := clikit.ParseValid(fs, args, &o); err != nil {
		return err
	}
	return o.Run(ctx, env)
}

// Run opens the index, checks it and prints OK with its counts; a broken
// invariant is returned as the error (exit status 1).
func (o *checkOptions) Run(ctx context.Context, env *clikit.Env) error {
	ix, err := index.Open(o.index, &index.Options{CacheBytes: -1})
	if err != nil {
		return err
	}
	defer ix.Close()
	// Check must look at the index as it was found: keep background
	// maintenance from folding tails meanwhile. (Open has already started
	// it; a unit it began before the pause finishes first.)
	ix.PauseMaintenance()
	start := time.Now()
	if err := ix.Check(); err != nil {
		return err
	}
	st := ix.Stats()
	fmt.Fprintf(env.Stdout, "OK %s: %d vectors, %d heads, %s of unfolded posting tails (checked in %.2fs)\n",
		o.index, ix.Len(), st.Heads, clikit.FormatBytes(st.TailBytes), time.Since(start).Seconds())
	return nil
}
