package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

// blobs returns n points of dim around c Gaussian centres.
func blobs(n, dim, c int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([]float32, c*dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64() * 10)
	}
	data := make([]float32, n*dim)
	for i := 0; i < n; i++ {
		ctr := centres[rng.IntN(c)*dim:]
		for d := 0; d < dim; d++ {
			data[i*dim+d] = ctr[d] + float32(rng.NormFloat64())
		}
	}
	return data
}

func TestBuildLeafCount(t *testing.T) {
	data := blobs(20000, 16, 50, 1)
	for _, want := range []int{1, 7, 32, 100, 1000, 3000} {
		tr, err := Build(data, 16, Options{Leaves: want, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		got := tr.NumLeaves()
		if got < want*8/10 || got > want*12/10+1 {
			t.Errorf("Leaves %d: built %d leaves, want within 20%%", want, got)
		}
		total := 0
		for _, s := range tr.LeafSize {
			total += int(s)
		}
		if total != 20000 {
			t.Errorf("Leaves %d: leaf sizes sum to %d, want every one of the 20000 points", want, total)
		}
	}
}

func TestBuildDeterministic(t *testing.T) {
	data := blobs(40000, 8, 20, 2)
	var first []byte
	for _, workers := range []int{1, 2, 5} {
		tr, err := Build(data, 8, Options{Leaves: 2000, Seed: 42, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		b := tr.Marshal()
		if first == nil {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Fatalf("Workers %d built a different tree from Workers 1 with the same seed", workers)
		}
	}
	tr, _ := Build(data, 8, Options{Leaves: 2000, Seed: 43})
	if bytes.Equal(tr.Marshal(), first) {
		t.Fatal("a different seed built the identical tree")
	}
}

func TestBuildBalanced(t *testing.T) {
	// Uniform data: balanced k-means should keep leaf sizes near the mean.
	rng := rand.New(rand.NewPCG(3, 3))
	data := make([]float32, 30000*8)
	for i := range data {
		data[i] = rng.Float32()
	}
	tr, err := Build(data, 8, Options{Leaves: 1000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	mean := 30000 / tr.NumLeaves()
	if m := slices.Max(tr.LeafSize); int(m) > 4*mean {
		t.Fatalf("largest leaf has %d points, more than 4x the mean %d", m, mean)
	}
}

// bruteLeaves returns all leaves sorted by routing distance.
func bruteLeaves(tr *Tree, q []float32) []Candidate {
	var all []Candidate
	for p := 0; p < tr.NumLeaves(); p++ {
		all = append(all, Candidate{Leaf: uint32(p), Dist: tr.Distance(q, p)})
	}
	slices.SortStableFunc(all, func(a, b Candidate) int {
		switch {
		case a.Dist < b.Dist:
			return -1
		case a.Dist > b.Dist:
			return 1
		}
		return 0
	})
	return all
}

func TestSearchExhaustiveBeamIsExact(t *testing.T) {
	for _, m := range []vec.Metric{vec.L2, vec.InnerProduct} {
		data := blobs(5000, 12, 30, 4)
		tr, err := Build(data, 12, Options{Leaves: 400, Seed: 4, Metric: m})
		if err != nil {
			t.Fatal(err)
		}
		var ws Workspace
		q := blobs(20, 12, 30, 5)
		for i := 0; i < 20; i++ {
			qi := q[i*12 : (i+1)*12]
			got := tr.Search(qi, 10, tr.NumNodes(), &ws)
			want := bruteLeaves(tr, qi)[:10]
			for j := range want {
				if got[j].Dist != want[j].Dist {
					t.Fatalf("%v query %d: result %d has distance %v, brute force %v", m, i, j, got[j].Dist, want[j].Dist)
				}
			}
		}
	}
}

func TestSearchBeamRecall(t *testing.T) {
	data := blobs(50000, 16, 100, 6)
	tr, err := Build(data, 16, Options{Leaves: 5000, Seed: 6})
	if err != nil {
		t.Fatal(err)
	}
	q := blobs(200, 16, 100, 6) // same centres, fresh points
	var ws Workspace
	hits := 0
	for i := 0; i < 200; i++ {
		qi := q[i*16 : (i+1)*16]
		want := bruteLeaves(tr, qi)[:16]
		got := tr.Search(qi, 16, 64, &ws)
		set := map[uint32]bool{}
		for _, c := range got {
			set[c.Leaf] = true
		}
		for _, c := range want {
			if set[c.Leaf] {
				hits++
			}
		}
	}
	if r := float64(hits) / (200 * 16); r < 0.9 {
		t.Fatalf("beam 64 finds %.3f of the 16 nearest heads, want >= 0.9", r)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	tr, err := Build(blobs(3000, 5, 10, 7), 5, Options{Leaves: 100, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b := tr.Marshal()
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Marshal(), b) || !slices.Equal(got.LeafID, tr.LeafID) {
		t.Fatal("tree differs after a Marshal/Unmarshal round trip")
	}
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 1
		if _, err := Unmarshal(c); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped byte %d: Unmarshal = %v, want ErrCorrupt", i, err)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	tr, _ := Build(blobs(200, 3, 4, 8), 3, Options{Leaves: 20, Seed: 8})
	f.Add(tr.Marshal())
	one, _ := Build(blobs(10, 3, 1, 8), 3, Options{Leaves: 1, Seed: 8})
	f.Add(one.Marshal())
	// Edited trees: holes in the leaf ids, dead slots, deepened leaves.
	randomEdits(f, tr, modelOf(tr), 60, 8, nil)
	f.Add(tr.Marshal())
	f.Add(tr.Compact().Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := Unmarshal(b)
		if err != nil {
			return
		}
		var ws Workspace
		tr.Search(make([]float32, tr.Dim), 3, 8, &ws)
		// Whatever decodes must be a tree the edits can work on.
		verifyTree(t, tr)
		p := uint32(slices.IndexFunc(tr.LeafNode, func(n int32) bool { return n >= 0 }))
		if err := tr.SplitLeaf(p, uint32(tr.NumLeaves()), tr.Head(int(p)), tr.Head(int(p))); err != nil {
			t.Fatal(err)
		}
		if err := tr.RemoveLeaf(p); err != nil {
			t.Fatal(err)
		}
		verifyTree(t, tr)
		verifyTree(t, tr.Compact())
	})
}

// FuzzUnmarshalStructure fuzzes encodings with a valid checksum, so that
// the structural checks, not the CRC, must reject what does not decode.
func FuzzUnmarshalStructure(f *testing.F) {
	withoutCRC := func(b []byte) []byte { return b[:len(b)-4] }
	tr, _ := Build(blobs(60, 2, 4, 9), 2, Options{Leaves: 8, K: 3, Seed: 9})
	f.Add(withoutCRC(tr.Marshal()))
	randomEdits(f, tr, modelOf(tr), 40, 9, nil)
	f.Add(withoutCRC(tr.Marshal()))
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		tr, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Unmarshal = %v, want ErrCorrupt", err)
			}
			return
		}
		verifyTree(t, tr)
		p := uint32(slices.IndexFunc(tr.LeafNode, func(n int32) bool { return n >= 0 }))
		if err := tr.SplitLeaf(p, uint32(tr.NumLeaves()), tr.Head(int(p)), tr.Head(int(p))); err != nil {
			t.Fatal(err)
		}
		verifyTree(t, tr)
	})
}
