package synth

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/internal/vecfile"
)

// genSmallSpec is the data set of the gen tests: big enough for two random
// blocks, small enough to run in well under a second.
var genSmallSpec = Spec{N: 2000, Queries: 20, Dim: 16, K: 50, Seed: 7}

// genSmall generates spec into a fresh directory in format f.
func genSmallSet(t *testing.T, spec Spec, f vecfile.Format) Files {
	t.Helper()
	files, err := GenerateFormat(context.Background(), nil, spec, t.TempDir(), f)
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
		all := make([]Neighbor, n)
		for i := range all {
			all[i] = Neighbor{vec.L2SquaredF32(qv, base[i*dim:(i+1)*dim]), int32(i)}
		}
		slices.SortFunc(all, func(a, b Neighbor) int {
			if a.Dist != b.Dist {
				if a.Dist < b.Dist {
					return -1
				}
				return 1
			}
			return int(a.ID - b.ID)
		})
		for _, c := range all[:k] {
			ids = append(ids, c.ID)
			dists = append(dists, c.Dist)
		}
	}
	return ids, dists
}

func TestGenerateWritesShapes(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(context.Background(), nil, genSmallSpec, dir); err != nil {
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
	base, dim := genReadF32(t, files.Base)
	queries, _ := genReadF32(t, files.Query)
	ids, k := genReadI32(t, files.GT)
	dists, _ := genReadF32(t, files.GTDist)
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

func TestGenWriteFileMatchesOneShot(t *testing.T) {
	spec := Spec{N: chunkBlocks*blockRows + 1000, Queries: 1, Dim: 2, Seed: 5}
	spec.EnsureDefaults()
	m := newModel(spec)
	path := filepath.Join(t.TempDir(), "base.fvecs")
	if err := m.writeFile(context.Background(), path, vecfile.FVecs, streamBase, spec.N, chunkBlocks*blockRows, func(int) {}); err != nil {
		t.Fatal(err)
	}
	got, _ := genReadF32(t, path)
	if want := m.sample(streamBase, 0, spec.N); !slices.Equal(got, want) {
		t.Errorf("vectors written a chunk at a time differ from the same rows drawn at once")
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a := genSmallSet(t, genSmallSpec, vecfile.FVecs)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b := genSmallSet(t, genSmallSpec, vecfile.FVecs) // other worker count, same bytes
	for _, p := range [][2]string{{a.Base, b.Base}, {a.Query, b.Query}, {a.GT, b.GT}, {a.GTDist, b.GTDist}} {
		if !bytes.Equal(genReadFile(t, p[0]), genReadFile(t, p[1])) {
			t.Errorf("%s differs between two runs with seed %d", filepath.Base(p[0]), genSmallSpec.Seed)
		}
	}
}

func TestGenerateSeedsDiffer(t *testing.T) {
	other := genSmallSpec
	other.Seed++
	a, b := genSmallSet(t, genSmallSpec, vecfile.FVecs), genSmallSet(t, other, vecfile.FVecs)
	for _, p := range [][2]string{{a.Base, b.Base}, {a.Query, b.Query}} {
		if bytes.Equal(genReadFile(t, p[0]), genReadFile(t, p[1])) {
			t.Errorf("%s is the same for seeds %d and %d", filepath.Base(p[0]), genSmallSpec.Seed, other.Seed)
		}
	}
}

func TestGenerateQueriesAreNotBaseVectors(t *testing.T) {
	files := genSmallSet(t, genSmallSpec, vecfile.FVecs)
	dists, _ := genReadF32(t, files.GTDist)
	for q := range genSmallSpec.Queries {
		if d := dists[q*genSmallSpec.K]; d == 0 {
			t.Errorf("query %d coincides with a base vector: the query stream must be disjoint", q)
		}
	}
}

func TestGenerateFormats(t *testing.T) {
	ref := genSmallSet(t, genSmallSpec, vecfile.FVecs)
	refBase, _ := genReadF32(t, ref.Base)
	refIDs, _ := genReadI32(t, ref.GT)
	refDists, _ := genReadF32(t, ref.GTDist)
	for _, f := range []vecfile.Format{vecfile.FBin, vecfile.NPY} {
		t.Run(f.String(), func(t *testing.T) {
			files := genSmallSet(t, genSmallSpec, f)
			if base, dim := genReadF32(t, files.Base); dim != 16 || !slices.Equal(base, refBase) {
				t.Errorf("%s: dim %d, want the same 16-dimensional vectors as base.fvecs", files.Base, dim)
			}
			if ids, k := genReadI32(t, files.GT); k != 50 || !slices.Equal(ids, refIDs) {
				t.Errorf("%s: k %d, want the same 50 ids per query as groundtruth.ivecs", files.GT, k)
			}
			var dists []float32
			if f == vecfile.FBin {
				// The distances follow the ids under one header.
				b := genReadFile(t, files.GT)
				if want := 8 + 2*4*len(refIDs); len(b) != want {
					t.Fatalf("%s is %d bytes, want %d (header, ids, distances)", files.GT, len(b), want)
				}
				dists = slices.Clone(vec.BytesToF32(b[8+4*len(refIDs):]))
			} else {
				dists, _ = genReadF32(t, files.GTDist)
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
	err := Generate(ctx, nil, genSmallSpec, dir)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate with a cancelled context: %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("cancelled Generate left files behind: %v", left)
	}
}

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"defaults", Spec{N: 10, Queries: 1}, true},
		{"no base", Spec{Queries: 1}, false},
		{"no queries", Spec{N: 10}, false},
		{"negative dim", Spec{N: 10, Queries: 1, Dim: -1}, false},
		{"negative spread", Spec{N: 10, Queries: 1, Spread: -1}, false},
		{"too many", Spec{N: math.MaxInt32 + 1, Queries: 1}, false},
	} {
		s := tc.spec
		s.EnsureDefaults()
		if err := s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	s := Spec{N: 10, Queries: 1, Dim: 8}
	s.EnsureDefaults()
	if s.K != 10 || s.Rank != 8 || s.Clusters != 1000 || s.Noise != 0.15 || s.Spread != 2 {
		t.Errorf("EnsureDefaults = %+v, want K capped to N, Rank to Dim, and the documented defaults", s)
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
