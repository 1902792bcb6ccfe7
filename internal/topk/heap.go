package topk

// Heap keeps the k smallest Items pushed (Item.Less order) in a max-heap
// whose root is the worst item kept, the first to go. The zero Heap keeps
// nothing until Reset gives it a k. Its storage is reused across Resets,
// so a Heap kept in a per-goroutine workspace does not allocate once it
// has grown to k. A Heap is not safe for concurrent use.
type Heap[D Dist, I ID] struct {
	items []Item[D, I]
	k     int
}

// Reset empties the heap and sets the number of items it keeps to k
// (k <= 0 keeps none).
func (h *Heap[D, I]) Reset(k int) {
	h.items = h.items[:0]
	h.k = k
}

// K returns the number of items the heap keeps, as set by Reset.
func (h *Heap[D, I]) K() int { return h.k }

// Len returns the number of items kept so far, at most K.
func (h *Heap[D, I]) Len() int { return len(h.items) }

// Items returns the items kept, in heap order (not sorted). The slice
// aliases the heap and is valid until the next Push, Drain or Reset; the
// caller must not modify it.
func (h *Heap[D, I]) Items() []Item[D, I] { return h.items }

// Admits reports whether an item at distance d could still be kept: the
// heap is not full, or d is no farther than the worst item kept. Callers
// whose candidates cost something to push (a lookup, a dedupe scan) check
// it first; Push does not need it.
func (h *Heap[D, I]) Admits(d D) bool {
	n := len(h.items)
	return n < h.k || (n > 0 && d <= h.items[0].Dist)
}

// Push offers the item (d, id): it is kept if the heap is not full or it
// ranks before the worst item kept, which it then replaces. Push does not
// look for id among the items kept: an item pushed twice may be kept
// twice (see PushUnique).
//
// Push is too large to inline, Admits is not: a loop pushing many items
// that mostly miss (any scan once the heap has filled) runs faster as
// "if h.Admits(d) { h.Push(d, id) }" (BenchmarkPushAdmits).
func (h *Heap[D, I]) Push(d D, id I) {
	it := Item[D, I]{d, id}
	n := len(h.items)
	if n < h.k {
		h.items = append(h.items, it)
		h.up(n)
	} else if n > 0 && it.Less(h.items[0]) {
		h.down(it, n)
	}
}

// PushUnique is Push for streams that may repeat an ID, always at the
// same distance (replicas of one vector): it keeps each ID once. The scan
// for id costs O(K), so it runs only for items that Admits lets through,
// few once the heap has filled.
func (h *Heap[D, I]) PushUnique(d D, id I) {
	if !h.Admits(d) {
		return
	}
	for _, it := range h.items {
		if it.ID == id {
			return
		}
	}
	h.Push(d, id)
}

// up moves the item at i toward the root until its parent ranks after it.
func (h *Heap[D, I]) up(i int) {
	s := h.items
	it := s[i]
	for i > 0 {
		p := (i - 1) / 2
		if !s[p].Less(it) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = it
}

// down puts it at the root of s[:n], replacing what was there, and sifts
// it down: the children that rank after it move up into the hole.
func (h *Heap[D, I]) down(it Item[D, I], n int) {
	s := h.items[:n]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && s[c].Less(s[r]) {
			c = r
		}
		if !it.Less(s[c]) {
			break
		}
		s[i] = s[c]
		i = c
	}
	s[i] = it
}

// Drain empties the heap and returns the items it kept, nearest first
// (Item.Less order). The slice aliases the heap's storage: it is valid
// until the next Push or Reset.
func (h *Heap[D, I]) Drain() []Item[D, I] {
	s := h.items
	for n := len(s) - 1; n > 0; n-- {
		last := s[n]
		s[n] = s[0] // the worst left goes to the end
		h.down(last, n)
	}
	h.items = s[:0]
	return s
}
