package benchcli

import (
	"bytes"
	"testing"

	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// shoal runs the benchmark commands in-process and returns the exit
// status and output.
func shoal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := clikit.Main(Commands(), args, &out, &errb)
	return code, out.String(), errb.String()
}
