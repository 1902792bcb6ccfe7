package topk

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// Awkward sizes, after RoaringBitmap/roaring's kernel tests: around the
// powers of two where a heap gains a level.
var (
	testKs = []int{0, 1, 2, 3, 7, 15, 16, 17, 64, 100, 1025}
	testNs = []int{0, 1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 100, 255, 256, 257, 1023, 1024, 1025}
)

// pattern makes n items to push, in push order.
type pattern struct {
	name string
	gen  func(rng *rand.Rand, n int) []Item[float32, uint32]
}

var patterns = []pattern{
	{"random", func(rng *rand.Rand, n int) []Item[float32, uint32] {
		return items(rng, n, func(int) float32 { return rng.Float32() })
	}},
	{"ties", func(rng *rand.Rand, n int) []Item[float32, uint32] {
		return items(rng, n, func(int) float32 { return float32(rng.IntN(4)) })
	}},
	{"equal", func(rng *rand.Rand, n int) []Item[float32, uint32] {
		return items(rng, n, func(int) float32 { return 1 })
	}},
	{"ascending", func(rng *rand.Rand, n int) []Item[float32, uint32] {
		return items(rng, n, func(i int) float32 { return float32(i) })
	}},
	{"descending", func(rng *rand.Rand, n int) []Item[float32, uint32] {
		return items(rng, n, func(i int) float32 { return float32(n - i) })
	}},
	{"duplicates", func(rng *rand.Rand, n int) []Item[float32, uint32] {
		// The same item pushed more than once is kept as often as pushed.
		s := make([]Item[float32, uint32], n)
		for i := range s {
			s[i] = Item[float32, uint32]{float32(rng.IntN(3)), uint32(rng.IntN(3))}
		}
		return s
	}},
}

// items returns n items with distances dist(i) and IDs 0..n-1 shuffled,
// so that ties are not broken by push order.
func items(rng *rand.Rand, n int, dist func(i int) float32) []Item[float32, uint32] {
	s := make([]Item[float32, uint32], n)
	for i, id := range rng.Perm(n) {
		s[i] = Item[float32, uint32]{dist(i), uint32(id)}
	}
	return s
}

// reference returns the k smallest of pushed by sorting: what a Heap must
// keep.
func reference[D Dist, I ID](pushed []Item[D, I], k int) []Item[D, I] {
	s := slices.Clone(pushed)
	slices.SortFunc(s, compare)
	return s[:max(0, min(k, len(s)))]
}

// compare orders items as the package promises, independently of
// Item.Less: by distance, then by ID.
func compare[D Dist, I ID](a, b Item[D, I]) int {
	if c := cmp.Compare(a.Dist, b.Dist); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func TestHeapMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Heap[float32, uint32] // reused throughout, as workspaces do
	for _, p := range patterns {
		t.Run(p.name, func(t *testing.T) {
			for _, k := range testKs {
				for _, n := range testNs {
					pushed := p.gen(rng, n)
					want := reference(pushed, k)
					h.Reset(k)
					for _, it := range pushed {
						h.Push(it.Dist, it.ID)
					}
					if h.Len() != len(want) {
						t.Fatalf("k=%d n=%d: Len() = %d after the pushes, want %d", k, n, h.Len(), len(want))
					}
					kept := reference(h.Items(), len(want))
					if !slices.Equal(kept, want) {
						t.Fatalf("k=%d n=%d: Items() hold %v, want the k smallest %v", k, n, kept, want)
					}
					if got := h.Drain(); !slices.Equal(got, want) {
						t.Fatalf("k=%d n=%d: Drain() = %v, want %v (nearest first, ties by smaller ID)", k, n, got, want)
					}
					if h.Len() != 0 {
						t.Fatalf("k=%d n=%d: Len() = %d after Drain, want 0", k, n, h.Len())
					}
				}
			}
		})
	}
}

// TestHeapOrderIndependent: a total order keeps the same items, and drains
// them in the same order, whatever order they were pushed in.
func TestHeapOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pushed := items(rng, 500, func(int) float32 { return float32(rng.IntN(5)) })
	var h Heap[float32, uint32]
	var first []Item[float32, uint32]
	for round := range 20 {
		rng.Shuffle(len(pushed), func(i, j int) { pushed[i], pushed[j] = pushed[j], pushed[i] })
		h.Reset(37)
		for _, it := range pushed {
			h.Push(it.Dist, it.ID)
		}
		got := slices.Clone(h.Drain())
		if first == nil {
			first = got
		} else if !slices.Equal(got, first) {
			t.Fatalf("round %d: a shuffled push order drained %v, first order drained %v", round, got, first)
		}
	}
}

// TestHeapAdmits: Admits is true exactly when the heap has room or d is
// no farther than the worst kept, and an item it rejects is never kept.
func TestHeapAdmits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var h Heap[float32, uint32]
	for _, k := range testKs {
		h.Reset(k)
		for i := range 2000 {
			d, id := float32(rng.IntN(50)), rng.Uint32()
			room := h.Len() < k
			want := room || (h.Len() > 0 && d <= slices.MaxFunc(h.Items(), compare[float32, uint32]).Dist)
			if got := h.Admits(d); got != want {
				t.Fatalf("k=%d push %d: Admits(%v) = %v, want %v (Len %d)", k, i, d, got, want, h.Len())
			}
			before := slices.Clone(h.Items())
			h.Push(d, id)
			if !want && !slices.Equal(h.Items(), before) {
				t.Fatalf("k=%d push %d: Push(%v, %v) changed the heap although Admits rejected it", k, i, d, id)
			}
		}
	}
}

func TestHeapZero(t *testing.T) {
	var h Heap[float32, uint32]
	if h.Admits(0) {
		t.Error("the zero Heap admits an item, want it to keep none")
	}
	h.Push(0, 1)
	if h.Len() != 0 || len(h.Drain()) != 0 {
		t.Errorf("the zero Heap kept %d items, want none", h.Len())
	}
	h.Reset(-3)
	h.Push(0, 1)
	if h.Len() != 0 || h.K() != -3 {
		t.Errorf("Reset(-3): Len() = %d, K() = %d; want 0 kept and K -3", h.Len(), h.K())
	}
}

// TestHeapOtherTypes instantiates the other shapes the codebase uses: int
// distances (pickFolds' tail lengths, negated to keep the largest) and
// signed int32 IDs.
func TestHeapOtherTypes(t *testing.T) {
	var h Heap[int, int32]
	h.Reset(3)
	for _, it := range []Item[int, int32]{{-5, 9}, {-7, 2}, {-7, 1}, {0, -1}, {-5, -4}, {-9, 3}} {
		h.Push(it.Dist, it.ID)
	}
	want := []Item[int, int32]{{-9, 3}, {-7, 1}, {-7, 2}}
	if got := h.Drain(); !slices.Equal(got, want) {
		t.Fatalf("Heap[int, int32] drained %v, want %v", got, want)
	}
}

// TestPushDoesNotAllocate: once a Heap has grown to k, refilling it after
// Reset and pushing into it full do not allocate.
func TestPushDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pushed := items(rng, 4096, func(int) float32 { return rng.Float32() })
	for _, k := range []int{1, 16, 1000} {
		var h Heap[float32, uint32]
		h.Reset(k)
		for _, it := range pushed[:k] {
			h.Push(it.Dist, it.ID)
		}
		allocs := testing.AllocsPerRun(10, func() {
			h.Reset(k)
			for _, it := range pushed {
				h.Push(it.Dist, it.ID)
			}
			h.Drain()
		})
		if allocs != 0 {
			t.Errorf("k=%d: Reset, %d pushes and Drain allocate %v times, want 0", k, len(pushed), allocs)
		}
	}
}

func ExampleHeap() {
	var h Heap[float32, uint32]
	h.Reset(3)
	for id, d := range []float32{0.9, 0.1, 0.5, 0.1, 0.7, 0.3} {
		h.Push(d, uint32(id))
	}
	for _, it := range h.Drain() {
		fmt.Println(it.ID, it.Dist)
	}
	// Output:
	// 1 0.1
	// 3 0.1
	// 5 0.3
}
