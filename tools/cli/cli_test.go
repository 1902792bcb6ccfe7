package cli

import (
	"context"
	"testing"

	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/clitest"
)

// shoal runs the CLI in-process and returns its exit status and output.
func shoal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(Commands(), args...)
}

// runInspect, runServe: one command run directly, its error returned.
func runInspect(ctx context.Context, env *clikit.Env, args []string) error {
	return clikit.Exec(ctx, newInspect(), env, args)
}

func runServe(ctx context.Context, env *clikit.Env, args []string) error {
	return clikit.Exec(ctx, newServe(), env, args)
}
