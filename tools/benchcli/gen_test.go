package benchcli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/internal/vecfile"
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

// TestGenPresetsAndElems: -preset and -elem give the files they promise,
// and flags given with a preset win.
func TestGenPresetsAndElems(t *testing.T) {
	for _, c := range []struct {
		args []string
		base string
		dim  int
		elem vecfile.Elem
	}{
		{[]string{"-preset", "sift"}, "base.u8bin", 128, vecfile.Uint8},
		{[]string{"-preset", "deep"}, "base.fbin", 96, vecfile.Float32},
		{[]string{"-preset", "sift", "-dim", "24", "-format", "bvecs"}, "base.bvecs", 24, vecfile.Uint8},
		{[]string{"-elem", "u8", "-dim", "16"}, "base.u8bin", 16, vecfile.Uint8},
		{[]string{"-elem", "uint8", "-dim", "16", "-format", "npy"}, "base.npy", 16, vecfile.Uint8},
		{[]string{"-dim", "16"}, "base.fvecs", 16, vecfile.Float32},
	} {
		dir := t.TempDir()
		args := append([]string{"-n", "1100", "-q", "3", "-k", "5", "-out", dir}, c.args...)
		var stdout bytes.Buffer
		if err := runGen(context.Background(), &clikit.Env{Stdout: &stdout, Stderr: io.Discard}, args); err != nil {
			t.Fatalf("shoal gen %v: %v", args, err)
		}
		r, err := vecfile.Open(filepath.Join(dir, c.base))
		if err != nil {
			t.Errorf("shoal gen %v: %v", c.args, err)
			continue
		}
		if r.Len() != 1100 || r.Dim() != c.dim || r.Elem() != c.elem {
			t.Errorf("shoal gen %v: %s is %d × %d %v, want 1100 × %d %v", c.args, c.base, r.Len(), r.Dim(), r.Elem(), c.dim, c.elem)
		}
		r.Close()
		if !strings.Contains(stdout.String(), c.elem.String()) {
			t.Errorf("shoal gen %v: stdout %q does not say %v", c.args, stdout.String(), c.elem)
		}
	}
}

func TestGenRejectsMismatchedElem(t *testing.T) {
	for _, args := range [][]string{
		{"-out", "x", "-elem", "u8", "-format", "fvecs"},
		{"-out", "x", "-elem", "u8", "-format", "fbin"},
		{"-out", "x", "-format", "u8bin"}, // f32 by default
		{"-out", "x", "-preset", "sift", "-format", "fbin"},
		{"-out", "x", "-elem", "f16"},
		{"-out", "x", "-preset", "glove"},
	} {
		if err := runGen(context.Background(), genQuietEnv(), args); err == nil {
			t.Errorf("shoal gen %v succeeded, want an error", args)
		}
	}
}

// TestGenWithoutTruth: -truth=false writes the vectors and no ground
// truth, and shoal gt on its output gives what gen would have written.
func TestGenWithoutTruth(t *testing.T) {
	with, without := t.TempDir(), t.TempDir()
	args := []string{"-n", "500", "-q", "4", "-dim", "8", "-k", "10", "-preset", "sift", "-dim", "8"}
	if err := runGen(context.Background(), genQuietEnv(), append(args, "-out", with)); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	env := &clikit.Env{Stdout: &stdout, Stderr: io.Discard}
	if err := runGen(context.Background(), env, append(args, "-truth=false", "-out", without)); err != nil {
		t.Fatal(err)
	}
	gt := filepath.Join(without, "groundtruth.ibin")
	if _, err := os.Stat(gt); !os.IsNotExist(err) {
		t.Fatalf("-truth=false wrote %s (stat: %v)", gt, err)
	}
	if !strings.Contains(stdout.String(), "shoal gt") || !strings.Contains(stdout.String(), gt) {
		t.Errorf("stdout %q does not say how to make the truth", stdout.String())
	}
	for _, f := range []string{"base.u8bin", "query.u8bin"} {
		a, _ := os.ReadFile(filepath.Join(with, f))
		b, _ := os.ReadFile(filepath.Join(without, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs with -truth=false (%d and %d bytes)", f, len(a), len(b))
		}
	}
	gtArgs := []string{"-base", filepath.Join(without, "base.u8bin"), "-queries", filepath.Join(without, "query.u8bin"), "-out", gt, "-k", "10"}
	if err := runGT(context.Background(), genQuietEnv(), gtArgs); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(with, "groundtruth.ibin"))
	b, _ := os.ReadFile(gt)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("shoal gt after gen -truth=false: %d bytes, gen's own truth %d bytes, equal %v", len(b), len(a), bytes.Equal(a, b))
	}
}
