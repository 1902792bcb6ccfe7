// Package cli implements the shoal command line: one file per subcommand,
// each with an options struct, its flags, Validate and Run. The main
// package in tools/shoal hands Commands to clikit.Main.
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
