package clikit

import (
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// NormalizeArgs rewrites single-dash long flags as double-dash ones
// (-data → --data, -gpu=off → --gpu=off), so that the command lines of
// the earlier shoal, which parsed with package flag, and of the scripts
// and documents written for it keep working under cobra, whose flags
// (pflag) read a single dash as a cluster of one-letter flags. No shoal
// flag has a one-letter short form except -h, which stays as it is.
//
// It walks the command tree as cobra will, so that it knows which flags
// take a value: a flag's value is never rewritten (-eps -1, -filter -x),
// nor is anything after "--" or a negative number.
func NormalizeArgs(root *cobra.Command, args []string) []string {
	out := make([]string, 0, len(args))
	cur := root
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 1 && a[0] == '-' && a[1] != '-' && a != "-h" && !isNumber(a) {
			a = "-" + a
		}
		if !strings.HasPrefix(a, "--") || a == "--" {
			if sub := subcommand(cur, a); sub != nil {
				cur = sub
			}
			out = append(out, a)
			continue
		}
		out = append(out, a)
		name, _, hasValue := strings.Cut(a[2:], "=")
		if f := lookupFlag(cur, name); f != nil && !hasValue && f.NoOptDefVal == "" && i+1 < len(args) {
			i++
			out = append(out, args[i]) // the flag's value, as it is
		}
	}
	return out
}

// legacyArgs rewrites the command lines of the earlier shoal whose shape
// changed: `shoal bench -churn …` is `shoal bench churn …` now.
func legacyArgs(args []string) []string {
	if len(args) == 0 || args[0] != "bench" {
		return args
	}
	for i, a := range args[1:] {
		switch a {
		case "-churn", "--churn", "-churn=true", "--churn=true":
			rest := slices.Delete(slices.Clone(args[1:]), i, i+1)
			return append([]string{"bench", "churn"}, rest...)
		}
	}
	return args
}

// isNumber reports whether a is a number (a negative value, not a flag).
func isNumber(a string) bool {
	_, err := strconv.ParseFloat(a, 64)
	return err == nil
}

// subcommand returns cur's sub-command named (or aliased) name, or nil.
func subcommand(cur *cobra.Command, name string) *cobra.Command {
	for _, c := range cur.Commands() {
		if c.Name() == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

// lookupFlag finds the flag name of cur: its own, or a persistent flag of
// cur or of a command above it.
func lookupFlag(cur *cobra.Command, name string) *pflag.Flag {
	if f := cur.Flags().Lookup(name); f != nil {
		return f
	}
	for c := cur; c != nil; c = c.Parent() {
		if f := c.PersistentFlags().Lookup(name); f != nil {
			return f
		}
	}
	return nil
}
