// Package clikit is what the two halves of the shoal command line share:
// the command type and its dispatch through cobra (Main), flag types, the
// progress reports, process memory and I/O readings, float32 rows of an
// index.Source, recall against a ground-truth file, and whether an
// address is loopback. Package cli (the user's commands) and package
// benchcli (the benchmarks and workload generators) build on it;
// tools/shoal hands both command lists to Main.
package clikit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Command groups, in the order `shoal help` lists them.
const (
	GroupIndex  = "index"
	GroupServer = "server"
	GroupBench  = "bench"
	groupOther  = "other"
)

var groups = []*cobra.Group{
	{ID: GroupIndex, Title: "Index commands (a local index directory):"},
	{ID: GroupServer, Title: "Server commands:"},
	{ID: GroupBench, Title: "Benchmarks and data sets:"},
	{ID: groupOther, Title: "Other commands:"},
}

// Command is one command (or sub-command) of the shoal CLI. Commands are
// made afresh for each command line (their flags write into the options
// of that one run), so a constructor returns a new one each time.
type Command struct {
	Name  string
	Args  string // what follows the name in the usage line: "-data FILE -out DIR [flags]"
	Short string // one line for the command lists
	Long  string // optional: what the command does, printed by its help
	Group string // GroupIndex, GroupServer or GroupBench; sub-commands have none

	// Flags are the command's own flags; Persistent are flags that its
	// sub-commands share (shoal client's connection flags).
	Flags      *pflag.FlagSet
	Persistent *pflag.FlagSet

	// Run runs the command with the positional arguments left after the
	// flags. A command with sub-commands may leave it nil.
	Run func(ctx context.Context, env *Env, args []string) error

	Subs []*Command
}

// NewCommand returns a command named name with empty flag sets.
func NewCommand(name, args, short string) *Command {
	return &Command{
		Name: name, Args: args, Short: short,
		Flags:      pflag.NewFlagSet(name, pflag.ContinueOnError),
		Persistent: pflag.NewFlagSet(name, pflag.ContinueOnError),
	}
}

// Env is where a command writes.
type Env struct {
	Stdout, Stderr io.Writer

	noGPUSaid atomic.Bool // Logf has said that there is no GPU
}

// Logf writes a log line of the library (index.Options.Logf) to Stderr.
// The GPU backend's choice of the CPU where no GPU is usable ("gpu: no
// usable CUDA device: …; running on the CPU kernels (…)") is no error, and a command may
// open several indexes: it is said once, calmly. `-gpu=on` fails with
// the cause for whoever wants it.
func (e *Env) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.HasPrefix(msg, "gpu: ") && strings.Contains(msg, "running on the CPU kernels") {
		if e.noGPUSaid.Swap(true) {
			return
		}
		msg = "no GPU found: running on the CPU"
	}
	fmt.Fprintln(e.Stderr, msg)
}

// ErrUsage marks errors of a command line that does not parse (an
// unknown command or flag, a flag value of the wrong type, the wrong
// number of arguments): Main exits with status 2 and points at the
// command's help.
var ErrUsage = errors.New("usage")

// ErrInvalid marks options that parse but do not validate (a missing
// required flag, a value out of range): Main exits with status 1, as for
// any failure, and points at the command's help.
var ErrInvalid = errors.New("invalid options")

// invalidError is an error of options that do not validate.
type invalidError struct{ err error }

func (e invalidError) Error() string { return e.err.Error() }
func (e invalidError) Unwrap() []error {
	return []error{e.err, ErrInvalid}
}

// InvalidError marks err as options that do not validate (see
// ErrInvalid).
func InvalidError(err error) error {
	if err == nil {
		return nil
	}
	return invalidError{err}
}

// usageError is an error of the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() []error {
	return []error{e.err, ErrUsage}
}

// UsageError marks err as an error of the command line (see ErrUsage).
func UsageError(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// Usagef is UsageError of a formatted message.
func Usagef(format string, args ...any) error {
	return UsageError(fmt.Errorf(format, args...))
}

// Valid checks a command without positional arguments: none given (a
// usage error), and the options validate (an invalid-options error).
func Valid(args []string, o interface{ Validate() error }) error {
	if len(args) > 0 {
		return Usagef("unexpected arguments %q", args)
	}
	return InvalidError(o.Validate())
}

// OptionalArg checks a command that takes at most one positional
// argument, which it stores in *arg (replacing a flag's value), and
// whose options validate.
func OptionalArg(args []string, arg *string, o interface{ Validate() error }) error {
	switch len(args) {
	case 0:
	case 1:
		*arg = args[0]
	default:
		return Usagef("unexpected arguments %q after %s", args[1:], args[0])
	}
	return InvalidError(o.Validate())
}

// Main runs the command line args over cmds and returns the exit status:
// 0; 1 when the command failed, options that do not validate included;
// 2 for a command line that does not parse (ErrUsage). Help
// (`shoal help X`, `shoal X -h`) goes to stdout, errors to stderr.
// SIGINT cancels the command's context. Long flags may be written with
// one dash or two (-data or --data; see NormalizeArgs).
func Main(cmds []*Command, args []string, stdout, stderr io.Writer) int {
	env := &Env{Stdout: stdout, Stderr: stderr}
	root := newRoot(cmds, env)
	ran := false // whether a command's Run was reached: its errors are not usage errors
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.RunE != nil {
			run := c.RunE
			c.RunE = func(cc *cobra.Command, a []string) error {
				ran = true
				return run(cc, a)
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	root.SetArgs(NormalizeArgs(root, legacyArgs(args)))
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		// The first Ctrl-C cancels the command's context; commands that
		// cannot stop part-way (a build) would then ignore Ctrl-C: a
		// second one ends the process, as it would without Main.
		<-ctx.Done()
		stop()
	}()
	cc, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	if cc == nil {
		cc = root
	}
	if errors.Is(err, errNoCommand) {
		return 2
	}
	if errors.Is(err, ErrUsage) || !ran {
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", cc.CommandPath(), err, cc.CommandPath())
		return 2
	}
	if errors.Is(err, ErrInvalid) {
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", cc.CommandPath(), err, cc.CommandPath())
		return 1
	}
	fmt.Fprintf(stderr, "%s: %v\n", cc.CommandPath(), ExplainLock(err))
	return 1
}

// errNoCommand is returned for a command line without a command, after
// the list of commands has been printed to stderr.
var errNoCommand = errors.New("no command")

// flagStyleNote ends every help: the flag style the help shows, and the
// one scripts written for the earlier shoal use.
const flagStyleNote = "Long flags take one dash or two: -data FILE and --data FILE are the same."

func newRoot(cmds []*Command, env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "shoal",
		Short: "Shoal: a disk-resident SPANN/SPFresh vector index, its builder, benchmarks and server",
		Long: "shoal builds, searches, updates, checks and benchmarks Shoal indexes, and runs and talks to the\n" +
			"Shoal gRPC server. Run 'shoal help COMMAND' (or 'shoal COMMAND -h') for a command's flags.",
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cc *cobra.Command, args []string) error {
			if len(args) > 0 {
				return Usagef("unknown command %q", args[0])
			}
			cc.SetOut(env.Stderr)
			cc.Help()
			return errNoCommand
		},
	}
	root.AddGroup(groups...)
	root.SetHelpCommandGroupID(groupOther)
	root.SetCompletionCommandGroupID(groupOther)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return UsageError(err) })
	root.SetUsageTemplate(root.UsageTemplate() + "\n" + flagStyleNote + "\n")
	for _, c := range cmds {
		root.AddCommand(toCobra(c, env, true))
	}
	root.AddCommand(versionCommand(env))
	return root
}

// toCobra turns c, and its sub-commands, into a cobra command that writes
// to env; top says c is a command of shoal itself, not a sub-command.
func toCobra(c *Command, env *Env, top bool) *cobra.Command {
	use := c.Name
	if c.Args != "" {
		use += " " + c.Args
	}
	cc := &cobra.Command{
		Use:     use,
		Short:   c.Short,
		Long:    c.Long,
		GroupID: c.Group,
		Args:    cobra.ArbitraryArgs,
		// Flags after positional arguments are flags too
		// (shoal inspect DIR -json).
		DisableFlagsInUseLine: true,
	}
	if !top {
		cc.GroupID = "" // groups are of the top-level commands
	}
	if cc.Long == "" {
		cc.Long = c.Short
	}
	if c.Flags != nil {
		defaultOnce(c.Flags)
		cc.Flags().AddFlagSet(c.Flags)
	}
	if c.Persistent != nil {
		defaultOnce(c.Persistent)
		cc.PersistentFlags().AddFlagSet(c.Persistent)
	}
	if c.Run != nil {
		run := c.Run
		cc.RunE = func(cc *cobra.Command, args []string) error {
			return run(cc.Context(), env, args)
		}
	} else if len(c.Subs) > 0 {
		cc.RunE = func(cc *cobra.Command, args []string) error {
			if len(args) > 0 {
				return Usagef("unknown verb %q", args[0])
			}
			cc.SetOut(env.Stderr)
			cc.Help()
			return Usagef("which verb? (one of the commands above)")
		}
	}
	for _, s := range c.Subs {
		cc.AddCommand(toCobra(s, env, false))
	}
	return cc
}

// defaultOnce keeps the help from printing a flag's default twice: where
// a flag's usage says its default itself ("(default 64MiB)", "(default:
// as the file)"), pflag's "(default …)" is left out.
func defaultOnce(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if !strings.Contains(f.Usage, "(default") {
			return
		}
		switch t := f.Value.Type(); {
		case t == "bool":
			f.DefValue = "false"
		case t == "duration":
			f.DefValue = "0s"
		case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
			if !strings.HasSuffix(t, "Slice") && t != "ints" && t != "floats" {
				f.DefValue = "0"
				return
			}
			f.DefValue = ""
		case strings.HasSuffix(t, "Slice"):
			f.DefValue = "[]"
		default:
			f.DefValue = ""
		}
	})
}

// Exec parses args with c's flags and runs c, as Main does but returning
// the command's error: for tests that call one command directly.
func Exec(ctx context.Context, c *Command, env *Env, args []string) error {
	root := newRoot([]*Command{c}, env)
	root.SetArgs(NormalizeArgs(root, append([]string{c.Name}, args...)))
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	return root.ExecuteContext(ctx)
}

// Invalidf is InvalidError of a formatted message.
func Invalidf(format string, args ...any) error {
	return InvalidError(fmt.Errorf(format, args...))
}

// Parse parses the command line args over cmds as Main does, without
// running anything: an error if the command line would not parse (an
// unknown command or flag, a bad flag value). Tests use it to check the
// command lines of the documents and scripts.
func Parse(cmds []*Command, args []string) error {
	env := &Env{Stdout: io.Discard, Stderr: io.Discard}
	root := newRoot(cmds, env)
	root.InitDefaultHelpCmd() // Execute adds these; Find alone does not
	root.InitDefaultCompletionCmd()
	args = NormalizeArgs(root, legacyArgs(args))
	cc, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cc == root {
		return fmt.Errorf("no command in %q", args)
	}
	return cc.ParseFlags(rest)
}
