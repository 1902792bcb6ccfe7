package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/server"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newCheck)
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
func newCheck() *clikit.Command {
	var o checkOptions
	c := clikit.NewCommand("check", "-index DIR | -data-dir DIR", "verify an index's invariants; exit status 1 if broken")
	c.Group = clikit.GroupIndex
	fs := c.Flags
	fs.StringVar(&o.index, "index", "", "index directory")
	fs.StringVar(&o.dataDir, "data-dir", "", "data directory of a stopped `shoal serve`: check every collection")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

// Run opens the index, checks it and prints OK with its counts, and what
// the check read of each kind of file: the bytes checksums verified and
// the bytes no checksum covers. A broken invariant or damaged file is
// returned as the error (exit status 1), after what was read.
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
	var cs index.CheckStats
	if err := ix.CheckWithStats(&cs); err != nil {
		printChecked(env.Stdout, &cs)
		return err
	}
	st := ix.Stats()
	fmt.Fprintf(env.Stdout, "OK %s: %d vectors, %d heads, %s of unfolded posting tails (checked in %.2fs)\n",
		o.index, ix.Len(), st.Heads, clikit.FormatBytes(st.TailBytes), time.Since(start).Seconds())
	printChecked(env.Stdout, &cs)
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

// printChecked prints what Check read: a total line, then one line per
// kind of file.
func printChecked(w io.Writer, cs *index.CheckStats) {
	fmt.Fprintf(w, "verified %s (%d bytes) by checksum; %s (%d bytes) have none\n",
		clikit.FormatBytes(cs.Verified), cs.Verified, clikit.FormatBytes(cs.Unverified), cs.Unverified)
	for _, f := range cs.Files {
		files := "files"
		if f.Files == 1 {
			files = "file "
		}
		note := ""
		if f.Unverified > 0 && f.Note != "" {
			note = ": " + f.Note
		}
		fmt.Fprintf(w, "  %-15s %4d %s %10s verified %10s unverified%s\n",
			f.Kind, f.Files, files, clikit.FormatBytes(f.Verified), clikit.FormatBytes(f.Unverified), note)
	}
}
