package benchcli

import (
	"testing"

	"github.com/shoaldb/shoal/tools/internal/clitest"
)

// shoal runs the benchmark commands in-process and returns the exit
// status and output.
func shoal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(Commands(), args...)
}
