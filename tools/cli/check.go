package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/server"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(&clikit.Command{Name: "check", Short: "verify an index's invariants; exit status 1 if broken", Run: runCheck})
}

// checkOptions are the flags of `shoal check`.
type checkOptions struct {
	index   string
	dataDir string // a stopped server's data directory: check every collection
}

// Validate reports flags that cannot work.
func (o *checkOptions) Validate() error {
	if (o.index == "") == (o.dataDir == "") {
		return errors.New("give one of -index (an index directory) or -data-dir (a stopped server's data directory)")
	}
	return nil
}

// runCheck is `shoal check`.
func runCheck(ctx context.Context, env *clikit.Env, args []string) error {
	var o checkOptions
	fs := clikit.NewFlags(env, "check", "-index DIR | -data-dir DIR")
	fs.StringVar(&o.index, "index", "", "index directory")
	fs.StringVar(&o.dataDir, "data-dir", "", "data directory of a stopped `shoal serve`: check every collection")
	if err := clikit.ParseValid(fs, args, &o); err != nil {
		return err
	}
	return o.Run(ctx, env)
}

// Run opens the index, checks it and prints OK with its counts; a broken
// invariant is returned as the error (exit status 1).
func (o *checkOptions) Run(ctx context.Context, env *clikit.Env) error {
	if o.dataDir != "" {
		return o.runDataDir(env)
	}
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

// runDataDir checks every collection of a stopped server's data
// directory, printing one line per collection; any failure is the error.
func (o *checkOptions) runDataDir(env *clikit.Env) error {
	start := time.Now()
	checks, err := server.CheckDataDir(o.dataDir)
	if err != nil {
		return err
	}
	failed := 0
	for _, c := range checks {
		if c.Err != nil {
			failed++
			fmt.Fprintf(env.Stdout, "FAIL collection %q: %v\n", c.Name, c.Err)
			continue
		}
		fmt.Fprintf(env.Stdout, "OK collection %q: %d vectors, %d heads\n", c.Name, c.Vectors, c.Heads)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d collections failed their check", failed, len(checks))
	}
	fmt.Fprintf(env.Stdout, "OK %s: %d collections (checked in %.2fs)\n", o.dataDir, len(checks), time.Since(start).Seconds())
	return nil
}
