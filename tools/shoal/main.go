// Command shoal builds, searches, benchmarks and inspects Shoal indexes.
// Run `shoal help` for the list of commands.
package main

import (
	"os"

	"github.com/shoaldb/shoal/tools/benchcli"
	"github.com/shoaldb/shoal/tools/cli"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func main() {
	os.Exit(clikit.Main(commands(), os.Args[1:], os.Stdout, os.Stderr))
}

// commands are all of shoal's: the user's and the benchmarks.
func commands() []*clikit.Command {
	return append(cli.Commands(), benchcli.Commands()...)
}
