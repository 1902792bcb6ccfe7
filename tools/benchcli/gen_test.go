package benchcli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func genQuietEnv() *clikit.Env { return &clikit.Env{Stdout: io.Discard, Stderr: io.Discard} }

func TestGenCommand(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	env := &clikit.Env{Stdout: &stdout, Stderr: &stderr}
	args := []string{"-n", "300", "-q", "5", "-dim", "8", "-k", "10", "-seed", "3", "-format", "fbin", "-out", dir}
	if err := runGen(context.Background(), env, args); err != nil {
		t.Fatalf("shoal gen %v: %v\n%s", args, err, stderr.String())
	}
	for _, want := range []string{"base.fbin", "300 × 8", "groundtruth.ibin", "5 × 10"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout %q does not mention %q", stdout.String(), want)
		}
	}
	for _, want := range []string{"generate", "groundtruth", "100.0%"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q has no progress line with %q", stderr.String(), want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "query.fbin")); err != nil {
		t.Error(err)
	}
}

func TestGenCommandRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "10"},                    // no -out
		{"-out", "x", "-format", "csv"}, // unknown format
		{"-out", "x", "-dim", "0"},      // zero dimension
		{"-out", "x", "-q", "-1"},       // negative queries
		{"-out", "x", "extra"},          // positional argument
		{"-out", "x", "-n", "many"},     // not a number
	} {
		env := &clikit.Env{Stdout: io.Discard, Stderr: io.Discard}
		if err := runGen(context.Background(), env, args); err == nil {
			t.Errorf("shoal gen %v succeeded, want an error", args)
		}
	}
}
