package cli

import (
	"testing"

	"github.com/shoaldb/shoal/tools/internal/clitest"
)

// shoal runs the CLI in-process and returns its exit status and output.
func shoal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(Commands(), args...)
}
