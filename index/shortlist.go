package index

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/tenant"
)

// Shortlists (Curator §4, on disk). A tenant's shortlists hold one row
// (id, value version, vector) for every vector the tenant may read, each
// in one posting of the store, so that a shortlist is one contiguous,
// direct-I/O read. They are cut along the shared clustering tree: the
// rows below a node form one shortlist when they are at most max_sl_size
// (Options.MaxSLSize), otherwise the node's children are cut in turn, so
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

// routeTo returns the routing distance from x to the float16 centroid c,
// as the tree routes (squared L2, or −dot for InnerProduct).
func (ix *Index) routeTo(x []float32, c []uint16) float32 {
	if ix.man.Metric == InnerProduct {
		return -vec.DotF16(x, c)
	}
	return vec.L2SquaredF16(x, c)
}

// nearestShortlist returns the index in s of the shortlist whose centroid
// is nearest x.
func (ix *Index) nearestShortlist(s *shortlists, x []float32) int {
	dim := ix.man.Dim
	best, bd := 0, float32(math.Inf(1))
	if s.cents == nil {
		return 0
	}
	for j := range s.ids {
		if d := ix.routeTo(x, s.cents[j*dim:(j+1)*dim]); d < bd {
			best, bd = j, d
		}
	}
	return best
}

// rowCurrent reports whether a shortlist row (id at value version vv) of
// the tenant whose access list is view is current.
func (ix *Index) rowCurrent(view *roaring64.Bitmap, id uint64, vv uint8) bool {
	return ix.vers.get(id)&stateLive != 0 && ix.ten.vv.get(id) == vv && view.Contains(id)
}

// readShortlists appends the current rows of tenant t's shortlists ids to
// ms[i].
func (ix *Index) readShortlists(t tenant.ID, ids []uint32, ms []members) error {
	view, err := ix.ten.lists.View(t)
	if err != nil {
		return err
	}
	var dec posting.Posting
	return ix.store.ReadBatch(ids, func(i int, b []byte) error {
		if err := posting.Decode(b, &dec); err != nil {
			return fmt.Errorf("%w: shortlist %d of tenant %d: %v", ErrCorrupt, ids[i], t, err)
		}
		for r, id := range dec.IDs {
			if ix.rowCurrent(view, id, dec.Versions[r]) {
				ms[i].add(id, dec.Versions[r], dec.Row(r))
			}
		}
		return nil
	})
}

// stageShortlists stages in b the addition of rows add (ids at their new
// value versions) to tenant t's shortlists and returns the tenant's
// shortlists as they are once b commits. The caller holds wmu.
func (ix *Index) stageShortlists(b *pebblestore.Batch, t tenant.ID, add *members) (*shortlists, error) {
	cur := ix.ten.part(t)
	if cur == nil || add.len() > ix.opts.MaxSLSize {
		return ix.recut(b, t, cur, add)
	}
	dim, rb := ix.man.Dim, ix.rowBytes
	x := make([]float32, dim)
	groups := make(map[int][]int)
	for i := range add.ids {
		toFloat32(ix.man.Elem, add.vecs[i*rb:(i+1)*rb], x)
		j := ix.nearestShortlist(cur, x)
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
	ms := make([]members, len(touched))
	if err := ix.readShortlists(t, ids, ms); err != nil {
		return nil, err
	}
	next := cur.clone(dim)
	for k, j := range touched {
		m := &ms[k]
		for _, i := range groups[j] {
			m.add(add.ids[i], add.vers[i], add.vecs[i*rb:(i+1)*rb])
		}
		if m.len() <= ix.opts.MaxSLSize {
			if err := ix.putShortlist(b, t, next, j, m); err != nil {
				return nil, err
			}
			continue
		}
		// Curator's split: two halves by balanced 2-means; the first keeps
		// the posting id.
		halves := ix.halve(m)
		if err := ix.putShortlist(b, t, next, j, &halves[0]); err != nil {
			return nil, err
		}
		next.ids = append(next.ids, ix.allocPosting())
		next.rows = append(next.rows, 0)
		next.cents = append(next.cents, make([]uint16, dim)...)
		if err := ix.putShortlist(b, t, next, len(next.ids)-1, &halves[1]); err != nil {
			return nil, err
		}
	}
	return next.trim(), nil
}

// putShortlist stages shortlist j of s with m's rows (never empty here)
// and sets its row count and centroid in s.
func (ix *Index) putShortlist(b *pebblestore.Batch, t tenant.ID, s *shortlists, j int, m *members) error {
	dim := ix.man.Dim
	c := make([]float32, dim)
	ix.centroidOf(m, c)
	vec.F32ToF16(s.cents[j*dim:(j+1)*dim], c)
	s.rows[j] = int32(m.len())
	if err := ix.putPosting(b, s.ids[j], m); err != nil {
		return err
	}
	v := make([]byte, 4, 4+4*dim)
	binary.LittleEndian.PutUint32(v, uint32(m.len()))
	for _, f := range c {
		v = binary.LittleEndian.AppendUint32(v, math.Float32bits(f))
	}
	b.Set(shortlistKey(t, s.ids[j]), v)
	return nil
}

// centroidOf writes the mean of m's rows to c.
func (ix *Index) centroidOf(m *members, c []float32) {
	dim, rb := ix.man.Dim, ix.rowBytes
	sum := make([]float64, dim)
	x := make([]float32, dim)
	for i := 0; i < m.len(); i++ {
		toFloat32(ix.man.Elem, m.vecs[i*rb:(i+1)*rb], x)
		for d, v := range x {
			sum[d] += float64(v)
		}
	}
	for d := range c {
		c[d] = float32(sum[d] / float64(max(1, m.len())))
	}
}

// halve splits m in two by balanced 2-means.
func (ix *Index) halve(m *members) [2]members {
	dim, rb := ix.man.Dim, ix.rowBytes
	x := make([]float32, m.len()*dim)
	for i := 0; i < m.len(); i++ {
		toFloat32(ix.man.Elem, m.vecs[i*rb:(i+1)*rb], x[i*dim:(i+1)*dim])
	}
	_, _, labels := cluster.TwoMeans(x, dim, ix.man.Seed^uint64(m.len())<<32^m.ids[0])
	var out [2]members
	for i, l := range labels {
		out[l].add(m.ids[i], m.vers[i], m.vecs[i*rb:(i+1)*rb])
	}
	return out
}

// recut stages tenant t's shortlists cut afresh from their current rows
// and add's, reusing their posting ids.
func (ix *Index) recut(b *pebblestore.Batch, t tenant.ID, cur *shortlists, add *members) (*shortlists, error) {
	all := &members{}
	var old []uint32
	if cur != nil {
		old = cur.ids
		ms := make([]members, len(old))
		if err := ix.readShortlists(t, old, ms); err != nil {
			return nil, err
		}
		for i := range ms {
			for r := range ms[i].ids {
				all.add(ms[i].ids[r], ms[i].vers[r], ms[i].vecs[r*ix.rowBytes:(r+1)*ix.rowBytes])
			}
		}
	}
	rb := ix.rowBytes
	for i := range add.ids {
		all.add(add.ids[i], add.vers[i], add.vecs[i*rb:(i+1)*rb])
	}
	parts := ix.cutRows(all)
	next := &shortlists{}
	for j, m := range parts {
		var p uint32
		if j < len(old) {
			p = old[j]
		} else {
			p = ix.allocPosting()
		}
		next.ids = append(next.ids, p)
		next.rows = append(next.rows, 0)
		next.cents = append(next.cents, make([]uint16, ix.man.Dim)...)
		if err := ix.putShortlist(b, t, next, j, m); err != nil {
			return nil, err
		}
	}
	for _, p := range old[min(len(old), len(parts)):] {
		b.DeletePosting(p)
		b.Delete(shortlistKey(t, p))
	}
	return next.trim(), nil
}

// cutRows cuts m into shortlists along the shared tree (Curator): the
// rows below a node are one shortlist when there are at most max_sl_size
// of them, else the node's children are cut, those holding fewer than
// poolBelow rows pooled together; rows of one head beyond max_sl_size are
// halved by 2-means. The caller holds wmu (the tree does not change).
func (ix *Index) cutRows(m *members) []*members {
	tau := ix.opts.MaxSLSize
	if m.len() <= tau {
		return []*members{m}
	}
	dim, rb := ix.man.Dim, ix.rowBytes
	t := ix.tree
	node := make([]int32, m.len())
	x := make([]float32, dim)
	var ws cluster.Workspace
	for i := range node {
		toFloat32(ix.man.Elem, m.vecs[i*rb:(i+1)*rb], x)
		if ix.man.Metric == Cosine {
			vec.Normalize(x)
		}
		c := t.Search(x, 1, 4, &ws)
		node[i] = t.LeafNode[c[0].Leaf]
	}
	var out []*members
	emit := func(rows []int) {
		g := &members{}
		for _, i := range rows {
			g.add(m.ids[i], m.vers[i], m.vecs[i*rb:(i+1)*rb])
		}
		out = append(out, ix.splitToFit(g)...)
	}
	var cut func(nd int32, rows []int)
	cut = func(nd int32, rows []int) {
		if len(rows) <= tau || t.ChildCount[nd] == 0 {
			emit(rows)
			return
		}
		byChild := make(map[int32][]int)
		for _, i := range rows {
			c := node[i]
			for t.Parent[c] != nd {
				c = t.Parent[c]
			}
			byChild[c] = append(byChild[c], i)
		}
		var pool []int
		start, cnt := t.ChildStart[nd], t.ChildCount[nd]
		for c := start; c < start+cnt; c++ {
			g := byChild[c]
			switch {
			case len(g) == 0:
			case len(g) < poolBelow:
				if len(pool)+len(g) > tau {
					emit(pool)
					pool = nil
				}
				pool = append(pool, g...)
			default:
				cut(c, g)
			}
		}
		if len(pool) > 0 {
			emit(pool)
		}
	}
	all := make([]int, m.len())
	for i := range all {
		all[i] = i
	}
	cut(0, all)
	return out
}

// splitToFit halves m by 2-means until every part holds at most
// max_sl_size rows.
func (ix *Index) splitToFit(m *members) []*members {
	if m.len() <= ix.opts.MaxSLSize {
		return []*members{m}
	}
	h := ix.halve(m)
	return append(ix.splitToFit(&h[0]), ix.splitToFit(&h[1])...)
}
