// Package benchcli implements the benchmark and workload commands of
// shoal: bench (a search-parameter sweep) and its sub-command bench churn
// (the SPFresh update benchmark, also bench -churn), gen, gt, tenantgen, tenantbench, labelbench,
// loadtest, ingestbench and importbench, one file per command, each
// with an options struct, its flags, Validate and Run. The user's commands are in package cli;
// tools/shoal hands both lists to clikit.Main.
package benchcli

import (
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

var constructors []func() *clikit.Command

// register adds a command's constructor; each command file calls it from
// init.
func register(newCommand func() *clikit.Command) { constructors = append(constructors, newCommand) }

// Commands returns new instances of the benchmark and workload commands.
func Commands() []*clikit.Command {
	cmds := make([]*clikit.Command, len(constructors))
	for i, c := range constructors {
		cmds[i] = c()
	}
	return cmds
}
