package benchcli

import (
	"context"
	"testing"

	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/clitest"
)

// shoal runs the benchmark commands in-process and returns the exit
// status and output.
func shoal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(Commands(), args...)
}

// runGen, runTenantGen: one command run directly, its error returned.
func runGen(ctx context.Context, env *clikit.Env, args []string) error {
	return clikit.Exec(ctx, newGen(), env, args)
}

func runTenantGen(ctx context.Context, env *clikit.Env, args []string) error {
	return clikit.Exec(ctx, newTenantGen(), env, args)
}

func runGT(ctx context.Context, env *clikit.Env, args []string) error {
	return clikit.Exec(ctx, newGT(), env, args)
}
