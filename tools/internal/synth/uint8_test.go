package synth

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/internal/vecfile"
)

// genU8Spec is a SIFT-shaped set: 128-d bytes.
var genU8Spec = Spec{N: 5000, Queries: 50, Dim: 128, K: 10, Seed: 11, Elem: vecfile.Uint8}

func TestGenerateUint8FormatsHoldTheSameBytes(t *testing.T) {
	ref := genSmallSet(t, genU8Spec, vecfile.U8Bin)
	refBase, _ := genReadF32(t, ref.Base)
	refIDs, _ := genReadI32(t, ref.GT)
	for _, f := range []vecfile.Format{vecfile.BVecs, vecfile.NPY} {
		files := genSmallSet(t, genU8Spec, f)
		r, err := vecfile.Open(files.Base)
		if err != nil {
			t.Fatal(err)
		}
		elem := r.Elem()
		r.Close()
		if elem != vecfile.Uint8 {
			t.Errorf("%s holds %v, want uint8", files.Base, elem)
		}
		if base, _ := genReadF32(t, files.Base); !slices.Equal(base, refBase) {
			t.Errorf("%s differs from base.u8bin", files.Base)
		}
		if ids, _ := genReadI32(t, files.GT); !slices.Equal(ids, refIDs) {
			t.Errorf("%s differs from groundtruth.ibin's ids", files.GT)
		}
	}
}

func TestGenerateUint8TruthIsExact(t *testing.T) {
	files := genSmallSet(t, genU8Spec, vecfile.BVecs)
	base, dim := genReadF32(t, files.Base)
	queries, _ := genReadF32(t, files.Query)
	ids, k := genReadI32(t, files.GT)
	dists, _ := genReadF32(t, files.GTDist)
	wantIDs, wantDists := genNaiveTruth(base, queries, dim, k)
	if !slices.Equal(ids, wantIDs) || !slices.Equal(dists, wantDists) {
		t.Errorf("uint8 ground truth differs from a naive brute force over the bytes written:\n got %v %v\nwant %v %v", ids[:k], dists[:k], wantIDs[:k], wantDists[:k])
	}
}

// TestGenerateUint8KeepsStructure checks that quantising to bytes keeps
// the data SIFT-like and the clusters apart: values spread over the byte
// range with a mean near quantCentre, almost every vector distinct,
// neighbours at distinct distances (not a sea of ties), and the
// neighbours of the bytes mostly those of the floats they came from.
func TestGenerateUint8KeepsStructure(t *testing.T) {
	u8 := genSmallSet(t, genU8Spec, vecfile.U8Bin)
	fspec := genU8Spec
	fspec.Elem = vecfile.Float32
	f32 := genSmallSet(t, fspec, vecfile.FBin)

	raw := genReadFile(t, u8.Base)[8:]
	if len(raw) != genU8Spec.N*genU8Spec.Dim {
		t.Fatalf("base.u8bin holds %d bytes of vectors, want %d", len(raw), genU8Spec.N*genU8Spec.Dim)
	}
	var sum, zeros, top int
	for _, b := range raw {
		sum += int(b)
		if b == 0 {
			zeros++
		}
		if b == 255 {
			top++
		}
	}
	mean := float64(sum) / float64(len(raw))
	if mean < quantCentre-8 || mean > quantCentre+8 {
		t.Errorf("mean byte %.1f, want about %d", mean, quantCentre)
	}
	if frac := float64(zeros) / float64(len(raw)); frac > 0.1 {
		t.Errorf("%.1f%% of the bytes clip to 0, want a few percent at most", 100*frac)
	}
	if frac := float64(top) / float64(len(raw)); frac > 0.001 {
		t.Errorf("%.2f%% of the bytes clip to 255, want almost none", 100*frac)
	}

	distinct := map[string]bool{}
	for i := range genU8Spec.N {
		distinct[string(raw[i*genU8Spec.Dim:(i+1)*genU8Spec.Dim])] = true
	}
	if frac := float64(len(distinct)) / float64(genU8Spec.N); frac < 0.999 {
		t.Errorf("only %.2f%% of the vectors are distinct after quantisation", 100*frac)
	}

	ids, k := genReadI32(t, u8.GT)
	dists := genTruthDists(t, u8.GT, len(ids))
	allTied := 0
	for q := range genU8Spec.Queries {
		d := dists[q*k : (q+1)*k]
		if d[0] == d[k-1] {
			allTied++
		}
	}
	if allTied > 0 {
		t.Errorf("%d of %d queries have all %d neighbours at one distance", allTied, genU8Spec.Queries, k)
	}

	fids, _ := genReadI32(t, f32.GT)
	hits := 0
	for q := range genU8Spec.Queries {
		want := fids[q*k : (q+1)*k]
		for _, id := range ids[q*k : (q+1)*k] {
			if slices.Contains(want, id) {
				hits++
			}
		}
	}
	t.Logf("mean %.1f zeros %.3f top %.4f distinct %d recall %.3f", mean, float64(zeros)/float64(len(raw)), float64(top)/float64(len(raw)), len(distinct), float64(hits)/float64(len(ids)))
	if recall := float64(hits) / float64(len(ids)); recall < 0.8 {
		t.Errorf("the bytes' top %d hold %.2f of the floats' top %d, want ≥ 0.8: quantisation breaks the neighbourhoods", k, recall, k)
	}
}

// genTruthDists returns the distances that follow n ids in a big-ann .ibin.
func genTruthDists(t *testing.T, path string, n int) []float32 {
	t.Helper()
	return slices.Clone(vec.BytesToF32(genReadFile(t, path)[8+4*n:]))
}

// TestGenerateChunkingDoesNotChangeFiles: the same seed gives the same
// bytes whatever the generation and truth chunk sizes.
func TestGenerateChunkingDoesNotChangeFiles(t *testing.T) {
	for _, spec := range []Spec{
		{N: 7000, Queries: 30, Dim: 12, K: 20, Seed: 3},
		{N: 7000, Queries: 30, Dim: 128, K: 20, Seed: 3, Elem: vecfile.Uint8},
	} {
		var ref Files
		for i, o := range []Options{
			{},
			{ChunkRows: 1, TruthChunkRows: 77},
			{ChunkRows: 5000, TruthChunkRows: 7000},
		} {
			files, err := GenerateWith(context.Background(), spec, t.TempDir(), o)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				ref = files
				continue
			}
			for _, p := range [][2]string{{ref.Base, files.Base}, {ref.Query, files.Query}, {ref.GT, files.GT}, {ref.GTDist, files.GTDist}} {
				if p[0] == "" {
					continue
				}
				if !bytes.Equal(genReadFile(t, p[0]), genReadFile(t, p[1])) {
					t.Errorf("%v: %s with chunks of %d rows (truth %d) differs from the default chunking", spec.Elem, filepath.Base(p[1]), o.ChunkRows, o.TruthChunkRows)
				}
			}
		}
	}
}

func TestGenerateRejectsFormatOfOtherElem(t *testing.T) {
	for _, c := range []struct {
		elem vecfile.Elem
		f    vecfile.Format
	}{
		{vecfile.Uint8, vecfile.FVecs}, {vecfile.Uint8, vecfile.FBin},
		{vecfile.Float32, vecfile.U8Bin}, {vecfile.Float32, vecfile.BVecs},
	} {
		spec := genSmallSpec
		spec.Elem = c.elem
		if _, err := GenerateWith(context.Background(), spec, t.TempDir(), Options{Format: c.f}); err == nil {
			t.Errorf("%v vectors in %v: no error", c.elem, c.f)
		}
	}
}
