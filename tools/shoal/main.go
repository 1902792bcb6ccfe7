// Command shoal builds, searches, benchmarks and inspects Shoal indexes.
// Run `shoal help` for the list of commands.
package main

import (
	"os"

	"github.com/shoaldb/shoal/tools/cli"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func main() {
	os.Exit(clikit.Main(cli.Commands(), os.Args[1:], os.Stdout, os.Stderr))
}
