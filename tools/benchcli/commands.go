// Package benchcli implements the benchmark and workload commands of
// shoal: bench (a search-parameter sweep, or with -churn the SPFresh
// update benchmark), gen, tenantgen, tenantbench, labelbench,
// loadtest, ingestbench and importbench, one file per command, each
// with an options struct, its flags, Validate and Run. The user's commands are in package cli;
// tools/shoal hands both lists to clikit.Main.
package benchcli

import (
	"slices"

	"github.com/shoaldb/shoal/tools/internal/clikit"
)

var commands []*clikit.Command

// register adds a command; each command file calls it from init.
func register(c *clikit.Command) { commands = append(commands, c) }

// Commands returns the benchmark and workload commands.
func Commands() []*clikit.Command { return slices.Clone(commands) }
