// Package cli implements the commands a user of shoal runs to build,
// query, update, check, repair and serve indexes: build, create, search,
// upsert, delete, check, inspect, repair, tenant, serve, client, import
// and demo, one file per command, each with an options struct, its
// flags, Validate and Run, made by a constructor (newBuild, …) that
// defines the flags up front, so that help and completion know them.
// shoal client's verbs, one sub-command per RPC or group of RPCs, are
// in client.go (the connection flags) and client_*.go by concept. The
// benchmark and workload commands are in package benchcli; tools/shoal
// hands both lists to clikit.Main.
package cli

import (
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

var constructors []func() *clikit.Command

// register adds a command's constructor; each command file calls it from
// init.
func register(newCommand func() *clikit.Command) { constructors = append(constructors, newCommand) }

// Commands returns new instances of the user's commands.
func Commands() []*clikit.Command {
	cmds := make([]*clikit.Command, len(constructors))
	for i, c := range constructors {
		cmds[i] = c()
	}
	return cmds
}
