// Package cli implements the shoal command line: one file per subcommand,
// each with an options struct, its flags, Validate and Run. The main
// package in tools/shoal only calls Main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
)

// Command is one subcommand of the shoal CLI.
type Command struct {
	Name  string
	Short string // one-line help
	// Run parses args (the flags after the subcommand name) and runs.
	Run func(ctx context.Context, env *Env, args []string) error
}

// Env is where a command writes.
type Env struct {
	Stdout, Stderr io.Writer
}

var commands []*Command

// register adds a command; each command file calls it from init.
func register(c *Command) {
	commands = append(commands, c)
	slices.SortFunc(commands, func(a, b *Command) int { return strings.Compare(a.Name, b.Name) })
}

// errUsage marks errors for which the usage has already been printed.
var errUsage = errors.New("usage")

// Main runs the command named by args[0] and returns the exit status.
// SIGINT cancels the command's context.
func Main(args []string, stdout, stderr io.Writer) int {
	env := &Env{Stdout: stdout, Stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.Name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		err := c.Run(ctx, env, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(stderr, "shoal %s: %v\n", c.Name, err)
		return 1
	}
	fmt.Fprintf(stderr, "shoal: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: shoal <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.Name, c.Short)
	}
	fmt.Fprintln(w, "\nRun 'shoal <command> -h' for a command's flags.")
}

// newFlags returns a FlagSet for a command that writes errors to env.
func newFlags(env *Env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: shoal %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// parseValid parses args and validates the options, printing the usage when
// they do not validate.
func parseValid(fs *flag.FlagSet, args []string, o interface{ Validate() error }) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		fs.Usage()
		return err
	}
	return nil
}
