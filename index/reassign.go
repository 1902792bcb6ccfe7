package index

import (
	"fmt"

	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

// reassignAfterSplit is SPFresh's reassign step (LIRE, §4.3): a split moves
// heads, so some vectors may now sit closer to another posting than to the
// ones holding them. Two kinds are checked:
//
//   - members of the split posting that are farther from their new head
//     than from the old one (a third head may be nearest now);
//   - copies in the ReassignNeighbors postings nearest the old head that
//     are closer to one of the new heads than to their own and than to
//     the old head.
//
// A member for which neither half is among the heads an insert would
// choose from now (the Candidates nearest), and every neighbour copy
// found, is re-inserted: fresh copies at a new version in the postings the RNG rule
// picks now, so all its old copies become stale. It runs after the split
// committed and without the writer lock while it reads; the re-inserts
// commit in one batch, skipping vectors that changed meanwhile.
func (ix *Index) reassignAfterSplit(p, q uint32, old, c1, c2 []float32, parts *[2]posting.Posting) error {
	dim, rb := ix.man.Dim, ix.rowBytes
	heads := [2][]float32{c1, c2}
	var cand posting.Posting
	seen := make(map[uint64]struct{})
	x := make([]float32, dim)
	ws := ix.pool.Get().(*workspace)
	defer ix.pool.Put(ws)

	// stillCandidate reports whether p or q is among the heads an insert
	// of x would choose its postings from now (the Candidates nearest):
	// a copy there may have been placed by the RNG rule away from x's
	// nearest head, and is no more misplaced after the split than before.
	stillCandidate := func(x []float32) bool {
		ix.rmu.RLock()
		c := ix.tree.Search(x, ix.opts.Candidates, 2*ix.opts.Candidates, &ws.route)
		ix.rmu.RUnlock()
		if len(c) == 0 {
			return true
		}
		for _, h := range c {
			if h.Leaf == p || h.Leaf == q {
				return true
			}
		}
		return false
	}
	for h := range parts {
		m := &parts[h]
		for i, id := range m.IDs {
			row := m.Vectors[i*rb : (i+1)*rb]
			vec.ToFloat32(ix.elem(), row, x)
			if ix.routeDist(x, heads[h]) <= ix.routeDist(x, old) {
				continue
			}
			if _, dup := seen[id]; dup || stillCandidate(x) {
				continue
			}
			seen[id] = struct{}{}
			cand.Add(id, m.Versions[i], row)
		}
	}
	// The members' copies in neighbour postings were placed beside
	// their copy in the split posting, and the members were just
	// checked: the neighbour check below is for other vectors. (The
	// new heads are nearer their members than the old one was, so
	// without this every member's other copies passed it, and every
	// split re-inserted most of its posting.)
	for h := range parts {
		for _, id := range parts[h].IDs {
			seen[id] = struct{}{}
		}
	}

	if n := ix.opts.ReassignNeighbors; n > 0 {
		ix.rmu.RLock()
		near := ix.tree.Search(old, n+2, 2*(n+2), &ws.route)
		var ids []uint32
		var own [][]float32
		for _, c := range near {
			if c.Leaf != p && c.Leaf != q && len(ids) < n {
				ids = append(ids, c.Leaf)
				own = append(own, append([]float32(nil), ix.tree.Head(int(c.Leaf))...))
			}
		}
		tails := ix.tails.Of(ids, nil)
		ix.rmu.RUnlock()
		check := func(r int, id uint64, ver uint8, row []byte) {
			if _, dup := seen[id]; dup || !ix.vers.live(id, ver) {
				return
			}
			vec.ToFloat32(ix.elem(), row, x)
			// SPFresh's second condition: only a copy that a new head is
			// nearer to than the old head was can have lost its place
			// (before the split, the old head did not draw it away from
			// its posting; now a nearer head might). Copies kept by the
			// RNG rule away from their nearest head are usually nearer
			// to several heads than to their own: without this test
			// every split re-inserted hundreds of them.
			dn := min(ix.routeDist(x, c1), ix.routeDist(x, c2))
			if dn >= ix.routeDist(x, old) || dn >= ix.routeDist(x, own[r]) {
				return
			}

			seen[id] = struct{}{}
			cand.Add(id, ver, row)
		}
		var dec, rows posting.Posting
		err := ix.store.ReadBatch(ids, func(r int, b []byte) error {
			if err := posting.Decode(b, &dec); err != nil {
				return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, ids[r], err)
			}
			if !dec.Quantized() {
				for i, id := range dec.IDs {
					check(r, id, dec.Versions[i], dec.Row(i))
				}
				return nil
			}
			// Codes: the rows of the live entries not yet seen.
			rows = posting.Posting{IDs: rows.IDs[:0], Versions: rows.Versions[:0], Vectors: rows.Vectors[:0]}
			err := ix.appendStored(&rows, ids[r], &dec, func(id uint64, ver uint8) bool {
				_, dup := seen[id]
				return !dup && ix.vers.live(id, ver)
			})
			for i, id := range rows.IDs {
				check(r, id, rows.Versions[i], rows.Vectors[i*rb:(i+1)*rb])
			}
			return err
		})
		if err != nil {
			return err
		}
		for r, t := range tails {
			if t == nil {
				continue
			}
			for i, id := range t.IDs {
				check(r, id, t.Vers[i], t.Vecs[i*rb:(i+1)*rb])
			}
		}
	}
	if cand.Len() == 0 {
		return nil
	}

	// Route the candidates before taking the writer lock; under it they
	// are routed again only if the tree changed meanwhile.
	gen, routes := ix.routeReinsert(&cand, noPosting)
	ix.lockMaint()
	defer ix.unlockMaint()
	var still posting.Posting
	var stillRoutes [][]uint32
	for i, id := range cand.IDs {
		if ix.vers.live(id, cand.Versions[i]) {
			still.Add(id, cand.Versions[i], cand.Vectors[i*rb:(i+1)*rb])
			stillRoutes = append(stillRoutes, routes[i])
		}
	}
	if still.Len() == 0 {
		return nil
	}
	if ix.treeGen.Load() != gen {
		stillRoutes = nil
	}
	b := ix.store.NewBatch()
	defer b.Close()
	re, err := ix.stageReinsert(b, &still, noPosting, stillRoutes)
	if err != nil {
		return err
	}
	// Not synced: if the batch is lost, the old copies stay current.
	if err := b.Commit(false); err != nil {
		return fmt.Errorf("shoal: reassign after split of %d: %w", p, err)
	}
	ix.placeReinsert(re)
	ix.ctr.reassigned.Add(int64(still.Len()))
	return nil
}

// routeDist is the routing distance from x to a head.
func (ix *Index) routeDist(x, h []float32) float32 {
	if ix.man.Metric == InnerProduct {
		return -vec.DotF32(x, h)
	}
	return vec.L2SquaredF32(x, h)
}
