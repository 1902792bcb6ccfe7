package tenant

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

// Shortlists (Curator §4, on disk). A tenant's shortlists hold one row
// (id, value version, vector) for every vector the tenant may read, each
// in one posting of the store, so that a shortlist is one contiguous,
// direct-I/O read. They are cut along the shared clustering tree: the
// rows below a node form one shortlist when they are at most max_sl_size
// (Config.MaxSLSize), otherwise the node's children are cut in turn, so
// a tenant's shortlists are the frontier of its own sub-tree of the
// shared tree (rows pooled only when a child holds very few). Each keeps
// the mean of its rows as its routing centroid: the only per-tenant
// memory.
//
// New rows go to the shortlist with the nearest centroid; one that grows
// past max_sl_size is split in two by balanced 2-means (Curator's split).
// A write adding more than max_sl_size rows to a tenant re-cuts all of
// its shortlists. Stale rows (superseded, deleted or revoked) stay until
// their shortlist is next rewritten; searches skip them.

// shortlists are one tenant's shortlists. Published values are never
// changed.
type shortlists struct {
	ids  []uint32 // posting ids
	rows []int32  // rows stored in each, stale ones included
	// cents holds the routing centroid of each, Dim float16 values (half
	// the memory; routing needs no more); nil when there is one
	// shortlist, which every search reads (most tenants of a many-tenant
	// collection: their memory is then a few words).
	cents []uint16
}

// clone returns a copy of s to change, with centroids (zero where s
// kept none).
func (s *shortlists) clone(dim int) *shortlists {
	c := &shortlists{ids: slices.Clone(s.ids), rows: slices.Clone(s.rows), cents: slices.Clone(s.cents)}
	if c.cents == nil {
		c.cents = make([]uint16, len(s.ids)*dim)
	}
	return c
}

// trim drops the centroid of a lone shortlist; s is about to be
// published.
func (s *shortlists) trim() *shortlists {
	if len(s.ids) == 1 {
		s.cents = nil
	}
	return s
}

// poolBelow is the size under which the rows below a child node are
// pooled with their siblings' rather than given a shortlist of their own.
const poolBelow = 8

// rows returns an empty posting of the index's shape, to assemble rows in.
func (c *Curator) rows() *posting.Posting {
	return &posting.Posting{Elem: c.cfg.Elem, Dim: c.cfg.Dim}
}

// routeTo returns the routing distance from x to the float16 centroid cent,
// as the tree routes (squared L2, or −dot for InnerProduct).
func (c *Curator) routeTo(x []float32, cent []uint16) float32 {
	if c.cfg.Metric == vec.InnerProduct {
		return -vec.DotF16(x, cent)
	}
	return vec.L2SquaredF16(x, cent)
}

// nearestShortlist returns the index in s of the shortlist whose centroid
// is nearest x.
func (c *Curator) nearestShortlist(s *shortlists, x []float32) int {
	dim := c.cfg.Dim
	best, bd := 0, float32(math.Inf(1))
	if s.cents == nil {
		return 0
	}
	for j := range s.ids {
		if d := c.routeTo(x, s.cents[j*dim:(j+1)*dim]); d < bd {
			best, bd = j, d
		}
	}
	return best
}

// readShortlists appends the current rows of tenant t's shortlists ids to
// ms[i].
func (c *Curator) readShortlists(t ID, ids []uint32, ms []*posting.Posting) error {
	view, err := c.lists.View(t)
	if err != nil {
		return err
	}
	var dec posting.Posting
	return c.store.ReadBatch(ids, func(i int, b []byte) error {
		if err := posting.Decode(b, &dec); err != nil {
			return fmt.Errorf("%w: shortlist %d of tenant %d: %v", errs.Corrupt, ids[i], t, err)
		}
		if dec.Quantized() {
			return fmt.Errorf("%w: shortlist %d of tenant %d holds codes, not rows", errs.Corrupt, ids[i], t)
		}
		for r, id := range dec.IDs {
			if c.RowCurrent(view, id, dec.Versions[r]) {
				ms[i].Add(id, dec.Versions[r], dec.Row(r))
			}
		}
		return nil
	})
}

// newRows returns n empty postings of the index's shape.
func (c *Curator) newRows(n int) []*posting.Posting {
	ms := make([]*posting.Posting, n)
	for i := range ms {
		ms[i] = c.rows()
	}
	return ms
}

// stageShortlists stages in b the addition of rows add (ids at their new
// value versions) to tenant t's shortlists and returns the tenant's
// shortlists as they are once b commits. The caller holds the writer
// lock.
func (c *Curator) stageShortlists(b Batch, t ID, add *posting.Posting) (*shortlists, error) {
	cur := c.part(t)
	if cur == nil || add.Len() > c.cfg.MaxSLSize {
		return c.recut(b, t, cur, add)
	}
	dim := c.cfg.Dim
	x := make([]float32, dim)
	groups := make(map[int][]int)
	for i := range add.IDs {
		vec.ToFloat32(c.cfg.Elem, add.Row(i), x)
		j := c.nearestShortlist(cur, x)
		groups[j] = append(groups[j], i)
	}
	touched := make([]int, 0, len(groups))
	for j := range groups {
		touched = append(touched, j)
	}
	slices.Sort(touched)
	ids := make([]uint32, len(touched))
	for k, j := range touched {
		ids[k] = cur.ids[j]
	}
	ms := c.newRows(len(touched))
	if err := c.readShortlists(t, ids, ms); err != nil {
		return nil, err
	}
	next := cur.clone(dim)
	for k, j := range touched {
		m := ms[k]
		for _, i := range groups[j] {
			m.Add(add.IDs[i], add.Versions[i], add.Row(i))
		}
		if m.Len() <= c.cfg.MaxSLSize {
			if err := c.putShortlist(b, t, next, j, m); err != nil {
				return nil, err
			}
			continue
		}
		// Curator's split: two halves by balanced 2-means; the first keeps
		// the posting id.
		halves := c.halve(m)
		if err := c.putShortlist(b, t, next, j, halves[0]); err != nil {
			return nil, err
		}
		next.ids = append(next.ids, c.host.AllocPosting())
		next.rows = append(next.rows, 0)
		next.cents = append(next.cents, make([]uint16, dim)...)
		if err := c.putShortlist(b, t, next, len(next.ids)-1, halves[1]); err != nil {
			return nil, err
		}
	}
	return next.trim(), nil
}

// putShortlist stages shortlist j of s with m's rows (never empty here)
// and sets its row count and centroid in s.
func (c *Curator) putShortlist(b Batch, t ID, s *shortlists, j int, m *posting.Posting) error {
	dim := c.cfg.Dim
	cent := make([]float32, dim)
	c.centroidOf(m, cent)
	vec.F32ToF16(s.cents[j*dim:(j+1)*dim], cent)
	s.rows[j] = int32(m.Len())
	if err := b.PutPosting(s.ids[j], posting.Encode(nil, m)); err != nil {
		return err
	}
	v := make([]byte, 4, 4+4*dim)
	binary.LittleEndian.PutUint32(v, uint32(m.Len()))
	for _, f := range cent {
		v = binary.LittleEndian.AppendUint32(v, math.Float32bits(f))
	}
	b.Set(keys.U32U32(keys.Shortlist, uint32(t), s.ids[j]), v)
	return nil
}

// centroidOf writes the mean of m's rows to cent.
func (c *Curator) centroidOf(m *posting.Posting, cent []float32) {
	dim := c.cfg.Dim
	sum := make([]float64, dim)
	x := make([]float32, dim)
	for i := 0; i < m.Len(); i++ {
		vec.ToFloat32(c.cfg.Elem, m.Row(i), x)
		for d, v := range x {
			sum[d] += float64(v)
		}
	}
	for d := range cent {
		cent[d] = float32(sum[d] / float64(max(1, m.Len())))
	}
}

// halve splits m in two by balanced 2-means.
func (c *Curator) halve(m *posting.Posting) [2]*posting.Posting {
	dim := c.cfg.Dim
	x := make([]float32, m.Len()*dim)
	for i := 0; i < m.Len(); i++ {
		vec.ToFloat32(c.cfg.Elem, m.Row(i), x[i*dim:(i+1)*dim])
	}
	_, _, labels := cluster.TwoMeans(x, dim, c.cfg.Seed^uint64(m.Len())<<32^m.IDs[0])
	out := [2]*posting.Posting{c.rows(), c.rows()}
	for i, l := range labels {
		out[l].Add(m.IDs[i], m.Versions[i], m.Row(i))
	}
	return out
}

// recut stages tenant t's shortlists cut afresh from their current rows
// and add's, reusing their posting ids.
func (c *Curator) recut(b Batch, t ID, cur *shortlists, add *posting.Posting) (*shortlists, error) {
	all := c.rows()
	var old []uint32
	if cur != nil {
		old = cur.ids
		ms := c.newRows(len(old))
		if err := c.readShortlists(t, old, ms); err != nil {
			return nil, err
		}
		for _, m := range ms {
			for r := range m.IDs {
				all.Add(m.IDs[r], m.Versions[r], m.Row(r))
			}
		}
	}
	for i := range add.IDs {
		all.Add(add.IDs[i], add.Versions[i], add.Row(i))
	}
	parts := c.cutRows(all)
	next := &shortlists{}
	for j, m := range parts {
		var p uint32
		if j < len(old) {
			p = old[j]
		} else {
			p = c.host.AllocPosting()
		}
		next.ids = append(next.ids, p)
		next.rows = append(next.rows, 0)
		next.cents = append(next.cents, make([]uint16, c.cfg.Dim)...)
		if err := c.putShortlist(b, t, next, j, m); err != nil {
			return nil, err
		}
	}
	for _, p := range old[min(len(old), len(parts)):] {
		b.DeletePosting(p)
		b.Delete(keys.U32U32(keys.Shortlist, uint32(t), p))
	}
	return next.trim(), nil
}

// cutRows cuts m into shortlists along the shared tree (Curator): the
// rows below a node are one shortlist when there are at most max_sl_size
// of them, else the node's children are cut, those holding fewer than
// poolBelow rows pooled together; rows of one head beyond max_sl_size are
// halved by 2-means. The caller holds the writer lock (the tree does not
// change).
func (c *Curator) cutRows(m *posting.Posting) []*posting.Posting {
	tau := c.cfg.MaxSLSize
	if m.Len() <= tau {
		return []*posting.Posting{m}
	}
	t := c.host.Tree()
	node := make([]int32, m.Len())
	x := make([]float32, c.cfg.Dim)
	var ws cluster.Workspace
	for i := range node {
		vec.ToFloat32(c.cfg.Elem, m.Row(i), x)
		if c.cfg.Metric == vec.Cosine {
			vec.Normalize(x)
		}
		h := t.Search(x, 1, 4, &ws)
		node[i] = t.LeafNode[h[0].Leaf]
	}
	var out []*posting.Posting
	emit := func(rows []int) {
		g := c.rows()
		for _, i := range rows {
			g.Add(m.IDs[i], m.Versions[i], m.Row(i))
		}
		out = append(out, c.splitToFit(g)...)
	}
	var cut func(nd int32, rows []int)
	cut = func(nd int32, rows []int) {
		if len(rows) <= tau || t.ChildCount[nd] == 0 {
			emit(rows)
			return
		}
		byChild := make(map[int32][]int)
		for _, i := range rows {
			ch := node[i]
			for t.Parent[ch] != nd {
				ch = t.Parent[ch]
			}
			byChild[ch] = append(byChild[ch], i)
		}
		var pool []int
		start, cnt := t.ChildStart[nd], t.ChildCount[nd]
		for ch := start; ch < start+cnt; ch++ {
			g := byChild[ch]
			switch {
			case len(g) == 0:
			case len(g) < poolBelow:
				if len(pool)+len(g) > tau {
					emit(pool)
					pool = nil
				}
				pool = append(pool, g...)
			default:
				cut(ch, g)
			}
		}
		if len(pool) > 0 {
			emit(pool)
		}
	}
	all := make([]int, m.Len())
	for i := range all {
		all[i] = i
	}
	cut(0, all)
	return out
}

// splitToFit halves m by 2-means until every part holds at most
// max_sl_size rows.
func (c *Curator) splitToFit(m *posting.Posting) []*posting.Posting {
	if m.Len() <= c.cfg.MaxSLSize {
		return []*posting.Posting{m}
	}
	h := c.halve(m)
	return append(c.splitToFit(h[0]), c.splitToFit(h[1])...)
}
