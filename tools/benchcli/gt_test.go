package benchcli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// TestGTReproducesGen: shoal gt on a set made by shoal gen writes gen's
// ground truth byte for byte, in gen's layouts.
func TestGTReproducesGen(t *testing.T) {
	for _, c := range []struct {
		gen        []string
		base, gt   string
		dist       string // "" when the ids file holds the distances
		queryFile  string
		extraFlags []string
	}{
		{[]string{"-preset", "sift"}, "base.u8bin", "groundtruth.ibin", "", "query.u8bin", nil},
		{[]string{"-elem", "u8", "-format", "bvecs", "-dim", "32"}, "base.bvecs", "groundtruth.ivecs", "groundtruth.dist.fvecs", "query.bvecs", []string{"-chunk", "100"}},
		{[]string{"-preset", "deep", "-format", "npy"}, "base.npy", "groundtruth.npy", "groundtruth.dist.npy", "query.npy", nil},
	} {
		data, out := t.TempDir(), t.TempDir()
		args := append([]string{"-n", "3000", "-q", "20", "-k", "25", "-seed", "9", "-out", data}, c.gen...)
		if err := runGen(context.Background(), genQuietEnv(), args); err != nil {
			t.Fatalf("shoal gen %v: %v", args, err)
		}
		var stdout, stderr bytes.Buffer
		gtArgs := append([]string{"-base", filepath.Join(data, c.base), "-queries", filepath.Join(data, c.queryFile),
			"-k", "25", "-metric", "l2", "-out", filepath.Join(out, c.gt)}, c.extraFlags...)
		if err := runGT(context.Background(), &clikit.Env{Stdout: &stdout, Stderr: &stderr}, gtArgs); err != nil {
			t.Fatalf("shoal gt %v: %v", gtArgs, err)
		}
		for _, name := range []string{c.gt, c.dist} {
			if name == "" {
				continue
			}
			want, err := os.ReadFile(filepath.Join(data, name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("gen %v: shoal gt's %s differs from gen's", c.gen, name)
			}
		}
		if !strings.Contains(stdout.String(), c.gt) {
			t.Errorf("stdout %q does not name %s", stdout.String(), c.gt)
		}
		if !strings.Contains(stderr.String(), "groundtruth") || !strings.Contains(stderr.String(), "100.0%") {
			t.Errorf("stderr %q has no finished progress line", stderr.String())
		}
	}
}

func TestGTRejectsBadFlags(t *testing.T) {
	data := t.TempDir()
	if err := runGen(context.Background(), genQuietEnv(), []string{"-n", "500", "-q", "5", "-dim", "8", "-k", "5", "-out", data}); err != nil {
		t.Fatal(err)
	}
	base, q := filepath.Join(data, "base.fvecs"), filepath.Join(data, "query.fvecs")
	out := filepath.Join(t.TempDir(), "gt.ivecs")
	for _, args := range [][]string{
		{"-queries", q, "-out", out},                                                       // no -base
		{"-base", base, "-out", out},                                                       // no -queries
		{"-base", base, "-queries", q},                                                     // no -out
		{"-base", base, "-queries", q, "-out", out, "-metric", "hamming"},                  // unknown metric
		{"-base", base, "-queries", q, "-out", out, "-k", "0"},                             // no neighbours
		{"-base", base, "-queries", q, "-out", out + ".txt"},                               // not an ids file
		{"-base", base, "-queries", q, "-out", out, "-gpu", "maybe"},                       // unknown mode
		{"-base", q + ".missing", "-queries", q, "-out", out},                              // no such file
		{"-base", base, "-queries", filepath.Join(data, "groundtruth.ivecs"), "-out", out}, // ids are not vectors
	} {
		if err := runGT(context.Background(), genQuietEnv(), args); err == nil {
			t.Errorf("shoal gt %v succeeded, want an error", args)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed shoal gt left %s", out)
	}
}

// TestGTGPUAutoFallsBackToCPU: -gpu auto on a machine without a usable
// GPU runs on gpu's CPU backend and gets the CPU kernels' neighbours.
func TestGTGPUAutoFallsBackToCPU(t *testing.T) {
	data, out := t.TempDir(), t.TempDir()
	if err := runGen(context.Background(), genQuietEnv(), []string{"-n", "2000", "-q", "10", "-dim", "16", "-k", "10", "-out", data}); err != nil {
		t.Fatal(err)
	}
	args := []string{"-base", filepath.Join(data, "base.fvecs"), "-queries", filepath.Join(data, "query.fvecs"), "-k", "10", "-gpu", "auto", "-out", filepath.Join(out, "gt.ivecs")}
	if err := runGT(context.Background(), genQuietEnv(), args); err != nil {
		t.Fatalf("shoal gt %v: %v", args, err)
	}
	want, _, err := vecfile.ReadInt32(filepath.Join(data, "groundtruth.ivecs"))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := vecfile.ReadInt32(filepath.Join(out, "gt.ivecs"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("-gpu auto's ids differ from gen's ground truth")
	}
}
