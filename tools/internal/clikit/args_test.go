package clikit

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
)

// testCommands is a small tree: a command with value, list and bool
// flags, and one with a persistent flag and a sub-command.
func testCommands(got *[]string, eps *FloatList, q *bool, filter *string) []*Command {
	a := NewCommand("a", "", "a")
	a.Flags.Var(eps, "eps", "")
	a.Flags.BoolVar(q, "q", false, "")
	a.Flags.StringVar(filter, "filter", "", "")
	a.Run = func(_ context.Context, _ *Env, args []string) error { *got = args; return nil }
	p := NewCommand("p", "", "p")
	p.Persistent.String("addr", "", "")
	s := NewCommand("s", "", "s")
	s.Flags.Int("k", 0, "")
	s.Run = func(_ context.Context, _ *Env, args []string) error { *got = args; return nil }
	p.Subs = []*Command{s}
	return []*Command{a, p}
}

// TestSingleDashFlags: single-dash long flags parse as double-dash ones;
// values that look like flags (negative numbers, a value after a flag
// that takes one) stay as they are, and so does what follows "--".
func TestSingleDashFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		eps  string
		q    bool
		filt string
		pos  []string
	}{
		{[]string{"a", "-eps", "-1", "-q", "x"}, "-1", true, "", []string{"x"}},
		{[]string{"a", "--eps=3,4", "x", "-filter", "-7"}, "3,4", false, "-7", []string{"x"}},
		{[]string{"a", "-filter", "-not-a-flag", "-q=false"}, "", false, "-not-a-flag", []string{}},
		{[]string{"a", "-q", "--", "-eps"}, "", true, "", []string{"-eps"}},
		{[]string{"p", "-addr", "h:1", "s", "-k", "3", "y"}, "", false, "", []string{"y"}},
		{[]string{"p", "s", "-addr", "h:1", "y"}, "", false, "", []string{"y"}},
	} {
		var got []string
		var eps FloatList
		var q bool
		var filter string
		code := Main(testCommands(&got, &eps, &q, &filter), tc.args, io.Discard, io.Discard)
		if code != 0 || eps.String() != tc.eps || q != tc.q || filter != tc.filt || !slices.Equal(got, tc.pos) && len(got)+len(tc.pos) > 0 {
			t.Errorf("%q: exit %d, eps %q q %v filter %q args %q; want 0, %q %v %q %q", tc.args, code, eps.String(), q, filter, got, tc.eps, tc.q, tc.filt, tc.pos)
		}
	}
}

// TestLegacyChurn: `shoal bench -churn …` is `shoal bench churn …`.
func TestLegacyChurn(t *testing.T) {
	got := legacyArgs([]string{"bench", "-data", "x", "-churn", "-q"})
	if want := []string{"bench", "churn", "-data", "x", "-q"}; !slices.Equal(got, want) {
		t.Errorf("legacyArgs = %q, want %q", got, want)
	}
}

// TestExitStatus: 2 for a command line that does not parse, 1 for
// options that do not validate and for failures, each with a message.
func TestExitStatus(t *testing.T) {
	var got []string
	var eps FloatList
	var q bool
	var filter string
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"a", "-bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"a", "-eps", "x"}, 2, "bad list element"},
		{[]string{"p", "t"}, 2, `unknown verb "t"`},
	} {
		var e strings.Builder
		code := Main(testCommands(&got, &eps, &q, &filter), tc.args, io.Discard, &e)
		if code != tc.code || !strings.Contains(e.String(), tc.msg) {
			t.Errorf("%q: exit %d, %q; want %d and %q", tc.args, code, e.String(), tc.code, tc.msg)
		}
	}
}
