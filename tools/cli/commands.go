// Package cli implements the commands a user of shoal runs to build,
// query, update, check, repair and serve indexes: build, create, search,
// upsert, delete, check, inspect, repair, tenant, serve, client, import
// and demo, one file per command, each with an options struct, its
// flags, Validate and Run. The benchmark and workload commands are in package benchcli;
// tools/shoal hands both lists to clikit.Main.
package cli

import (
	"slices"

	"github.com/shoaldb/shoal/tools/internal/clikit"
)

var commands []*clikit.Command

// register adds a command; each command file calls it from init.
func register(c *clikit.Command) { commands = append(commands, c) }

// Commands returns the user's commands.
func Commands() []*clikit.Command { return slices.Clone(commands) }
