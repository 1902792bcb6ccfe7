package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// genSmallSpec is the data set of the gen tests: big enough for two random
// blocks, small enough to run in well under a second.
var genSmallSpec = GenSpec{N: 2000, Queries: 20, Dim: 16, K: 50, Seed: 7}

func genQuietEnv() *clikit.Env { return &clikit.Env{Stdout: io.Discard, Stderr: io.Discard} }

// genSmall generates spec into a fresh directory in format f.
func genSmallSet(t *testing.T, spec GenSpec, f vecfile.Format) genFiles {
	t.Helper()
	files, err := generate(context.Background(), genQuietEnv(), spec, t.TempDir(), f)
	if err != nil {
		t.Fatalf("generate %v: %v", f, err)
	}
	return files
}

func genReadF32(t *testing.T, path string) ([]float32, int) {
	t.Helper()
	v, dim, err := vecfile.ReadFloat32(path)
	if err != nil {
		t.Fatal(err)
	}
	return v, dim
}

func genReadI32(t *testing.T, path string) ([]int32, int) {
	t.Helper()
	v, dim, err := vecfile.ReadInt32(path)
	if err != nil {
		t.Fatal(err)
	}
	return v, dim
}

// genNaiveTruth is the specification of the ground truth: every distance,
// sorted by (distance, id).
func genNaiveTruth(base, queries []float32, dim, k int) ([]int32, []float32) {
	n := len(base) / dim
	var ids []int32
	var dists []float32
	for q := range len(queries) / dim {
		qv := queries[q*dim : (q+1)*dim]
		all := make([]genNeighbor, n)
		for i := range all {
			all[i] = genNeighbor{vec.L2SquaredF32(qv, base[i*dim:(i+1)*dim]), int32(i)}
		}
		slices.SortFunc(all, func(a, b genNeighbor) int {
			if a.dist != b.dist {
				if a.dist < b.dist {
					return -1
				}
				return 1
			}
			return int(a.id - b.id)
		})
		for _, c := range all[:k] {
			ids = append(ids, c.id)
			dists = append(dists, c.dist)
		}
	}
	return ids, dists
}

func TestGenerateWritesShapes(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(context.Background(), genQuietEnv(), genSmallSpec, dir); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		rows, dim int
	}{
		{"base.fvecs", 2000, 16},
		{"query.fvecs", 20, 16},
		{"groundtruth.ivecs", 20, 50},
		{"groundtruth.dist.fvecs", 20, 50},
	} {
		r, err := vecfile.Open(filepath.Join(dir, tc.name))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if r.Len() != tc.rows || r.Dim() != tc.dim {
			t.Errorf("%s is %d × %d, want %d × %d", tc.name, r.Len(), r.Dim(), tc.rows, tc.dim)
		}
		r.Close()
	}
}

func TestGenerateTruthIsExact(t *testing.T) {
	files := genSmallSet(t, genSmallSpec, vecfile.FVecs)
	base, dim := genReadF32(t, files.base)
	queries, _ := genReadF32(t, files.query)
	ids, k := genReadI32(t, files.gt)
	dists, _ := genReadF32(t, files.gtDist)
	wantIDs, wantDists := genNaiveTruth(base, queries, dim, k)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("ground-truth ids differ from a naive brute force:\n got %v\nwant %v", ids[:k], wantIDs[:k])
	}
	if !slices.Equal(dists, wantDists) {
		t.Errorf("ground-truth distances differ from a naive brute force:\n got %v\nwant %v", dists[:k], wantDists[:k])
	}
	// The kernel is the only float32 arithmetic: check it against float64.
	for j := range k {
		var d float64
		for c := range dim {
			x := float64(queries[c]) - float64(base[int(ids[j])*dim+c])
			d += x * x
		}
		if math.Abs(d-float64(dists[j])) > 1e-4*d {
			t.Errorf("neighbour %d of query 0: distance %v, want %v", j, dists[j], d)
		}
	}
}

func TestGenGroundTruthAcrossChunks(t *testing.T) {
	files := genSmallSet(t, genSmallSpec, vecfile.FVecs)
	base, dim := genReadF32(t, files.base)
	queries, _ := genReadF32(t, files.query)
	wantIDs, wantDists := genNaiveTruth(base, queries, dim, genSmallSpec.K)
	var calls []int
	ids, dists, err := genGroundTruth(context.Background(), files.base, queries, dim, genSmallSpec.K, 300, func(done int) { calls = append(calls, done) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, wantIDs) || !slices.Equal(dists, wantDists) {
		t.Errorf("ground truth read in chunks of 300 rows differs from a naive brute force")
	}
	if want := []int{300, 600, 900, 1200, 1500, 1800, 2000}; !slices.Equal(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
}

func TestGenWriteFileMatchesOneShot(t *testing.T) {
	spec := GenSpec{N: genChunk*genBlock + 1000, Queries: 1, Dim: 2, Seed: 5}
	spec.EnsureDefaults()
	m := newGenModel(spec)
	path := filepath.Join(t.TempDir(), "base.fvecs")
	if err := m.writeFile(context.Background(), path, vecfile.FVecs, genStreamBase, spec.N, func(int) {}); err != nil {
		t.Fatal(err)
	}
	got, _ := genReadF32(t, path)
	if want := m.sample(genStreamBase, 0, spec.N); !slices.Equal(got, want) {
		t.Errorf("vectors written a chunk at a time differ from the same rows drawn at once")
	}
}

func TestGenTopKTiesGoToLowerID(t *testing.T) {
	tk := genTopK{k: 3}
	for _, c := range []genNeighbor{{2, 9}, {1, 8}, {2, 3}, {2, 5}, {3, 0}, {1, 7}, {2, 4}} {
		tk.push(c.dist, c.id)
	}
	want := []genNeighbor{{1, 7}, {1, 8}, {2, 3}}
	if got := tk.sorted(); !slices.Equal(got, want) {
		t.Errorf("top 3 = %v, want %v", got, want)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a := genSmallSet(t, genSmallSpec, vecfile.FVecs)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b := genSmallSet(t, genSmallSpec, vecfile.FVecs) // other worker count, same bytes
	for _, p := range [][2]string{{a.base, b.base}, {a.query, b.query}, {a.gt, b.gt}, {a.gtDist, b.gtDist}} {
		if !bytes.Equal(genReadFile(t, p[0]), genReadFile(t, p[1])) {
			t.Errorf("%s differs between two runs with seed %d", filepath.Base(p[0]), genSmallSpec.Seed)
		}
	}
}

func TestGenerateSeedsDiffer(t *testing.T) {
	other := genSmallSpec
	other.Seed++
	a, b := genSmallSet(t, genSmallSpec, vecfile.FVecs), genSmallSet(t, other, vecfile.FVecs)
	for _, p := range [][2]string{{a.base, b.base}, {a.query, b.query}} {
		if bytes.Equal(genReadFile(t, p[0]), genReadFile(t, p[1])) {
			t.Errorf("%s is the same for seeds %d and %d", filepath.Base(p[0]), genSmallSpec.Seed, other.Seed)
		}
	}
}

func TestGenerateQueriesAreNotBaseVectors(t *testing.T) {
	files := genSmallSet(t, genSmallSpec, vecfile.FVecs)
	dists, _ := genReadF32(t, files.gtDist)
	for q := range genSmallSpec.Queries {
		if d := dists[q*genSmallSpec.K]; d == 0 {
			t.Errorf("query %d coincides with a base vector: the query stream must be disjoint", q)
		}
	}
}

func TestGenerateFormats(t *testing.T) {
	ref := genSmallSet(t, genSmallSpec, vecfile.FVecs)
	refBase, _ := genReadF32(t, ref.base)
	refIDs, _ := genReadI32(t, ref.gt)
	refDists, _ := genReadF32(t, ref.gtDist)
	for _, f := range []vecfile.Format{vecfile.FBin, vecfile.NPY} {
		t.Run(f.String(), func(t *testing.T) {
			files := genSmallSet(t, genSmallSpec, f)
			if base, dim := genReadF32(t, files.base); dim != 16 || !slices.Equal(base, refBase) {
				t.Errorf("%s: dim %d, want the same 16-dimensional vectors as base.fvecs", files.base, dim)
			}
			if ids, k := genReadI32(t, files.gt); k != 50 || !slices.Equal(ids, refIDs) {
				t.Errorf("%s: k %d, want the same 50 ids per query as groundtruth.ivecs", files.gt, k)
			}
			var dists []float32
			if f == vecfile.FBin {
				// The distances follow the ids under one header.
				b := genReadFile(t, files.gt)
				if want := 8 + 2*4*len(refIDs); len(b) != want {
					t.Fatalf("%s is %d bytes, want %d (header, ids, distances)", files.gt, len(b), want)
				}
				dists = slices.Clone(vec.BytesToF32(b[8+4*len(refIDs):]))
			} else {
				dists, _ = genReadF32(t, files.gtDist)
			}
			if !slices.Equal(dists, refDists) {
				t.Errorf("%v distances differ from groundtruth.dist.fvecs", f)
			}
		})
	}
}

func TestGenerateHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	err := Generate(ctx, genQuietEnv(), genSmallSpec, dir)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate with a cancelled context: %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("cancelled Generate left files behind: %v", left)
	}
}

func TestGenSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec GenSpec
		ok   bool
	}{
		{"defaults", GenSpec{N: 10, Queries: 1}, true},
		{"no base", GenSpec{Queries: 1}, false},
		{"no queries", GenSpec{N: 10}, false},
		{"negative dim", GenSpec{N: 10, Queries: 1, Dim: -1}, false},
		{"negative spread", GenSpec{N: 10, Queries: 1, Spread: -1}, false},
		{"too many", GenSpec{N: math.MaxInt32 + 1, Queries: 1}, false},
	} {
		s := tc.spec
		s.EnsureDefaults()
		if err := s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	s := GenSpec{N: 10, Queries: 1, Dim: 8}
	s.EnsureDefaults()
	if s.K != 10 || s.Rank != 8 || s.Clusters != 1000 || s.Noise != 0.15 || s.Spread != 2 {
		t.Errorf("EnsureDefaults = %+v, want K capped to N, Rank to Dim, and the documented defaults", s)
	}
}

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

func genReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
