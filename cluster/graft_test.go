package cluster

import (
	"slices"
	"testing"
)

// TestGraft clusters points into partitions, each partition's points into
// a sub-tree, and grafts them: every sub-tree head is a head of the
// result, a partition's heads get consecutive ids in partition order, the
// clustered sizes add up, the tree survives encoding, and an exhaustive
// search over it is exact.
func TestGraft(t *testing.T) {
	const dim, n = 12, 6000
	data := blobs(n, dim, 40, 9)
	top, err := Build(data, dim, Options{Leaves: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var ws Workspace
	parts := make([][]float32, top.NumLeaves())
	for i := 0; i < n; i++ {
		x := data[i*dim : (i+1)*dim]
		p := top.Search(x, 1, top.NumNodes(), &ws)[0].Leaf
		parts[p] = append(parts[p], x...)
	}
	subs := make([]*Tree, len(parts))
	var heads [][]float32
	for p, pts := range parts {
		if p == 2 {
			continue // kept as a leaf
		}
		if subs[p], err = Build(pts, dim, Options{Leaves: 10 * (p + 1), Seed: uint64(p)}); err != nil {
			t.Fatal(err)
		}
	}
	for p := range parts {
		if subs[p] == nil {
			heads = append(heads, top.Head(p))
			continue
		}
		for q := 0; q < subs[p].NumLeaves(); q++ {
			heads = append(heads, subs[p].Head(q))
		}
	}
	g, err := Graft(top, subs)
	if err != nil {
		t.Fatal(err)
	}
	if g.NumLeaves() != len(heads) || g.LiveLeaves() != len(heads) {
		t.Fatalf("grafted tree has %d leaves (%d live), want %d", g.NumLeaves(), g.LiveLeaves(), len(heads))
	}
	for p, h := range heads {
		if !slices.Equal(g.Head(p), h) {
			t.Fatalf("leaf %d of the grafted tree is not head %d of the partitions in order", p, p)
		}
	}
	// Sizes: the sub-trees' points, and the kept leaf's own.
	var size int32
	for p := range g.NumLeaves() {
		size += g.LeafSize[p]
	}
	if want := int32(n-len(parts[2])/dim) + top.LeafSize[2]; size != want {
		t.Errorf("leaf sizes add up to %d, want %d", size, want)
	}
	back, err := Unmarshal(g.Marshal())
	if err != nil {
		t.Fatalf("grafted tree does not decode: %v", err)
	}
	if back.NumLeaves() != g.NumLeaves() || back.Depth() != g.Depth() {
		t.Errorf("decoded tree: %d leaves depth %d, want %d depth %d", back.NumLeaves(), back.Depth(), g.NumLeaves(), g.Depth())
	}
	q := blobs(20, dim, 40, 10)
	for i := 0; i < 20; i++ {
		qi := q[i*dim : (i+1)*dim]
		got := g.Search(qi, 5, g.NumNodes(), &ws)
		want := bruteLeaves(g, qi)[:5]
		for j := range want {
			if got[j].Dist != want[j].Dist {
				t.Fatalf("query %d: result %d at %v, brute force %v", i, j, got[j].Dist, want[j].Dist)
			}
		}
	}

	if _, err := Graft(top, subs[:2]); err == nil {
		t.Error("graft with too few sub-trees: no error")
	}
	other, _ := Build(blobs(100, dim+1, 2, 1), dim+1, Options{Leaves: 2})
	bad := slices.Clone(subs)
	bad[0] = other
	if _, err := Graft(top, bad); err == nil {
		t.Error("graft of a sub-tree of another dimension: no error")
	}
}
