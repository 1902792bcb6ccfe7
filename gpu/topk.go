package gpu

// pair is a candidate: a distance and an id.
type pair struct {
	dist float32
	id   int32
}

// less orders pairs by distance, then id compared unsigned (so that the
// -1 of an empty slot sorts last), as the CUDA kernels do.
func (a pair) less(b pair) bool {
	return a.dist < b.dist || (a.dist == b.dist && uint32(a.id) < uint32(b.id))
}

// bounded keeps the limit smallest pairs pushed: a max-heap with the
// largest kept pair on top. It is not safe for concurrent use.
type bounded struct {
	items []pair
	limit int
}

func (h *bounded) reset(limit int) {
	h.items = h.items[:0]
	h.limit = limit
}

// admits reports whether a pair at distance d could still be kept.
func (h *bounded) admits(d float32) bool {
	return len(h.items) < h.limit || d <= h.items[0].dist
}

func (h *bounded) push(p pair) {
	if len(h.items) < h.limit {
		h.items = append(h.items, p)
		for i := len(h.items) - 1; i > 0; {
			parent := (i - 1) / 2
			if !h.items[parent].less(h.items[i]) {
				break
			}
			h.items[parent], h.items[i] = h.items[i], h.items[parent]
			i = parent
		}
		return
	}
	if h.limit == 0 || !p.less(h.items[0]) {
		return
	}
	h.items[0] = p
	h.down(0)
}

func (h *bounded) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		big := l
		if r := l + 1; r < n && h.items[l].less(h.items[r]) {
			big = r
		}
		if !h.items[i].less(h.items[big]) {
			return
		}
		h.items[i], h.items[big] = h.items[big], h.items[i]
		i = big
	}
}

// drain empties the heap into ids and dists, nearest first, padding with
// -1/+Inf up to len(ids).
func (h *bounded) drain(ids []int32, dists []float32) {
	n := len(h.items)
	for i := n - 1; i >= 0; i-- {
		ids[i], dists[i] = h.items[0].id, h.items[0].dist
		last := len(h.items) - 1
		h.items[0] = h.items[last]
		h.items = h.items[:last]
		h.down(0)
	}
	for i := n; i < len(ids); i++ {
		ids[i], dists[i] = -1, inf
	}
}
