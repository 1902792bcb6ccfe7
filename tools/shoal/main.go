// Command shoal builds, searches, benchmarks and inspects Shoal indexes.
// Run `shoal help` for the list of commands.
package main

import (
	"os"

	"github.com/shoaldb/shoal/tools/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
