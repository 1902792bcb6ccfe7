package tenant

import "slices"

// Scratch is per-search memory for Rank, pooled by the caller so that
// searches do not allocate in steady state.
type Scratch struct {
	dists []float32
	order []int
}

// Rank appends to dst the shortlists tenant t's search reads for query q
// (Curator §4.3, flat over the tenant's frontier): its shortlists ranked
// by the distance from q to their centroids, nearest first, until they
// hold want rows. It returns dst and the number of shortlists t has
// (0: none, nothing to read).
func (c *Curator) Rank(t ID, q []float32, want int, s *Scratch, dst []uint32) ([]uint32, int) {
	sl := c.part(t)
	if sl == nil {
		return dst, 0
	}
	dim := c.cfg.Dim
	n := len(sl.ids)
	if cap(s.dists) < n {
		s.dists = make([]float32, n)
	}
	d := s.dists[:n]
	for j := range d {
		if sl.cents == nil {
			d[j] = 0 // a lone shortlist
			continue
		}
		d[j] = c.routeTo(q, sl.cents[j*dim:(j+1)*dim])
	}
	s.order = s.order[:0]
	for j := range n {
		s.order = append(s.order, j)
	}
	slices.SortFunc(s.order, func(a, b int) int {
		switch {
		case d[a] < d[b]:
			return -1
		case d[a] > d[b]:
			return 1
		}
		return 0
	})
	rows := 0
	for _, j := range s.order {
		if rows >= want {
			break
		}
		dst = append(dst, sl.ids[j])
		rows += int(sl.rows[j])
	}
	return dst, n
}
