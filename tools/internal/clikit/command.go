// Package clikit is what the two halves of the shoal command line share:
// the command type and its dispatch (Main), flag parsing with usage
// errors, flag types, the progress bar, process memory and I/O readings,
// float32 rows of an index.Source, recall against a ground-truth file,
// and whether an address is loopback. Package cli (the user's commands)
// and package benchcli (the benchmarks and workload generators) build on
// it; tools/shoal hands both command lists to Main.
package clikit

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
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

// ErrUsage marks errors for which the usage has already been printed.
var ErrUsage = errors.New("usage")

// Main runs the command of cmds named by args[0] and returns the exit
// status. SIGINT cancels the command's context. `help` (or no command)
// lists cmds by name.
func Main(cmds []*Command, args []string, stdout, stderr io.Writer) int {
	cmds = slices.SortedFunc(slices.Values(cmds), func(a, b *Command) int { return cmp.Compare(a.Name, b.Name) })
	env := &Env{Stdout: stdout, Stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
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
		case errors.Is(err, ErrUsage):
			return 2
		}
		fmt.Fprintf(stderr, "shoal %s: %v\n", c.Name, err)
		return 1
	}
	fmt.Fprintf(stderr, "shoal: unknown command %q\n\n", args[0])
	usage(stderr, cmds)
	return 2
}

func usage(w io.Writer, cmds []*Command) {
	fmt.Fprintln(w, "usage: shoal <command> [flags]\n\ncommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-9s %s\n", c.Name, c.Short)
	}
	fmt.Fprintln(w, "\nRun 'shoal <command> -h' for a command's flags.")
}

// NewFlags returns a FlagSet for a command that writes errors to env.
func NewFlags(env *Env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: shoal %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// NewFlagsAbout is NewFlags for a command whose usage also explains it:
// the usage line, a blank line, about, a blank line, then the flags.
func NewFlagsAbout(env *Env, name, args, about string) *flag.FlagSet {
	fs := NewFlags(env, name, args)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: shoal %s %s\n\n%s\n\nflags:\n", name, args, about)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args, turning flag errors into ErrUsage.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ErrUsage
	}
	return nil
}

// ParseValid parses args and validates the options, printing the usage
// when they do not validate.
func ParseValid(fs *flag.FlagSet, args []string, o interface{ Validate() error }) error {
	if err := Parse(fs, args); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		fs.Usage()
		return err
	}
	return nil
}

// ParseArgValid parses args that may hold one positional argument with
// flags before and after it (shoal inspect DIR -json): the argument, if
// given, is stored in *arg. More than one positional argument is an
// error. Then it validates the options, printing the usage when they do
// not validate.
func ParseArgValid(fs *flag.FlagSet, args []string, arg *string, o interface{ Validate() error }) error {
	if err := Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		*arg = fs.Arg(0)
		if err := Parse(fs, fs.Args()[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			fs.Usage()
			return fmt.Errorf("unexpected arguments %q after %s", fs.Args(), *arg)
		}
	}
	if err := o.Validate(); err != nil {
		fs.Usage()
		return err
	}
	return nil
}
