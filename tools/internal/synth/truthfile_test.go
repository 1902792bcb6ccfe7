package synth

import (
	"bytes"
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vecfile"
)

// TestWriteTruthReproducesGenerate: the truth of a generated set, computed
// again from its files, is the same bytes, in every layout.
func TestWriteTruthReproducesGenerate(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		f    vecfile.Format
	}{
		{genSmallSpec, vecfile.FVecs},
		{genSmallSpec, vecfile.NPY},
		{genU8Spec, vecfile.U8Bin},
		{genU8Spec, vecfile.BVecs},
	} {
		files := genSmallSet(t, c.spec, c.f)
		out := filepath.Join(t.TempDir(), filepath.Base(files.GT))
		got, err := WriteTruth(context.Background(), TruthOptions{Base: files.Base, Queries: files.Query, Out: out, K: c.spec.K, ChunkRows: 333})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range [][2]string{{files.GT, got.GT}, {files.GTDist, got.GTDist}} {
			if p[0] == "" && p[1] == "" {
				continue
			}
			if p[0] == "" || p[1] == "" || !bytes.Equal(genReadFile(t, p[0]), genReadFile(t, p[1])) {
				t.Errorf("%v: WriteTruth's %q differs from gen's %q", c.f, p[1], p[0])
			}
		}
	}
}

// TestWriteTruthFlatMatchesCPU: the flat top-k plug (here gpu's CPU
// backend, the fallback of gpu.Open's Auto mode) merges chunk results
// into the same neighbours as the CPU kernels, for every metric.
func TestWriteTruthFlatMatchesCPU(t *testing.T) {
	files := genSmallSet(t, genSmallSpec, vecfile.FBin)
	for _, metric := range []index.Metric{index.L2, index.InnerProduct, index.Cosine} {
		dir := t.TempDir()
		o := TruthOptions{Base: files.Base, Queries: files.Query, K: 30, Metric: metric, ChunkRows: 700}
		o.Out = filepath.Join(dir, "cpu.ivecs")
		want, err := WriteTruth(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		o.Out, o.Flat = filepath.Join(dir, "flat.ivecs"), gpu.CPU()
		got, err := WriteTruth(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs, _ := genReadI32(t, want.GT)
		gotIDs, _ := genReadI32(t, got.GT)
		if !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("%v: ids through the flat top-k differ from the CPU kernels':\n got %v\nwant %v", metric, gotIDs[:30], wantIDs[:30])
		}
		wantD, _ := genReadF32(t, want.GTDist)
		gotD, _ := genReadF32(t, got.GTDist)
		for i := range wantD {
			if math.Abs(float64(gotD[i]-wantD[i])) > 1e-4*max(1, math.Abs(float64(wantD[i]))) {
				t.Errorf("%v: distance %d is %v through the flat top-k, %v through the CPU kernels", metric, i, gotD[i], wantD[i])
				break
			}
		}
	}
}

func TestTruthPaths(t *testing.T) {
	for _, c := range []struct{ out, ids, dist string }{
		{"d/groundtruth.ivecs", "d/groundtruth.ivecs", "d/groundtruth.dist.fvecs"},
		{"gt.npy", "gt.npy", "gt.dist.npy"},
		{"x/GT.ibin", "x/GT.ibin", ""},
	} {
		if ids, dist := truthPaths(c.out); ids != c.ids || dist != c.dist {
			t.Errorf("truthPaths(%q) = %q, %q, want %q, %q", c.out, ids, dist, c.ids, c.dist)
		}
	}
}

func TestWriteTruthRejectsBadInput(t *testing.T) {
	small := genSmallSet(t, genSmallSpec, vecfile.FVecs) // 16-d
	u8 := genSmallSet(t, genU8Spec, vecfile.U8Bin)       // 128-d
	out := filepath.Join(t.TempDir(), "gt.ivecs")
	for _, c := range []struct {
		name string
		o    TruthOptions
		is   error
	}{
		{"dimension mismatch", TruthOptions{Base: u8.Base, Queries: small.Query, Out: out}, index.ErrDimensionMismatch},
		{"missing base", TruthOptions{Base: small.Base + ".missing", Queries: small.Query, Out: out}, nil},
		{"ids as queries", TruthOptions{Base: small.Base, Queries: small.GT, Out: out}, nil},
		{"output not ids", TruthOptions{Base: small.Base, Queries: small.Query, Out: filepath.Join(t.TempDir(), "gt.fvecs")}, nil},
		{"bad metric", TruthOptions{Base: small.Base, Queries: small.Query, Out: out, Metric: 9}, nil},
	} {
		_, err := WriteTruth(context.Background(), c.o)
		if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: error %v, want one (wrapping %v)", c.name, err, c.is)
		}
	}
	if _, err := vecfile.Open(out); err == nil {
		t.Errorf("a failed WriteTruth left %s behind", out)
	}
}
