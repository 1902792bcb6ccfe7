package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The shared suite: every backend is checked against float64 scalar
// references, on awkward shapes (lengths around the kernels' tile sizes,
// dimensions that need padding). tol is the allowed error relative to
// the operands' squared norms: float32 rounding of the backend's formula.

// randRows returns n rows of dim Gaussian floats, offset by shift (to make
// the GEMM form's cancellation visible).
func randRows(rng *rand.Rand, n, dim int, shift float32) []float32 {
	m := make([]float32, n*dim)
	for i := range m {
		m[i] = float32(rng.NormFloat64()) + shift
	}
	return m
}

func refDist(metric Metric, x, y []float32) float64 {
	var s float64
	for d := range x {
		a, b := float64(x[d]), float64(y[d])
		if metric == L2 {
			s += (a - b) * (a - b)
		} else {
			s += a * b
		}
	}
	switch metric {
	case InnerProduct:
		return -s
	case Cosine:
		return 1 - s
	}
	return s
}

func sqNorm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

// bound is the error allowed for a distance between x and y.
func bound(tol float64, x, y []float32) float64 {
	return tol*(sqNorm(x)+sqNorm(y)) + 1e-6
}

var suiteShapes = []struct{ n, m, dim int }{
	{1, 1, 1},
	{3, 7, 3},
	{17, 129, 8},
	{128, 128, 16},
	{129, 300, 100},
	{40, 1000, 128},
	{5, 2500, 129},
}

func testDistances(t *testing.T, b Backend, tol float64) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, metric := range []Metric{L2, InnerProduct, Cosine} {
		for _, sh := range suiteShapes {
			x := randRows(rng, sh.n, sh.dim, 0.5)
			y := randRows(rng, sh.m, sh.dim, 0.5)
			out := make([]float32, sh.n*sh.m)
			for i := range out {
				out[i] = float32(math.NaN()) // every element must be written
			}
			if err := b.Distances(metric, x, y, sh.dim, out); err != nil {
				t.Fatalf("%v %dx%dx%d: %v", metric, sh.n, sh.m, sh.dim, err)
			}
			for i := 0; i < sh.n; i++ {
				xi := x[i*sh.dim : (i+1)*sh.dim]
				for j := 0; j < sh.m; j++ {
					yj := y[j*sh.dim : (j+1)*sh.dim]
					want := refDist(metric, xi, yj)
					if got := float64(out[i*sh.m+j]); !(math.Abs(got-want) <= bound(tol, xi, yj)) {
						t.Fatalf("%v %dx%dx%d: distance(%d,%d) = %v, want %v ± %.3g", metric, sh.n, sh.m, sh.dim, i, j, got, want, bound(tol, xi, yj))
					}
				}
			}
		}
	}
}

// expectTopK checks one query's top-k list against the float64 reference:
// the same candidates up to ties within the error bound.
func expectTopK(t *testing.T, what string, metric Metric, q, y []float32, dim, k int, ids []int32, dists []float32, tol float64) {
	t.Helper()
	m := len(y) / dim
	type cand struct {
		d  float64
		id int
	}
	ref := make([]cand, m)
	for j := range ref {
		ref[j] = cand{refDist(metric, q, y[j*dim:(j+1)*dim]), j}
	}
	slices.SortFunc(ref, func(a, b cand) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		return a.id - b.id
	})
	have := min(k, m)
	kth := ref[have-1].d
	seen := map[int32]bool{}
	for r := 0; r < k; r++ {
		id, d := ids[r], dists[r]
		if r >= have {
			if id != -1 || !math.IsInf(float64(d), 1) {
				t.Fatalf("%s: slot %d of %d with %d rows is (%d, %v), want (-1, +Inf)", what, r, k, m, id, d)
			}
			continue
		}
		if id < 0 || int(id) >= m || seen[id] {
			t.Fatalf("%s: slot %d holds id %d (m %d, seen %v)", what, r, id, m, seen[id])
		}
		seen[id] = true
		yj := y[int(id)*dim : (int(id)+1)*dim]
		want := refDist(metric, q, yj)
		e := bound(tol, q, yj)
		if math.Abs(float64(d)-want) > e {
			t.Fatalf("%s: slot %d id %d distance %v, want %v ± %.3g", what, r, id, d, want, e)
		}
		if want > kth+2*e {
			t.Fatalf("%s: slot %d id %d at %v is beyond the true k-th distance %v", what, r, id, want, kth)
		}
		if r > 0 && dists[r] < dists[r-1] {
			t.Fatalf("%s: distances not sorted at slot %d: %v after %v", what, r, dists[r], dists[r-1])
		}
	}
	for _, c := range ref[:have] {
		if !seen[int32(c.id)] && c.d < kth-2*bound(tol, q, y[c.id*dim:(c.id+1)*dim]) {
			t.Fatalf("%s: missed id %d at %v, clearly inside the k-th distance %v", what, c.id, c.d, kth)
		}
	}
}

func testTopK(t *testing.T, b Backend, tol float64) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, metric := range []Metric{L2, InnerProduct, Cosine} {
		for _, sh := range suiteShapes {
			for _, k := range []int{1, 5, 64, 200} {
				x := randRows(rng, sh.n, sh.dim, 0.5)
				y := randRows(rng, sh.m, sh.dim, 0.5)
				ids := make([]int32, sh.n*k)
				dists := make([]float32, sh.n*k)
				if err := b.TopK(metric, x, y, sh.dim, k, ids, dists); err != nil {
					t.Fatalf("%v %dx%dx%d k %d: %v", metric, sh.n, sh.m, sh.dim, k, err)
				}
				for i := 0; i < sh.n; i++ {
					what := fmt.Sprintf("%v %dx%dx%d k %d query %d", metric, sh.n, sh.m, sh.dim, k, i)
					expectTopK(t, what, metric, x[i*sh.dim:(i+1)*sh.dim], y, sh.dim, k, ids[i*k:(i+1)*k], dists[i*k:(i+1)*k], tol)
				}
			}
		}
	}
}

// testTopKDuplicates: identical rows of y tie exactly; the lower ids win.
func testTopKDuplicates(t *testing.T, b Backend) {
	dim := 8
	y := make([]float32, 300*dim)
	for j := 0; j < 300; j++ {
		for d := 0; d < dim; d++ {
			y[j*dim+d] = float32(j % 3) // rows 0, 3, 6, ... are equal
		}
	}
	q := make([]float32, dim) // nearest: the rows of value 0
	ids := make([]int32, 10)
	dists := make([]float32, 10)
	if err := b.TopK(L2, q, y, dim, 10, ids, dists); err != nil {
		t.Fatal(err)
	}
	want := []int32{0, 3, 6, 9, 12, 15, 18, 21, 24, 27}
	if !slices.Equal(ids, want) {
		t.Fatalf("TopK over exact ties = %v, want the lowest ids %v", ids, want)
	}
}

// kmeansProblem is a batch of k-means problems over one point set.
type kmeansProblem struct {
	data       []float32
	dim        int
	idx, pseg  []int32
	cents      []float32
	cseg       []int32
	pen        []float64
	labels     []int32
	dists      []float32
	sums       []float64
	counts     []int
	segOfCents []int
}

// newKMeansProblem lays out segs segments of random sizes (some empty)
// over a random subset order of n points.
func newKMeansProblem(rng *rand.Rand, n, dim, segs, maxK int) *kmeansProblem {
	p := &kmeansProblem{data: randRows(rng, n, dim, 3), dim: dim}
	perm := rng.Perm(n)
	p.pseg, p.cseg = []int32{0}, []int32{0}
	pos := 0
	for s := 0; s < segs; s++ {
		size := rng.IntN(2 * n / segs)
		if s == segs-1 {
			size = n - pos
		}
		size = min(size, n-pos)
		for _, r := range perm[pos : pos+size] {
			p.idx = append(p.idx, int32(r))
		}
		pos += size
		p.pseg = append(p.pseg, int32(pos))
		k := 1 + rng.IntN(maxK)
		for c := 0; c < k; c++ {
			src := perm[rng.IntN(n)]
			for d := 0; d < dim; d++ {
				p.cents = append(p.cents, p.data[src*dim+d]+float32(rng.NormFloat64()*0.1))
			}
			p.pen = append(p.pen, rng.Float64()*2)
			p.segOfCents = append(p.segOfCents, s)
		}
		p.cseg = append(p.cseg, p.cseg[s]+int32(k))
	}
	p.labels = make([]int32, len(p.idx))
	p.dists = make([]float32, len(p.idx))
	p.sums = make([]float64, len(p.pen)*dim)
	p.counts = make([]int, len(p.pen))
	return p
}

func testAssign(t *testing.T, b Backend, tol float64) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, sh := range []struct{ n, dim, segs, maxK int }{{1, 1, 1, 1}, {500, 3, 7, 5}, {3000, 128, 20, 40}, {2000, 100, 1, 200}} {
		for _, withPen := range []bool{false, true} {
			p := newKMeansProblem(rng, sh.n, sh.dim, sh.segs, sh.maxK)
			pts, err := b.LoadPoints(p.data, p.dim)
			if err != nil {
				t.Fatal(err)
			}
			pen := p.pen
			if !withPen {
				pen = nil
			}
			if err := pts.Assign(p.idx, p.pseg, p.cents, p.cseg, pen, p.labels, p.dists); err != nil {
				t.Fatal(err)
			}
			for s := 0; s+1 < len(p.pseg); s++ {
				c0, c1 := int(p.cseg[s]), int(p.cseg[s+1])
				for i := p.pseg[s]; i < p.pseg[s+1]; i++ {
					x := p.data[int(p.idx[i])*p.dim : int(p.idx[i]+1)*p.dim]
					cost := func(j int) (float64, float64) {
						d := refDist(L2, x, p.cents[j*p.dim:(j+1)*p.dim])
						if pen != nil {
							return d, d + pen[j]
						}
						return d, d
					}
					best := math.Inf(1)
					for j := c0; j < c1; j++ {
						_, c := cost(j)
						best = min(best, c)
					}
					l := int(p.labels[i])
					if l < 0 || l >= c1-c0 {
						t.Fatalf("n %d dim %d: label %d outside segment %d's %d centroids", sh.n, sh.dim, l, s, c1-c0)
					}
					d, c := cost(c0 + l)
					e := bound(tol, x, p.cents[(c0+l)*p.dim:(c0+l+1)*p.dim])
					if c > best+2*e {
						t.Fatalf("n %d dim %d: point %d labelled %d at cost %v, the best is %v", sh.n, sh.dim, i, l, c, best)
					}
					if math.Abs(float64(p.dists[i])-d) > e {
						t.Fatalf("n %d dim %d: point %d distance %v, want %v", sh.n, sh.dim, i, p.dists[i], d)
					}
				}
			}
			testSums(t, pts, p)
			if err := pts.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// testSums checks Sums bit for bit against float64 sums in position order.
func testSums(t *testing.T, pts Points, p *kmeansProblem) {
	if err := pts.Sums(p.idx, p.pseg, p.labels, p.cseg, p.sums, p.counts); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(p.sums))
	counts := make([]int, len(p.counts))
	for s := 0; s+1 < len(p.pseg); s++ {
		for i := p.pseg[s]; i < p.pseg[s+1]; i++ {
			c := int(p.cseg[s]) + int(p.labels[i])
			counts[c]++
			for d := 0; d < p.dim; d++ {
				want[c*p.dim+d] += float64(p.data[int(p.idx[i])*p.dim+d])
			}
		}
	}
	if !slices.Equal(counts, p.counts) {
		t.Fatalf("Sums counts %v, want %v", p.counts, counts)
	}
	for i := range want {
		if math.Float64bits(want[i]) != math.Float64bits(p.sums[i]) {
			t.Fatalf("Sums[%d] = %v, want exactly %v (float64, position order)", i, p.sums[i], want[i])
		}
	}
}

// randTree builds a tree of depth levels with fanout children per inner
// node; some children of inner nodes are leaves straight away (mixed
// levels, as Build makes when a child wants one leaf).
func randTree(rng *rand.Rand, dim, levels, fanout int, metric Metric) *Tree {
	t := &Tree{Dim: dim, Metric: metric}
	type item struct{ node, depth int }
	add := func() int {
		t.Centroids = append(t.Centroids, randRows(rng, 1, dim, 0)...)
		t.ChildStart = append(t.ChildStart, 0)
		t.ChildCount = append(t.ChildCount, 0)
		t.LeafID = append(t.LeafID, -1)
		return len(t.ChildCount) - 1
	}
	add()
	queue := []item{{0, 0}}
	leaves := int32(0)
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if it.depth == levels || (it.depth > 0 && rng.IntN(6) == 0) {
			t.LeafID[it.node] = leaves
			leaves++
			continue
		}
		cnt := 2 + rng.IntN(fanout-1)
		first := len(t.ChildCount)
		for c := 0; c < cnt; c++ {
			queue = append(queue, item{add(), it.depth + 1})
		}
		t.ChildStart[it.node] = int32(first)
		t.ChildCount[it.node] = int32(cnt)
	}
	return t
}

// maxWidth is the widest beam the suite asks for (the CUDA kernel's
// limit, past which it hands the search to the CPU).
const maxWidth = 1024

// bruteLeaves returns every leaf's reference distance to q.
func bruteLeaves(t *Tree, q []float32) map[int32]float64 {
	out := map[int32]float64{}
	for i, l := range t.LeafID {
		if l >= 0 {
			out[l] = refDist(t.Metric, q, t.Centroids[i*t.Dim:(i+1)*t.Dim])
		}
	}
	return out
}

func testTreeSearch(t *testing.T, b Backend, tol float64) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, metric := range []Metric{L2, InnerProduct} {
		for _, sh := range []struct{ dim, levels, fanout, nq, n int }{{8, 2, 6, 50, 5}, {128, 3, 16, 300, 64}, {100, 4, 8, 40, 20}, {3, 1, 3, 10, 8}} {
			tr := randTree(rng, sh.dim, sh.levels, sh.fanout, metric)
			ti, err := b.LoadTree(tr)
			if err != nil {
				t.Fatal(err)
			}
			q := randRows(rng, sh.nq, sh.dim, 0)
			leaves := make([]int32, sh.nq*sh.n)
			dists := make([]float32, sh.nq*sh.n)
			// A beam wider than any level: the search is exhaustive, so its
			// answer is the brute-force top n.
			if err := ti.Search(q, sh.n, min(len(tr.LeafID), maxWidth), leaves, dists); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < sh.nq; i++ {
				ref := bruteLeaves(tr, q[i*sh.dim:(i+1)*sh.dim])
				var all []float64
				for _, d := range ref {
					all = append(all, d)
				}
				slices.Sort(all)
				have := min(sh.n, len(all))
				seen := map[int32]bool{}
				for r := 0; r < sh.n; r++ {
					l, d := leaves[i*sh.n+r], dists[i*sh.n+r]
					if r >= have {
						if l != -1 {
							t.Fatalf("%v dim %d query %d slot %d: leaf %d past the %d leaves", metric, sh.dim, i, r, l, len(all))
						}
						continue
					}
					want, ok := ref[l]
					if !ok || seen[l] {
						t.Fatalf("%v dim %d query %d slot %d: leaf %d unknown or repeated", metric, sh.dim, i, r, l)
					}
					seen[l] = true
					if math.Abs(float64(d)-want) > 1e-4*(1+math.Abs(want)) {
						t.Fatalf("%v dim %d query %d: leaf %d distance %v, want %v", metric, sh.dim, i, l, d, want)
					}
					if want > all[have-1]+1e-4*(1+math.Abs(all[have-1])) {
						t.Fatalf("%v dim %d query %d: leaf %d at %v beyond the n-th nearest %v", metric, sh.dim, i, l, want, all[have-1])
					}
				}
			}
			if err := ti.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// testBackend runs the whole suite.
func testBackend(t *testing.T, b Backend, tol float64) {
	t.Run("Distances", func(t *testing.T) { testDistances(t, b, tol) })
	t.Run("TopK", func(t *testing.T) { testTopK(t, b, tol) })
	t.Run("TopKDuplicates", func(t *testing.T) { testTopKDuplicates(t, b) })
	t.Run("AssignSums", func(t *testing.T) { testAssign(t, b, tol) })
	t.Run("TreeSearch", func(t *testing.T) { testTreeSearch(t, b, tol) })
}
