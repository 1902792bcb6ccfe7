package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

func mustBuild(t testing.TB, n, dim, leaves, k int, seed uint64, m vec.Metric) *Tree {
	t.Helper()
	tr, err := Build(blobs(n, dim, 8, seed), dim, Options{Leaves: leaves, K: k, Seed: seed, Metric: m, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// verifyTree checks every invariant the edits maintain, and that decoding
// the tree's encoding derives the same Parent, LeafID, counts and free runs.
func verifyTree(t testing.TB, tr *Tree) {
	t.Helper()
	n := tr.NumNodes()
	if len(tr.Centroids) != n*tr.Dim || len(tr.ChildStart) != n || len(tr.LeafID) != n || len(tr.Parent) != n {
		t.Fatalf("node arrays disagree on the node count %d", n)
	}
	if len(tr.LeafSize) != tr.NumLeaves() {
		t.Fatalf("LeafSize has %d entries, want NumLeaves %d", len(tr.LeafSize), tr.NumLeaves())
	}
	reached := make([]bool, n)
	reached[0] = true
	if tr.Parent[0] != -1 {
		t.Fatalf("root has parent %d, want -1", tr.Parent[0])
	}
	for queue := []int32{0}; len(queue) > 0; queue = queue[1:] {
		i := queue[0]
		s, c := tr.ChildStart[i], tr.ChildCount[i]
		if (tr.LeafID[i] >= 0) == (c > 0) {
			t.Fatalf("reachable node %d has leaf id %d and %d children, want exactly one of them", i, tr.LeafID[i], c)
		}
		for j := s; j < s+c; j++ {
			if reached[j] {
				t.Fatalf("node %d reached twice", j)
			}
			if tr.Parent[j] != i {
				t.Fatalf("node %d has Parent %d, want %d", j, tr.Parent[j], i)
			}
			reached[j] = true
			queue = append(queue, j)
		}
	}
	dead := 0
	var runs [][2]int32
	for i := range n {
		if reached[i] {
			continue
		}
		dead++
		if tr.ChildStart[i] != 0 || tr.ChildCount[i] != 0 || tr.LeafID[i] != -1 || tr.Parent[i] != -1 ||
			slices.ContainsFunc(tr.Centroid(i), func(v float32) bool { return v != 0 }) {
			t.Fatalf("dead slot %d is not clean", i)
		}
		if k := len(runs) - 1; k >= 0 && runs[k][0]+runs[k][1] == int32(i) {
			runs[k][1]++
		} else {
			runs = append(runs, [2]int32{int32(i), 1})
		}
	}
	if n > 0 && !reached[n-1] {
		t.Fatalf("last slot %d is dead, want dead slots cut off the end", n-1)
	}
	if dead != tr.DeadNodes() {
		t.Fatalf("%d dead slots, DeadNodes says %d", dead, tr.DeadNodes())
	}
	if len(runs) != len(tr.free.byStart) || len(runs) != len(tr.free.byEnd) {
		t.Fatalf("%d runs of dead slots, free list has %d/%d", len(runs), len(tr.free.byStart), len(tr.free.byEnd))
	}
	var bySize [MaxChildren + 2][]int32
	for _, r := range runs {
		if tr.free.byStart[r[0]] != r[1] || tr.free.byEnd[r[0]+r[1]] != r[0] {
			t.Fatalf("dead run [%d,+%d) is not in the free list", r[0], r[1])
		}
		bySize[sizeClass(r[1])] = append(bySize[sizeClass(r[1])], r[0])
	}
	for c := range bySize {
		if !slices.Equal(bySize[c], tr.free.bySize[c]) {
			t.Fatalf("free runs of size class %d are %v, want %v", c, tr.free.bySize[c], bySize[c])
		}
	}
	live := 0
	for p, nd := range tr.LeafNode {
		switch {
		case nd == -1:
			if tr.LeafSize[p] != 0 {
				t.Fatalf("free leaf id %d has size %d", p, tr.LeafSize[p])
			}
		case nd < 0 || int(nd) >= n || !reached[nd] || tr.LeafID[nd] != int32(p):
			t.Fatalf("leaf %d at node %d does not point back", p, nd)
		default:
			live++
		}
	}
	if live != tr.LiveLeaves() {
		t.Fatalf("%d live leaves, LiveLeaves says %d", live, tr.LiveLeaves())
	}
	b := tr.Marshal()
	u, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("edited tree does not decode: %v", err)
	}
	if !bytes.Equal(u.Marshal(), b) || !slices.Equal(u.Parent, tr.Parent) || !slices.Equal(u.LeafID, tr.LeafID) ||
		u.LiveLeaves() != tr.LiveLeaves() || u.DeadNodes() != tr.DeadNodes() {
		t.Fatal("decoded tree differs from the tree encoded")
	}
}

// model is the brute-force reference: live leaf id → head.
type model map[uint32][]float32

func modelOf(tr *Tree) model {
	m := model{}
	for p := range tr.NumLeaves() {
		if tr.IsLeaf(uint32(p)) {
			m[uint32(p)] = slices.Clone(tr.Head(p))
		}
	}
	return m
}

func routeDist(m vec.Metric, q, h []float32) float32 {
	if m == vec.InnerProduct {
		return -vec.DotF32(q, h)
	}
	return vec.L2SquaredF32(q, h)
}

// checkModel checks tr against the model: the same live ids and heads, and
// for each query an exhaustive Search returns every live leaf once with its
// true distance, its nearest being the brute-force nearest head.
func checkModel(t testing.TB, tr *Tree, want model, queries []float32, ws *Workspace) {
	t.Helper()
	if tr.LiveLeaves() != len(want) {
		t.Fatalf("LiveLeaves %d, want %d", tr.LiveLeaves(), len(want))
	}
	for p := range tr.NumLeaves() + 2 {
		h, ok := want[uint32(p)]
		if tr.IsLeaf(uint32(p)) != ok {
			t.Fatalf("IsLeaf(%d) = %v, want %v", p, !ok, ok)
		}
		if ok && !slices.Equal(tr.Head(p), h) {
			t.Fatalf("leaf %d has head %v, want %v", p, tr.Head(p), h)
		}
	}
	for qi := 0; qi < len(queries)/tr.Dim; qi++ {
		q := queries[qi*tr.Dim : (qi+1)*tr.Dim]
		best := float32(math.Inf(1))
		for _, h := range want {
			best = min(best, routeDist(tr.Metric, q, h))
		}
		got := tr.Search(q, tr.LiveLeaves(), tr.NumNodes(), ws)
		if len(got) != len(want) {
			t.Fatalf("query %d: Search(n = LiveLeaves = %d) returned %d leaves", qi, len(want), len(got))
		}
		seen := map[uint32]bool{}
		for _, c := range got {
			h, ok := want[c.Leaf]
			if !ok || seen[c.Leaf] {
				t.Fatalf("query %d: Search returned leaf %d, which is not live or came twice", qi, c.Leaf)
			}
			seen[c.Leaf] = true
			if d := routeDist(tr.Metric, q, h); d != c.Dist {
				t.Fatalf("query %d: leaf %d at distance %v, want %v", qi, c.Leaf, c.Dist, d)
			}
		}
		if got[0].Dist != best {
			t.Fatalf("query %d: nearest leaf at %v, brute force %v", qi, got[0].Dist, best)
		}
	}
}

// jitter returns h plus noise of scale s.
func jitter(h []float32, s float64, rng *rand.Rand) []float32 {
	out := slices.Clone(h)
	for d := range out {
		out[d] += float32(rng.NormFloat64() * s)
	}
	return out
}

func TestSplitLeaf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	lastLeaf := func(tr *Tree) uint32 { return uint32(tr.LeafID[tr.NumNodes()-1]) }
	for _, tc := range []struct {
		name   string
		leaves int
		pick   func(tr *Tree) uint32
		fill   bool // first fill p's parent to MaxChildren
		deepen bool
		moved  bool // the parent's block moved and left dead slots
	}{
		{name: "sibling, block moves", leaves: 16, pick: func(*Tree) uint32 { return 0 }, moved: true},
		{name: "sibling, last block grows in place", leaves: 16, pick: lastLeaf},
		{name: "deepen, parent full", leaves: 16, pick: func(*Tree) uint32 { return 0 }, fill: true, deepen: true},
		{name: "deepen, root is the only leaf", leaves: 1, pick: func(*Tree) uint32 { return 0 }, deepen: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustBuild(t, 400, 6, tc.leaves, 4, 2, vec.L2)
			p := tc.pick(tr)
			m := modelOf(tr)
			if tc.fill {
				for tr.ChildCount[tr.Parent[tr.LeafNode[p]]] < MaxChildren {
					id := uint32(tr.NumLeaves())
					c1, c2 := jitter(m[p], 0.1, rng), jitter(m[p], 0.1, rng)
					if err := tr.SplitLeaf(p, id, c1, c2); err != nil {
						t.Fatal(err)
					}
					m[p], m[id] = c1, c2
				}
			}
			x := tr.LeafNode[p]
			par := tr.Parent[x]
			oldHead := slices.Clone(tr.Head(int(p)))
			siblings := int32(0)
			if par >= 0 {
				siblings = tr.ChildCount[par]
			}
			depth, dead := tr.Depth(), tr.DeadNodes()
			id := uint32(tr.NumLeaves())
			c1, c2 := jitter(oldHead, 0.1, rng), jitter(oldHead, 0.1, rng)
			if err := tr.SplitLeaf(p, id, c1, c2); err != nil {
				t.Fatal(err)
			}
			m[p], m[id] = c1, c2
			verifyTree(t, tr)
			checkModel(t, tr, m, blobs(8, 6, 8, 3), &Workspace{})
			y := tr.LeafNode[id]
			if tc.deepen {
				if tr.Parent[y] != x || tr.Parent[tr.LeafNode[p]] != x || tr.LeafID[x] != -1 || tr.ChildCount[x] != 2 {
					t.Fatalf("leaf %d's node %d did not become the parent of leaves %d and %d", p, x, p, id)
				}
				if !slices.Equal(tr.Centroid(int(x)), oldHead) {
					t.Fatalf("the new inner node's centroid is %v, want the old head %v", tr.Centroid(int(x)), oldHead)
				}
				if tr.depthOf(y) != tr.depthOf(x)+1 || tr.Depth() < depth || tr.Depth() < tr.depthOf(y)+1 {
					t.Fatalf("leaf %d at level %d under node %d at level %d; tree depth %d, was %d", id, tr.depthOf(y), x, tr.depthOf(x), tr.Depth(), depth)
				}
				return
			}
			if tr.Parent[y] != par || tr.Parent[tr.LeafNode[p]] != par || tr.ChildCount[par] != siblings+1 {
				t.Fatalf("new leaf %d is not a sibling of leaf %d under node %d", id, p, par)
			}
			if tr.Depth() != depth {
				t.Fatalf("a sibling split changed the depth from %d to %d", depth, tr.Depth())
			}
			if wantDead := dead + int(siblings)*btoi(tc.moved); tr.DeadNodes() != wantDead {
				t.Fatalf("%d dead slots after the split, want %d", tr.DeadNodes(), wantDead)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// depthOf returns the level of node i (0 for the root).
func (t *Tree) depthOf(i int32) int {
	d := 0
	for ; t.Parent[i] >= 0; i = t.Parent[i] {
		d++
	}
	return d
}

func TestEditErrors(t *testing.T) {
	tr := mustBuild(t, 400, 6, 10, 4, 4, vec.L2)
	if err := tr.RemoveLeaf(3); err != nil {
		t.Fatal(err)
	}
	h := make([]float32, 6)
	for _, tc := range []struct {
		name string
		edit func() error
		want error
	}{
		{"split a free id", func() error { return tr.SplitLeaf(3, 20, h, h) }, ErrNoLeaf},
		{"split an id never used", func() error { return tr.SplitLeaf(99, 20, h, h) }, ErrNoLeaf},
		{"split into a live id", func() error { return tr.SplitLeaf(0, 1, h, h) }, ErrLeafInUse},
		{"split into itself", func() error { return tr.SplitLeaf(0, 0, h, h) }, ErrLeafInUse},
		{"split into a huge id", func() error { return tr.SplitLeaf(0, math.MaxInt32, h, h) }, ErrLeafRange},
		{"split with a short c1", func() error { return tr.SplitLeaf(0, 3, h[:5], h) }, ErrDimensionMismatch},
		{"split with a long c2", func() error { return tr.SplitLeaf(0, 3, h, append(h, 1)) }, ErrDimensionMismatch},
		{"remove a free id", func() error { return tr.RemoveLeaf(3) }, ErrNoLeaf},
		{"remove an id never used", func() error { return tr.RemoveLeaf(1 << 31) }, ErrNoLeaf},
		{"set the head of a free id", func() error { return tr.SetHead(3, h) }, ErrNoLeaf},
		{"set a short head", func() error { return tr.SetHead(0, h[:1]) }, ErrDimensionMismatch},
	} {
		before := tr.Marshal()
		if err := tc.edit(); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if !bytes.Equal(tr.Marshal(), before) {
			t.Errorf("%s: a failed edit changed the tree", tc.name)
		}
	}
}

func TestRemoveLeavesUntilOne(t *testing.T) {
	for _, m := range []vec.Metric{vec.L2, vec.InnerProduct} {
		tr := mustBuild(t, 2000, 8, 120, 4, 5, m)
		want := modelOf(tr)
		queries := blobs(4, 8, 8, 6)
		var ws Workspace
		rng := rand.New(rand.NewPCG(5, 5))
		order := rng.Perm(tr.NumLeaves())
		for _, p := range order[:len(order)-1] {
			if err := tr.RemoveLeaf(uint32(p)); err != nil {
				t.Fatalf("%v: remove %d: %v", m, p, err)
			}
			delete(want, uint32(p))
			verifyTree(t, tr)
			checkModel(t, tr, want, queries, &ws)
		}
		last := uint32(order[len(order)-1])
		if err := tr.RemoveLeaf(last); !errors.Is(err, ErrLastLeaf) {
			t.Fatalf("%v: removing the last leaf: %v, want ErrLastLeaf", m, err)
		}
		if got := tr.Search(queries[:8], 5, 5, &ws); len(got) != 1 || got[0].Leaf != last {
			t.Fatalf("%v: Search on a one-leaf tree returned %v, want only leaf %d", m, got, last)
		}
		if tr.NumLeaves() != len(order) {
			t.Fatalf("%v: NumLeaves shrank to %d", m, tr.NumLeaves())
		}
		// Grow it back from the one leaf.
		for id := range uint32(50) {
			if tr.IsLeaf(id) {
				continue
			}
			c := jitter(want[last], 1, rng)
			if err := tr.SplitLeaf(last, id, want[last], c); err != nil {
				t.Fatal(err)
			}
			want[id] = c
		}
		verifyTree(t, tr)
		checkModel(t, tr, want, queries, &ws)
	}
}

// liveInner counts reachable inner nodes.
func liveInner(tr *Tree) int { return tr.NumNodes() - tr.DeadNodes() - tr.LiveLeaves() }

// subtreeLeaves lists the leaves under node i.
func subtreeLeaves(tr *Tree, i int32) (leaves []uint32, inner int) {
	if p := tr.LeafID[i]; p >= 0 {
		return []uint32{uint32(p)}, 0
	}
	inner = 1
	for c := tr.ChildStart[i]; c < tr.ChildStart[i]+tr.ChildCount[i]; c++ {
		l, in := subtreeLeaves(tr, c)
		leaves, inner = append(leaves, l...), inner+in
	}
	return leaves, inner
}

func TestRemoveLeafCascades(t *testing.T) {
	tr := mustBuild(t, 4000, 8, 200, 4, 7, vec.L2)
	if tr.Depth() < 4 {
		t.Fatalf("want a tree of depth >= 4 to test with, got %d", tr.Depth())
	}
	// The first grandchild of the root: an inner node with inner children.
	node := tr.ChildStart[tr.ChildStart[0]]
	if tr.ChildCount[node] == 0 {
		t.Fatal("the root's first grandchild is a leaf")
	}
	leaves, inner := subtreeLeaves(tr, node)
	par := tr.Parent[node]
	siblings, before := tr.ChildCount[par], liveInner(tr)
	want := modelOf(tr)
	for _, p := range leaves {
		if err := tr.RemoveLeaf(p); err != nil {
			t.Fatal(err)
		}
		delete(want, p)
		verifyTree(t, tr)
	}
	if tr.ChildCount[par] != siblings-1 {
		t.Fatalf("node %d has %d children after its child's sub-tree emptied, want %d", par, tr.ChildCount[par], siblings-1)
	}
	if got := liveInner(tr); got != before-inner {
		t.Fatalf("%d inner nodes left, want %d: emptied inner nodes must go", got, before-inner)
	}
	checkModel(t, tr, want, blobs(16, 8, 8, 8), &Workspace{})

	// Emptying a deepened leaf removes the inner node it became.
	p := uint32(tr.LeafID[tr.NumNodes()-1])
	for tr.ChildCount[tr.Parent[tr.LeafNode[p]]] < MaxChildren {
		if err := tr.SplitLeaf(p, uint32(tr.NumLeaves()), tr.Head(int(p)), tr.Head(int(p))); err != nil {
			t.Fatal(err)
		}
	}
	x, id := tr.LeafNode[p], uint32(tr.NumLeaves())
	if err := tr.SplitLeaf(p, id, tr.Head(int(p)), tr.Head(int(p))); err != nil {
		t.Fatal(err)
	}
	par = tr.Parent[x]
	if tr.LeafID[x] != -1 || tr.ChildCount[par] != MaxChildren {
		t.Fatalf("leaf %d was not deepened under a full parent", p)
	}
	for _, q := range []uint32{id, p} {
		if err := tr.RemoveLeaf(q); err != nil {
			t.Fatal(err)
		}
	}
	verifyTree(t, tr)
	if tr.ChildCount[par] != MaxChildren-1 {
		t.Fatalf("node %d has %d children, want %d: the deepened node was not removed with its two leaves", par, tr.ChildCount[par], MaxChildren-1)
	}
}

// edit is one recorded tree edit.
type edit struct {
	op     byte // 's'plit, 'r'emove, 'h'ead
	p, id  uint32
	c1, c2 []float32
}

func (e edit) apply(tr *Tree) error {
	switch e.op {
	case 's':
		return tr.SplitLeaf(e.p, e.id, e.c1, e.c2)
	case 'r':
		return tr.RemoveLeaf(e.p)
	default:
		return tr.SetHead(e.p, e.c1)
	}
}

// randomEdits makes n valid edits for tr, applying them to tr and to the
// model, and calls after (if set) after each. Splits favour a few hot
// leaves so that parents fill up and deepen; the live count wanders
// between a handful and a few hundred so that removals cascade.
func randomEdits(t testing.TB, tr *Tree, want model, n int, seed uint64, after func(i int, e edit)) []edit {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	var edits []edit
	liveIDs := func() []uint32 {
		ids := make([]uint32, 0, len(want))
		for p := range tr.NumLeaves() {
			if tr.IsLeaf(uint32(p)) {
				ids = append(ids, uint32(p))
			}
		}
		return ids
	}
	hot := liveIDs()[:3]
	for i := range n {
		ids := liveIDs()
		var e edit
		r := rng.Float64()
		grow := 0.5
		switch {
		case len(ids) < 8:
			grow = 0.9
		case len(ids) > 300:
			grow = 0.2
		}
		switch {
		case r < grow:
			e.op = 's'
			e.p = ids[rng.IntN(len(ids))]
			if h := hot[rng.IntN(len(hot))]; rng.IntN(2) == 0 && tr.IsLeaf(h) {
				e.p = h
			}
			switch free := tr.NumLeaves() - len(ids); {
			case free > 0 && rng.IntN(2) == 0:
				for e.id = uint32(rng.IntN(tr.NumLeaves())); tr.IsLeaf(e.id); e.id = (e.id + 1) % uint32(tr.NumLeaves()) {
				}
			case rng.IntN(10) == 0:
				e.id = uint32(tr.NumLeaves() + rng.IntN(3)) // leaves holes
			default:
				e.id = uint32(tr.NumLeaves())
			}
			e.c1, e.c2 = jitter(want[e.p], 0.5, rng), jitter(want[e.p], 0.5, rng)
		case r < grow+0.7*(1-grow):
			e.op = 'r'
			e.p = ids[rng.IntN(len(ids))]
			if len(ids) == 1 {
				e.op, e.c1 = 'h', jitter(want[e.p], 1, rng)
			}
		default:
			e.op = 'h'
			e.p = ids[rng.IntN(len(ids))]
			e.c1 = jitter(want[e.p], 1, rng)
		}
		if err := e.apply(tr); err != nil {
			t.Fatalf("edit %d %c(%d, %d): %v", i, e.op, e.p, e.id, err)
		}
		switch e.op {
		case 's':
			want[e.p], want[e.id] = e.c1, e.c2
		case 'r':
			delete(want, e.p)
		default:
			want[e.p] = e.c1
		}
		edits = append(edits, e)
		if after != nil {
			after(i, e)
		}
	}
	return edits
}

func TestRandomEdits(t *testing.T) {
	const dim = 8
	for _, m := range []vec.Metric{vec.L2, vec.InnerProduct} {
		t.Run(m.String(), func(t *testing.T) {
			tr := mustBuild(t, 3000, dim, 150, 4, 9, m)
			want := modelOf(tr)
			queries := blobs(3, dim, 8, 10)
			var ws Workspace
			var deepened, cascaded, maxDead int
			var inner int
			randomEdits(t, tr, want, 2000, 9, func(i int, e edit) {
				verifyTree(t, tr)
				checkModel(t, tr, want, queries, &ws)
				switch in := liveInner(tr); {
				case e.op == 's' && in > inner:
					deepened++
				case e.op == 'r' && in < inner:
					cascaded++
				}
				inner = liveInner(tr)
				maxDead = max(maxDead, tr.DeadNodes())
			})
			if deepened == 0 || cascaded == 0 || maxDead == 0 {
				t.Fatalf("the edits deepened %d times, cascaded %d times, peaked at %d dead slots: want all > 0", deepened, cascaded, maxDead)
			}
			t.Logf("%d leaves, %d nodes (%d dead, peak %d), depth %d; %d deepenings, %d cascades",
				tr.LiveLeaves(), tr.NumNodes(), tr.DeadNodes(), maxDead, tr.Depth(), deepened, cascaded)
			if tr.DeadNodes() > 2*(tr.NumNodes()-tr.DeadNodes())+MaxChildren {
				t.Fatalf("%d dead slots for %d live nodes: dead slots are not reused", tr.DeadNodes(), tr.NumNodes()-tr.DeadNodes())
			}
		})
	}
}

func TestEditsDeterministic(t *testing.T) {
	base := mustBuild(t, 3000, 8, 150, 4, 12, vec.L2)
	enc := base.Marshal()
	load := func() *Tree {
		tr, err := Unmarshal(enc)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	a := load()
	edits := randomEdits(t, a, modelOf(a), 1000, 12, nil)
	applyAll := func(tr *Tree, es []edit) *Tree {
		for i, e := range es {
			if err := e.apply(tr); err != nil {
				t.Fatalf("replaying edit %d: %v", i, err)
			}
		}
		return tr
	}
	reload := func(tr *Tree) *Tree {
		u, err := Unmarshal(tr.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	want := a.Marshal()
	for _, tc := range []struct {
		name string
		run  func() *Tree
	}{
		{"same edits in memory", func() *Tree { return applyAll(load(), edits) }},
		{"saved and loaded half-way", func() *Tree { return applyAll(reload(applyAll(load(), edits[:500])), edits[500:]) }},
		{"saved and loaded often", func() *Tree {
			tr := load()
			for i := 0; i < len(edits); i += 37 {
				tr = applyAll(reload(tr), edits[i:min(i+37, len(edits))])
			}
			return tr
		}},
	} {
		if got := tc.run().Marshal(); !bytes.Equal(got, want) {
			t.Errorf("%s: the tree differs from the first run of the same edits", tc.name)
		}
	}
	// Compacting changes slots, not structure: compacted half-way, the
	// tree compacts at the end to the same bytes.
	half := applyAll(applyAll(load(), edits[:500]).Compact(), edits[500:])
	if !bytes.Equal(half.Compact().Marshal(), a.Compact().Marshal()) {
		t.Error("compacting half-way changed the compacted result of the same edits")
	}
}

func TestCompact(t *testing.T) {
	tr := mustBuild(t, 3000, 8, 150, 4, 13, vec.L2)
	if !bytes.Equal(tr.Compact().Marshal(), tr.Marshal()) {
		t.Fatal("Compact of a tree fresh from Build is not the same tree")
	}
	want := modelOf(tr)
	randomEdits(t, tr, want, 600, 13, nil)
	if tr.DeadNodes() == 0 {
		t.Fatal("the edits left no dead slots to compact")
	}
	c := tr.Compact()
	verifyTree(t, c)
	if c.DeadNodes() != 0 || c.NumNodes() != tr.NumNodes()-tr.DeadNodes() {
		t.Fatalf("Compact left %d slots, %d dead; want %d, none dead", c.NumNodes(), c.DeadNodes(), tr.NumNodes()-tr.DeadNodes())
	}
	if c.NumLeaves() != tr.NumLeaves() || !slices.Equal(c.LeafSize, tr.LeafSize) {
		t.Fatal("Compact changed the leaf ids")
	}
	checkModel(t, c, want, blobs(8, 8, 8, 14), &Workspace{})
	var wa, wb Workspace
	q := blobs(50, 8, 8, 15)
	for i := range 50 {
		qi := q[i*8 : (i+1)*8]
		for _, beam := range []int{1, 4, 16} {
			if a, b := tr.Search(qi, 5, beam, &wa), c.Search(qi, 5, beam, &wb); !slices.Equal(a, b) {
				t.Fatalf("query %d beam %d: compacted tree returns %v, tree %v", i, beam, b, a)
			}
		}
	}
	if !bytes.Equal(c.Compact().Marshal(), c.Marshal()) {
		t.Fatal("Compact of a compact tree changed it")
	}
}

func TestMarshalEdited(t *testing.T) {
	version := func(b []byte) uint32 { return binary.LittleEndian.Uint32(b[4:]) }
	tr := mustBuild(t, 600, 4, 24, 4, 16, vec.L2)
	if v := version(tr.Marshal()); v != 1 {
		t.Fatalf("a tree fresh from Build encodes as version %d, want 1", v)
	}
	// Splitting the leaf in the last slot adds no dead slot and no hole.
	p := uint32(tr.LeafID[tr.NumNodes()-1])
	if err := tr.SplitLeaf(p, uint32(tr.NumLeaves()), tr.Head(int(p)), tr.Head(int(p))); err != nil {
		t.Fatal(err)
	}
	if v := version(tr.Marshal()); v != 1 || tr.DeadNodes() != 0 {
		t.Fatalf("a dense edited tree encodes as version %d with %d dead slots, want version 1", v, tr.DeadNodes())
	}
	want := modelOf(tr)
	randomEdits(t, tr, want, 200, 16, nil)
	if err := tr.RemoveLeaf(uint32(slices.IndexFunc(tr.LeafNode, func(n int32) bool { return n >= 0 }))); err != nil {
		t.Fatal(err)
	}
	want = modelOf(tr)
	b := tr.Marshal()
	if v := version(b); v != 2 {
		t.Fatalf("a tree with holes encodes as version %d, want 2", v)
	}
	var r bytes.Buffer
	if _, err := tr.WriteTo(&r); err != nil {
		t.Fatal(err)
	}
	u, err := ReadTree(&r, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.LeafNode, tr.LeafNode) {
		t.Fatal("leaf ids changed in a round trip")
	}
	verifyTree(t, u)
	checkModel(t, u, want, blobs(8, 4, 8, 17), &Workspace{})
	// A dense reader's rules on an edited tree, and every flipped bit.
	dense := bytes.Clone(b)
	binary.LittleEndian.PutUint32(dense[4:], 1)
	binary.LittleEndian.PutUint32(dense[len(dense)-4:], crc32.Checksum(dense[:len(dense)-4], castagnoli))
	if _, err := Unmarshal(dense); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("an edited tree labelled version 1: Unmarshal = %v, want ErrCorrupt", err)
	}
	for i := range b {
		for _, bit := range []byte{1, 0x80} {
			c := bytes.Clone(b)
			c[i] ^= bit
			if _, err := Unmarshal(c); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flipped bit %#x of byte %d: Unmarshal = %v, want ErrCorrupt", bit, i, err)
			}
		}
	}
}

func TestUnmarshalRejectsBadEdits(t *testing.T) {
	tr := mustBuild(t, 600, 4, 24, 4, 18, vec.L2)
	randomEdits(t, tr, modelOf(tr), 100, 18, nil)
	if tr.DeadNodes() == 0 || tr.LiveLeaves() == tr.NumLeaves() {
		t.Fatal("want dead slots and free ids to test with")
	}
	deadSlot := func(c *Tree) int32 {
		for s := range c.free.byStart {
			return s
		}
		return -1
	}
	freeID := func(c *Tree) int { return slices.Index(c.LeafNode, -1) }
	inner := func(c *Tree) int32 {
		for i := int32(1); ; i++ {
			if c.ChildCount[i] > 0 {
				return i
			}
		}
	}
	for _, tc := range []struct {
		name   string
		break_ func(c *Tree)
	}{
		{"dead slot with children", func(c *Tree) { s := deadSlot(c); c.ChildStart[s], c.ChildCount[s] = 1, 1 }},
		{"dead slot with a ChildStart", func(c *Tree) { c.ChildStart[deadSlot(c)] = 5 }},
		{"leaf at a dead slot", func(c *Tree) { c.LeafNode[freeID(c)] = deadSlot(c) }},
		{"free id with a size", func(c *Tree) { c.LeafSize[freeID(c)] = 3 }},
		{"leaf id below -1", func(c *Tree) { c.LeafNode[freeID(c)] = -2 }},
		{"leaf id past the nodes", func(c *Tree) { c.LeafNode[freeID(c)] = int32(c.NumNodes()) }},
		{"inner node emptied", func(c *Tree) {
			p := slices.IndexFunc(c.LeafNode, func(n int32) bool { return n >= 0 })
			c.LeafNode[p], c.LeafSize[p] = -1, 0
		}},
		{"dead last slot", func(c *Tree) {
			clear(c.ChildStart)
			clear(c.ChildCount)
			c.LeafNode, c.LeafSize = []int32{0}, []int32{0}
		}},
		{"children reached twice", func(c *Tree) { c.ChildStart[inner(c)] = c.ChildStart[0] }},
		{"root reached again", func(c *Tree) { c.ChildStart[inner(c)] = 0 }},
		{"children past the end", func(c *Tree) { c.ChildStart[inner(c)] = int32(c.NumNodes()) - 1 }},
	} {
		c, err := Unmarshal(tr.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		tc.break_(c)
		if _, err := Unmarshal(c.Marshal()); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Unmarshal = %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func TestTwoMeans(t *testing.T) {
	const dim = 4
	rep := func(n int, x ...float32) []float32 {
		var out []float32
		for range n {
			out = append(out, x...)
		}
		return out
	}
	rng := rand.New(rand.NewPCG(19, 19))
	skewed := append(jitter(rep(99, 1, 1, 1, 1), 0.01, rng), 50, 50, 50, 50)
	twoBlobs := append(jitter(rep(60, 0, 0, 0, 0), 0.1, rng), jitter(rep(40, 9, 9, 9, 9), 0.1, rng)...)
	for _, tc := range []struct {
		name       string
		data       []float32
		sizes      [2]int // wanted cluster sizes, in either order
		separates  int    // if > 0: points [0, separates) share a label, the rest the other
		sameCentre bool
	}{
		{name: "empty", data: nil, sizes: [2]int{0, 0}, sameCentre: true},
		{name: "one point", data: []float32{1, 2, 3, 4}, sizes: [2]int{1, 0}, sameCentre: true},
		{name: "two points", data: []float32{0, 0, 0, 0, 1, 1, 1, 1}, sizes: [2]int{1, 1}, separates: 1},
		{name: "two identical points", data: rep(2, 3, 3, 3, 3), sizes: [2]int{1, 1}, sameCentre: true},
		{name: "all duplicates", data: rep(101, 5, -1, 2, 0), sizes: [2]int{51, 50}, sameCentre: true},
		{name: "two sets of duplicates", data: append(rep(30, 1, 0, 0, 0), rep(70, 0, 1, 0, 0)...), sizes: [2]int{30, 70}, separates: 30},
		{name: "one outlier", data: skewed, sizes: [2]int{99, 1}, separates: 99},
		{name: "two blobs", data: twoBlobs, sizes: [2]int{60, 40}, separates: 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.data) / dim
			c1, c2, labels := TwoMeans(tc.data, dim, 7)
			if len(c1) != dim || len(c2) != dim || len(labels) != n {
				t.Fatalf("got centroids of %d and %d floats and %d labels, want %d, %d, %d", len(c1), len(c2), len(labels), dim, dim, n)
			}
			var count [2]int
			var sums [2][dim]float64
			for i, l := range labels {
				if l > 1 {
					t.Fatalf("label %d", l)
				}
				count[l]++
				for d := range dim {
					sums[l][d] += float64(tc.data[i*dim+d])
				}
			}
			if count != tc.sizes && count != [2]int{tc.sizes[1], tc.sizes[0]} {
				t.Fatalf("cluster sizes %v, want %v", count, tc.sizes)
			}
			for l, c := range [][]float32{c1, c2} {
				for d := range dim {
					if count[l] > 0 && math.Abs(sums[l][d]/float64(count[l])-float64(c[d])) > 1e-4 {
						t.Fatalf("centroid %d is %v, not the mean of its members", l, c)
					}
				}
			}
			if tc.sameCentre != slices.Equal(c1, c2) {
				t.Fatalf("centroids %v and %v: want equal = %v", c1, c2, tc.sameCentre)
			}
			for i := range labels {
				if tc.separates > 0 && (labels[i] == labels[0]) != (i < tc.separates) {
					t.Fatalf("point %d has label %d, want the first %d points apart from the rest", i, labels[i], tc.separates)
				}
			}
			d1, d2, l2 := TwoMeans(tc.data, dim, 7)
			if !slices.Equal(c1, d1) || !slices.Equal(c2, d2) || !slices.Equal(labels, l2) {
				t.Fatal("TwoMeans is not deterministic for a seed")
			}
		})
	}
}

func TestTwoMeansBalanced(t *testing.T) {
	// Uniform data has no natural split: the halves should be near equal.
	rng := rand.New(rand.NewPCG(20, 20))
	data := make([]float32, 1000*8)
	for i := range data {
		data[i] = rng.Float32()
	}
	_, _, labels := TwoMeans(data, 8, 1)
	ones := 0
	for _, l := range labels {
		ones += int(l)
	}
	if ones < 350 || ones > 650 {
		t.Fatalf("split 1000 uniform points %d/%d, want near half", 1000-ones, ones)
	}
}

func ExampleTree_SplitLeaf() {
	data := []float32{0, 0, 0, 1, 10, 10, 10, 11}
	tr, _ := Build(data, 2, Options{Leaves: 1})
	// Points labelled 0 stay in posting 0, those labelled 1 move to 1.
	c1, c2, labels := TwoMeans(data, 2, 1)
	if err := tr.SplitLeaf(0, 1, c1, c2); err != nil {
		panic(err)
	}
	var ws Workspace
	got := tr.Search([]float32{10, 10}, 1, 8, &ws)[0].Leaf
	fmt.Println(tr.LiveLeaves(), got == uint32(labels[2]))
	// Output: 2 true
}
