package topk

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPushUniqueMatchesSort: with every ID pushed several times at its one
// distance, the heap keeps the k smallest distinct items.
func TestPushUniqueMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var h Heap[float32, uint64]
	for _, k := range testKs {
		for _, n := range testNs {
			dist := make([]float32, n) // dist[id], with ties
			for id := range dist {
				dist[id] = float32(rng.IntN(max(1, n/4)))
			}
			var pushed, distinct []Item[float32, uint64]
			for id, d := range dist {
				distinct = append(distinct, Item[float32, uint64]{d, uint64(id)})
				for range 1 + rng.IntN(3) {
					pushed = append(pushed, Item[float32, uint64]{d, uint64(id)})
				}
			}
			rng.Shuffle(len(pushed), func(i, j int) { pushed[i], pushed[j] = pushed[j], pushed[i] })
			h.Reset(k)
			for _, it := range pushed {
				h.PushUnique(it.Dist, it.ID)
			}
			if got, want := h.Drain(), reference(distinct, k); !slices.Equal(got, want) {
				t.Fatalf("k=%d n=%d: PushUnique kept %v, want the k smallest distinct %v", k, n, got, want)
			}
		}
	}
}

// Result is index.Result's shape: what a search returns.
type Result struct {
	ID       uint64
	Distance float32
}

// results is index's topK built on a Heap: the k results of smallest
// distance, each id once, ties broken by the smaller id. Its scoring loop
// checks admits before the version lookup that decides whether a copy is
// current, then pushes.
type results struct{ h Heap[float32, uint64] }

func (r *results) reset(k int)               { r.h.Reset(k) }
func (r *results) admits(dist float32) bool  { return r.h.Admits(dist) }
func (r *results) push(id uint64, d float32) { r.h.PushUnique(d, id) }
func (r *results) sorted(dst []Result) []Result {
	for _, it := range r.h.Drain() {
		dst = append(dst, Result{ID: it.ID, Distance: it.Dist})
	}
	return dst
}

// Example_index shows index's topK on a Heap: replicas of vector 7 in
// two postings come back once.
func Example_index() {
	var top results
	top.reset(3)
	postings := [][]Result{
		{{7, 0.2}, {3, 0.9}, {5, 0.4}},
		{{7, 0.2}, {4, 0.4}, {8, 0.1}},
	}
	for _, p := range postings {
		for _, r := range p {
			if top.admits(r.Distance) { // && the copy is current
				top.push(r.ID, r.Distance)
			}
		}
	}
	fmt.Println(top.sorted(nil))
	// Output:
	// [{8 0.1} {7 0.2} {4 0.4}]
}
