package synth

import "slices"

// Neighbor is one candidate of a top-k: a row and its distance.
type Neighbor struct {
	Dist float32
	ID   int32
}

// worse orders neighbours: farther, or as far with a higher id.
func (a Neighbor) worse(b Neighbor) bool {
	return a.Dist > b.Dist || (a.Dist == b.Dist && a.ID > b.ID)
}

// TopK keeps the k best neighbours pushed so far: a max-heap on worse,
// so the root is the first to go. Not safe for concurrent use.
type TopK struct {
	k int
	h []Neighbor
}

// NewTopK returns an empty TopK of k neighbours.
func NewTopK(k int) TopK { return TopK{k: k, h: make([]Neighbor, 0, k)} }

// Push offers a neighbour; it stays if it is among the k best so far.
func (t *TopK) Push(dist float32, id int32) {
	c := Neighbor{dist, id}
	if len(t.h) < t.k {
		t.h = append(t.h, c)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if !t.h[i].worse(t.h[p]) {
				break
			}
			t.h[i], t.h[p] = t.h[p], t.h[i]
			i = p
		}
		return
	}
	if !t.h[0].worse(c) {
		return
	}
	t.h[0] = c
	for i := 0; ; {
		w, l, r := i, 2*i+1, 2*i+2
		if l < len(t.h) && t.h[l].worse(t.h[w]) {
			w = l
		}
		if r < len(t.h) && t.h[r].worse(t.h[w]) {
			w = r
		}
		if w == i {
			return
		}
		t.h[i], t.h[w] = t.h[w], t.h[i]
		i = w
	}
}

// Sorted returns the kept neighbours, best first.
func (t *TopK) Sorted() []Neighbor {
	s := slices.Clone(t.h)
	slices.SortFunc(s, func(a, b Neighbor) int {
		switch {
		case a.worse(b):
			return 1
		case b.worse(a):
			return -1
		}
		return 0
	})
	return s
}
