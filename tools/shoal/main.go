// Command shoal builds, searches, benchmarks and inspects Shoal indexes.
// Run `shoal help` for the list of commands.
package main

import (
	"io"
	"os"

	"github.com/shoaldb/shoal/tools/benchcli"
	"github.com/shoaldb/shoal/tools/cli"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command line: the user's commands and the benchmarks.
func run(args []string, stdout, stderr io.Writer) int {
	return clikit.Main(append(cli.Commands(), benchcli.Commands()...), args, stdout, stderr)
}
