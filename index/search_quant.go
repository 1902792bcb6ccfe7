package index

import (
	"cmp"
	"math"
	"slices"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/rabitq"
	"github.com/shoaldb/shoal/internal/topk"
	"github.com/shoaldb/shoal/internal/vec"
)

// Search of a quantized index (issue 15; design note §3).
//
// Routing and the tails are as for rows. Each posting read holds codes:
// every entry gets an estimated distance with an interval that holds the
// true distance except with small probability (package internal/rabitq).
// Replicas of one vector intersect their intervals. A candidate whose
// lower bound exceeds the threshold T — the smaller of the k-th smallest
// upper bound among the candidates and the k-th exact distance found so
// far — cannot make the top k and is dropped as it is read. After the
// reads, the survivors are reranked in increasing order of their lower
// bound: their rows are read (direct I/O, a few blocks at a time) and
// scored exactly, T falls as exact distances come in, and the rerank
// stops at the first candidate whose lower bound is above T. The results
// are exact distances.

// rerankFirst and rerankChunk are how many candidates the first and each
// later rerank read fetch: the first about as many as a query usually
// reranks in all (12–16 at k = 10 in the offline simulation, docs/
// decisions.md), in one submission; the later ones enough to overlap a
// few reads, few enough that a falling threshold stops the rerank soon
// after the top k settles.
const rerankFirst, rerankChunk = 16, 8

// qcand is a candidate of a quantized search: an entry read as a code,
// admitted (live, visible), with its estimate.
type qcand struct {
	id  uint64
	ver uint8
	est rabitq.Estimate
}

// quantWork is the part of a search workspace a quantized index uses.
type quantWork struct {
	qq      *rabitq.Query
	ctrs    []rabitq.Center // of ws.ids' heads
	cands   []qcand
	slot    map[uint64]int32 // id → index in cands
	uppers  topk.Heap[float32, uint64]
	order   []int32
	ids     []uint64
	vers    []uint8
	max     int // SearchParams.RerankMax (0: no cap)
	rr      int // candidates reranked
	skipped int // entries whose bound ruled them out as read
}

// prepareQuant prepares ws for the codes of a query already in ws.q.
func (ix *Index) prepareQuant(ws *workspace) error {
	qw := &ws.qw
	if qw.qq == nil {
		qw.qq = ix.qs.z.NewQuery()
		qw.slot = make(map[uint64]int32)
	}
	qw.cands = qw.cands[:0]
	clear(qw.slot)
	qw.rr, qw.skipped = 0, 0
	return qw.qq.Prepare(ws.q)
}

// routeCenters computes the query-side terms of the heads routed to;
// the caller holds rmu (the heads' centroids are read).
func (ix *Index) routeCenters(ws *workspace, heads []cluster.Candidate) {
	qw := &ws.qw
	qw.ctrs = qw.ctrs[:0]
	var qn float64
	if ix.man.Metric != L2 {
		qn = float64(vec.DotF32(ws.q, ws.q))
	}
	for _, h := range heads {
		c := ix.tree.Head(int(h.Leaf))
		if ix.man.Metric == L2 {
			qw.ctrs = append(qw.ctrs, rabitq.CenterL2(float64(vec.L2SquaredF32(ws.q, c))))
		} else {
			qw.ctrs = append(qw.ctrs, rabitq.CenterIP(float64(vec.DotF32(ws.q, c)), qn, float64(vec.DotF32(c, c))))
		}
	}
}

// threshold returns T: no candidate whose lower bound is above it can
// make the top k.
func (ws *workspace) threshold() float32 {
	t := float32(math.MaxFloat32)
	if u := &ws.qw.uppers; u.Len() == u.K() && u.Len() > 0 {
		t = u.Items()[0].Dist
	}
	if ws.top.Len() == ws.top.K() && ws.top.Len() > 0 {
		t = min(t, ws.top.Items()[0].Dist)
	}
	return t
}

// scoreCodes estimates every entry of the quantized posting in ws.p,
// read for the routed head at index h.
func (ix *Index) scoreCodes(ws *workspace, h int) {
	qw := &ws.qw
	p := &ws.p
	n := p.Len()
	ws.vecs += int64(n)
	ctr := qw.ctrs[h]
	t := ws.threshold()
	for i := range n {
		e := qw.qq.Estimate(p.Code(i), ctr)
		if e.Lower > t {
			qw.skipped++
			continue
		}
		id, ver := p.IDs[i], p.Versions[i]
		if s, ok := qw.slot[id]; ok {
			c := &qw.cands[s]
			if c.ver == ver {
				c.est = c.est.Intersect(e)
			}
			continue
		}
		if !ix.admit(ws, id, ver) {
			continue
		}
		qw.slot[id] = int32(len(qw.cands))
		qw.cands = append(qw.cands, qcand{id: id, ver: ver, est: e})
		// Each id's first upper bound only: later intersections tighten
		// it, and a stale (larger) value keeps T safe.
		qw.uppers.Push(e.Upper, id)
		t = ws.threshold()
	}
}

// rerank scores exactly, nearest lower bound first, the candidates that
// can still make the top k, until none can.
func (ix *Index) rerank(ws *workspace) error {
	qw := &ws.qw
	t := ws.threshold()
	qw.order = qw.order[:0]
	for i := range qw.cands {
		if qw.cands[i].est.Lower <= t {
			qw.order = append(qw.order, int32(i))
		}
	}
	slices.SortFunc(qw.order, func(a, b int32) int {
		return cmp.Compare(qw.cands[a].est.Lower, qw.cands[b].est.Lower)
	})
	for pos := 0; pos < len(qw.order); {
		t = ws.threshold()
		qw.ids, qw.vers = qw.ids[:0], qw.vers[:0]
		chunk := rerankChunk
		if pos == 0 {
			chunk = rerankFirst
		}
		if qw.max > 0 {
			chunk = min(chunk, qw.max-qw.rr)
		}
		for ; pos < len(qw.order) && len(qw.ids) < chunk; pos++ {
			c := &qw.cands[qw.order[pos]]
			if c.est.Lower > t {
				pos = len(qw.order)
				break
			}
			qw.ids, qw.vers = append(qw.ids, c.id), append(qw.vers, c.ver)
		}
		if len(qw.ids) == 0 {
			break
		}
		qw.rr += len(qw.ids)
		sortIDsVers(qw.ids, qw.vers)
		err := ix.vectors.ReadRerank(qw.ids, qw.vers, func(rows []byte, ids []uint64, _ []uint8) error {
			n := len(ids)
			if cap(ws.dists) < n {
				ws.dists = make([]float32, n)
			}
			d := ws.dists[:n]
			ws.query.ScoreRows(ix.elem(), vec.Metric(ix.man.Metric), rows, ix.man.Dim, d)
			for i, dist := range d {
				ws.top.PushUnique(dist, ids[i])
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sortIDsVers sorts ids ascending, keeping each version with its id.
func sortIDsVers(ids []uint64, vers []uint8) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
			vers[j], vers[j-1] = vers[j-1], vers[j]
		}
	}
}
