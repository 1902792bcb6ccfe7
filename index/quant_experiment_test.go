package index

// This file is a measurement, not a test of Shoal's behaviour: step 0 of
// the RaBitQ design (issue 15, design note §6), an offline simulation of
// quantized postings with exact rerank on a built index. For each query it
// routes as Search does (NProbe, Beam and Epsilon pruning of the index
// defaults) at several nprobe, reads the routed postings, encodes every
// entry relative to its head with internal/rabitq, and runs the bounded
// search: estimate every entry (replicas of one id intersect their
// intervals, design note §1.5), keep the candidates whose lower bound is at
// most the k-th smallest upper bound U_k, rerank them exactly and take the
// top k. It prints, per configuration, recall@k, the ceiling (the exact
// search of the same postings, which is what Search returns on a freshly
// built index), the rerank counts, the bytes of code postings and of rerank
// rows, and the bound failures that cost results.
//
// It only reads the index. Build one, then run (single-threaded):
//
//	shoal build -data /tmp/peers/data300k/base.fvecs -out /tmp/qsim/ix300k
//	SHOAL_QUANT_INDEX=/tmp/qsim/ix300k \
//	SHOAL_QUANT_QUERIES=/tmp/peers/data300k/query.fvecs \
//	SHOAL_QUANT_TRUTH=/tmp/peers/data300k/groundtruth.ivecs \
//	SHOAL_QUANT_NQ=500 GOMAXPROCS=1 \
//	    go test ./index -run TestQuantStep0 -v -timeout 60m
//
// SHOAL_QUANT_NPROBE lists the nprobe values (default 4,8,16,32,64),
// SHOAL_QUANT_BITS the code bits (default 1,4) and SHOAL_QUANT_EPS the ε0
// values (default 1.9,2.6,3.0).
//
// Byte model. A code posting holds, per entry, the rabitq code
// (CodeSize = B·D′/8 + 16 bytes of factors) and 13 bytes of id, version
// and row locator (design note §1.4), after a 16-byte header; it is one
// read of whole 4 KiB pages. Rerank rows: layout A0 (rows in id order) is
// one 4 KiB read per reranked candidate. Layout A (rows once, in the
// order of each vector's primary posting — the nearest head holding it —
// and by distance to that head within it; units of ⌊4092/(8+rowBytes)⌋
// rows per 4 KiB) reads the distinct units of the reranked candidates,
// adjacent units coalesced into one read. "Today" is the sum of the
// routed postings' sizes as stored (format v1 rows), and its page-rounded
// read size.
//
// Two rerank counts are printed: "rr" is the rule above (every candidate
// with Lower ≤ U_k, U_k from all routed postings); "seq" reranks in
// increasing Lower and stops once the next Lower exceeds min(U_k, d_k),
// d_k the k-th exact distance reranked so far — what design note §3's
// scheduler converges to when the code reads complete before the row
// reads.

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/rabitq"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/posting"
)

const (
	qsimK        = 10
	qsimPage     = 4096
	qsimEntryHdr = 13 // id u64, version u8, row locator u32
	qsimPostHdr  = 16
)

// qsimList parses a comma-separated list from the environment, or def.
func qsimList(t *testing.T, name, def string) []float64 {
	s := os.Getenv(name)
	if s == "" {
		s = def
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", name, s, err)
		}
		out = append(out, v)
	}
	return out
}

// qsimPosting is one routed posting of a query, decoded and encoded.
type qsimPosting struct {
	id    uint32
	bytes int                 // size as stored (format v1)
	ids   []uint64            // entries
	exact []float32           // exact distance of each entry to the query
	codes [][]byte            // per bits index: n codes of CodeSize bytes, back to back
	rhead []float32           // rotated head
	est   [][]rabitq.Estimate // per configuration, per entry
}

// qsimCfg is one quantizer configuration.
type qsimCfg struct {
	bits int
	eps  float64
	bi   int // index into the bits list (which codes to score)
	z    *rabitq.Quantizer
	q    *rabitq.Query
}

// qsimAcc accumulates one (nprobe, configuration) row.
type qsimAcc struct {
	hits, hitsSeq      int
	lost, lostSeq      int // ceiling top-k ids missing from the result
	lostGT             int // true neighbours the ceiling found and the result missed
	rr, rrSeq          int64
	cand               int64 // distinct ids scored
	codeBytes          int64 // page-rounded code postings
	unitsA, iosA       int64 // layout A rerank reads (rr)
	unitsASeq, iosASeq int64
	miss, scored       int64 // per-entry bound failures (exact outside [Lower, Upper])
	missLo             int64 // exact below Lower (the side that loses results)
}

func TestQuantStep0(t *testing.T) {
	dir := os.Getenv("SHOAL_QUANT_INDEX")
	if dir == "" {
		t.Skip("set SHOAL_QUANT_INDEX (and SHOAL_QUANT_QUERIES, SHOAL_QUANT_TRUTH) to simulate quantized postings on a built index")
	}
	qpath, tpath := os.Getenv("SHOAL_QUANT_QUERIES"), os.Getenv("SHOAL_QUANT_TRUTH")
	if qpath == "" || tpath == "" {
		t.Fatal("set SHOAL_QUANT_QUERIES and SHOAL_QUANT_TRUTH")
	}
	nq := memEnvInt(t, "SHOAL_QUANT_NQ", 500)
	probes := qsimList(t, "SHOAL_QUANT_NPROBE", "4,8,16,32,64")
	bitsList := qsimList(t, "SHOAL_QUANT_BITS", "1,4")
	epsList := qsimList(t, "SHOAL_QUANT_EPS", "1.9,2.6,3.0")

	ix, err := Open(dir, &Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if ix.man.Metric != L2 {
		t.Fatalf("metric %v: the simulation handles L2 only", ix.man.Metric)
	}
	dim, elem := ix.man.Dim, ix.elem()
	tr := ix.tree
	qs, qdim, err := vecfile.ReadFloat32(qpath)
	if err != nil {
		t.Fatal(err)
	}
	if qdim != dim {
		t.Fatalf("queries have %d dims, index %d", qdim, dim)
	}
	gt, gdim, err := vecfile.ReadInt32(tpath)
	if err != nil {
		t.Fatal(err)
	}
	nq = min(nq, len(qs)/dim, len(gt)/gdim)

	// Configurations: codes depend on the bits only; ε0 changes the
	// interval, so one Query per (bits, ε0).
	var cfgs []*qsimCfg
	encs := make([]*rabitq.Encoder, len(bitsList))
	codeSize := make([]int, len(bitsList))
	for bi, b := range bitsList {
		for _, e := range epsList {
			z, err := rabitq.New(rabitq.Options{Dim: dim, Bits: int(b), Seed: 1, Eps0: e})
			if err != nil {
				t.Fatal(err)
			}
			cfgs = append(cfgs, &qsimCfg{bits: int(b), eps: e, bi: bi, z: z, q: z.NewQuery()})
			if encs[bi] == nil {
				encs[bi] = z.NewEncoder()
				codeSize[bi] = z.CodeSize()
			}
		}
	}
	dpad := cfgs[0].z.PaddedDim()
	rowBytes := dim * elem.Size()
	perUnit := max(1, (qsimPage-4)/(8+rowBytes))

	// Layout A: every vector's row slot in primary-posting order.
	start := time.Now()
	slot, nvec := qsimSlots(t, ix, dim, elem)
	t.Logf("index %s: %d vectors, dim %d (D′ %d), elem %v, %d heads; rows %d B, %d per 4 KiB unit; layout A slots in %v",
		dir, nvec, dim, dpad, elem, tr.LiveLeaves(), rowBytes, perUnit, time.Since(start).Round(time.Millisecond))
	t.Logf("code bytes per entry: %v (+%d B id/version/locator); queries %d, k %d", codeSize, qsimEntryHdr, nq, qsimK)

	var sp SearchParams
	sp.ensureDefaults(ix.opts.Search)
	acc := make([][]qsimAcc, len(probes))
	for i := range acc {
		acc[i] = make([]qsimAcc, len(cfgs))
	}
	ceilHits := make([]int, len(probes))
	todayBytes := make([]int64, len(probes))
	todayPages := make([]int64, len(probes))
	heads := make([]int64, len(probes))
	entries := make([]int64, len(probes))
	searchMismatch := 0

	var route cluster.Workspace
	routed := make([][]uint32, len(probes))
	byID := map[uint32]*qsimPosting{}
	var dec posting.Posting
	row := make([]float32, dim)
	rrow := make([]float32, dpad)
	var tab qsimTable
	start = time.Now()
	for qi := 0; qi < nq; qi++ {
		q := qs[qi*dim : (qi+1)*dim]
		truth := gt[qi*gdim : qi*gdim+qsimK]
		// Route as search does, once per nprobe.
		clear(byID)
		var union []uint32
		for pi, np := range probes {
			beam := sp.Beam
			if ix.opts.Search.Beam <= 0 {
				beam = max(4*int(np), 128)
			}
			hs := tr.Search(q, int(np), beam, &route)
			if sp.Epsilon >= 0 && len(hs) > 0 && hs[0].Dist > 0 {
				limit := float32((1 + sp.Epsilon) * float64(hs[0].Dist))
				for i, h := range hs {
					if h.Dist > limit {
						hs = hs[:i]
						break
					}
				}
			}
			routed[pi] = routed[pi][:0]
			for _, h := range hs {
				routed[pi] = append(routed[pi], h.Leaf)
				if byID[h.Leaf] == nil {
					byID[h.Leaf] = &qsimPosting{id: h.Leaf}
					union = append(union, h.Leaf)
				}
			}
		}
		if n := ix.tails.Of(union, nil); len(n) > 0 {
			for _, tl := range n {
				if tl != nil && tl.Len() > 0 {
					t.Fatalf("posting tails in memory: the simulation wants a freshly built index")
				}
			}
		}
		err := ix.store.ReadBatch(union, func(i int, b []byte) error {
			if err := posting.Decode(b, &dec); err != nil {
				return err
			}
			p := byID[union[i]]
			p.bytes = len(b)
			n := len(dec.IDs)
			p.ids = slices.Clone(dec.IDs)
			p.exact = make([]float32, n)
			p.rhead = make([]float32, dpad)
			if err := cfgs[0].z.Rotate(p.rhead, tr.Head(int(p.id))); err != nil {
				return err
			}
			p.codes = make([][]byte, len(bitsList))
			for bi := range bitsList {
				p.codes[bi] = make([]byte, n*codeSize[bi])
			}
			for j := 0; j < n; j++ {
				vec.ToFloat32(elem, dec.Vectors[j*rowBytes:(j+1)*rowBytes], row)
				p.exact[j] = vec.L2SquaredF32(q, row)
				if err := cfgs[0].z.Rotate(rrow, row); err != nil {
					return err
				}
				for bi, enc := range encs {
					cs := codeSize[bi]
					if err := enc.Encode(p.codes[bi][j*cs:(j+1)*cs], rrow, p.rhead); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// Estimate every entry once per configuration.
		for ci, c := range cfgs {
			if err := c.q.Prepare(q); err != nil {
				t.Fatal(err)
			}
			cs := codeSize[c.bi]
			for _, pid := range union {
				p := byID[pid]
				if p.est == nil {
					p.est = make([][]rabitq.Estimate, len(cfgs))
				}
				ctr := c.q.Center(p.rhead)
				est := make([]rabitq.Estimate, len(p.ids))
				for j := range p.ids {
					est[j] = c.q.Estimate(p.codes[c.bi][j*cs:(j+1)*cs], ctr)
				}
				p.est[ci] = est
			}
		}
		for pi := range probes {
			ps := make([]*qsimPosting, 0, len(routed[pi]))
			for _, id := range routed[pi] {
				p := byID[id]
				ps = append(ps, p)
				todayBytes[pi] += int64(p.bytes)
				todayPages[pi] += int64((p.bytes + qsimPage - 1) / qsimPage * qsimPage)
				entries[pi] += int64(len(p.ids))
			}
			heads[pi] += int64(len(ps))
			ceil := tab.exactTop(ps)
			ceilHits[pi] += qsimHits(ceil, truth)
			if qi < 20 {
				res, err := ix.Search(q, qsimK, &SearchParams{NProbe: int(probes[pi])})
				if err != nil {
					t.Fatal(err)
				}
				got := make([]uint64, len(res))
				for i, r := range res {
					got[i] = r.ID
				}
				if qsimMissing(ceil, got) != 0 {
					searchMismatch++
				}
			}
			for ci, c := range cfgs {
				a := &acc[pi][ci]
				for _, p := range ps {
					a.codeBytes += int64((qsimPostHdr + len(p.ids)*(codeSize[c.bi]+qsimEntryHdr) + qsimPage - 1) / qsimPage * qsimPage)
				}
				res, resSeq, rr, rrSeq := tab.bounded(ps, ci)
				a.cand += int64(len(tab.ids))
				a.hits += qsimHits(res, truth)
				a.hitsSeq += qsimHits(resSeq, truth)
				a.lost += qsimMissing(ceil, res)
				a.lostSeq += qsimMissing(ceil, resSeq)
				for _, id := range ceil {
					if qsimHits([]uint64{id}, truth) == 1 && !slices.Contains(res, id) {
						a.lostGT++
					}
				}
				a.rr += int64(len(rr))
				a.rrSeq += int64(len(rrSeq))
				u, io := qsimUnits(rr, slot, perUnit)
				a.unitsA += u
				a.iosA += io
				u, io = qsimUnits(rrSeq, slot, perUnit)
				a.unitsASeq += u
				a.iosASeq += io
				if pi == len(probes)-1 {
					for _, p := range ps {
						for j, e := range p.est[ci] {
							a.scored++
							if x := p.exact[j]; x < e.Lower {
								a.miss++
								a.missLo++
							} else if x > e.Upper {
								a.miss++
							}
						}
					}
				}
			}
		}
		if qi == 0 || (qi+1)%100 == 0 {
			t.Logf("query %d/%d, %v", qi+1, nq, time.Since(start).Round(time.Second))
		}
	}
	_ = nvec
	t.Logf("Search vs simulated ceiling (first %d queries × %d nprobe): %d top-%d sets differ", min(nq, 20), len(probes), searchMismatch, qsimK)

	fq := float64(nq)
	kib := func(b int64) float64 { return float64(b) / fq / 1024 }
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n| nprobe | postings | entries | today KiB (pages) | ceiling R@10 | B | ε0 | R@10 | lost/q | rerank | seq | code KiB | A0 rows KiB | A0 total KiB | ratio A0 | A units/IOs | A total KiB | ratio A | seq: A0 total, A total |\n")
	fmt.Fprintf(&sb, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for pi, np := range probes {
		today := kib(todayPages[pi])
		for ci, c := range cfgs {
			a := acc[pi][ci]
			code := kib(a.codeBytes)
			a0 := float64(a.rr) * qsimPage / fq / 1024
			aA := float64(a.unitsA) * qsimPage / fq / 1024
			a0s := float64(a.rrSeq) * qsimPage / fq / 1024
			aAs := float64(a.unitsASeq) * qsimPage / fq / 1024
			fmt.Fprintf(&sb, "| %d | %.1f | %.0f | %.0f (%.0f) | %.4f | %d | %.1f | %.4f | %.3f | %.1f | %.1f | %.1f | %.0f | %.0f | %.2f | %.1f / %.1f | %.0f | %.2f | %.0f, %.0f |\n",
				int(np), float64(heads[pi])/fq, float64(entries[pi])/fq, kib(todayBytes[pi]), today,
				float64(ceilHits[pi])/fq/qsimK, c.bits, c.eps, float64(a.hits)/fq/qsimK, float64(a.lost)/fq,
				float64(a.rr)/fq, float64(a.rrSeq)/fq, code, a0, code+a0, (code+a0)/today,
				float64(a.unitsA)/fq, float64(a.iosA)/fq, code+aA, (code+aA)/today, code+a0s, code+aAs)
		}
	}
	t.Log(sb.String())
	sb.Reset()
	fmt.Fprintf(&sb, "\nper-entry bound failures at nprobe %d (exact outside [Lower, Upper]), and results lost per query at each nprobe (rr rule; seq rule; true neighbours lost):\n", int(probes[len(probes)-1]))
	for ci, c := range cfgs {
		a := acc[len(probes)-1][ci]
		fmt.Fprintf(&sb, "B %d ε0 %.1f: %.2f %% of %d (below Lower %.2f %%); lost", c.bits, c.eps,
			100*float64(a.miss)/float64(a.scored), a.scored, 100*float64(a.missLo)/float64(a.scored))
		for pi := range probes {
			fmt.Fprintf(&sb, " %.3f/%.3f/%.3f", float64(acc[pi][ci].lost)/fq, float64(acc[pi][ci].lostSeq)/fq, float64(acc[pi][ci].lostGT)/fq)
		}
		fmt.Fprintf(&sb, "; R@10 seq")
		for pi := range probes {
			fmt.Fprintf(&sb, " %.4f", float64(acc[pi][ci].hitsSeq)/fq/qsimK)
		}
		fmt.Fprintf(&sb, "; distinct ids scored")
		for pi := range probes {
			fmt.Fprintf(&sb, " %.0f", float64(acc[pi][ci].cand)/fq)
		}
		sb.WriteString("\n")
	}
	t.Log(sb.String())
}

// qsimSlots scans every posting once and returns each vector's row slot
// under layout A: vectors grouped by their primary posting (the nearest
// head holding them), postings in id order, and by distance to the head
// within one.
func qsimSlots(t *testing.T, ix *Index, dim int, elem vec.ElemType) ([]int64, int) {
	type prim struct {
		post uint32
		dist float32
	}
	tr := ix.tree
	best := map[uint64]prim{}
	row := make([]float32, dim)
	rowBytes := dim * elem.Size()
	var dec posting.Posting
	err := ix.store.Scan(func(id uint32, b []byte) error {
		if !tr.IsLeaf(id) {
			return nil
		}
		if err := posting.Decode(b, &dec); err != nil {
			return err
		}
		h := tr.Head(int(id))
		for j, vid := range dec.IDs {
			vec.ToFloat32(elem, dec.Vectors[j*rowBytes:(j+1)*rowBytes], row)
			d := vec.L2SquaredF32(h, row)
			if p, ok := best[vid]; !ok || d < p.dist || d == p.dist && id < p.post {
				best[vid] = prim{id, d}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		id uint64
		p  prim
	}
	all := make([]rec, 0, len(best))
	var maxID uint64
	for id, p := range best {
		all = append(all, rec{id, p})
		maxID = max(maxID, id)
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.p.post != b.p.post {
			return a.p.post < b.p.post
		}
		if a.p.dist != b.p.dist {
			return a.p.dist < b.p.dist
		}
		return a.id < b.id
	})
	slot := make([]int64, maxID+1)
	for i := range slot {
		slot[i] = -1
	}
	for i, r := range all {
		slot[r.id] = int64(i)
	}
	return slot, len(all)
}

// qsimUnits returns the distinct 4 KiB units holding the rows of ids under
// layout A and the reads they take when adjacent units are coalesced.
func qsimUnits(ids []uint64, slot []int64, perUnit int) (units, ios int64) {
	if len(ids) == 0 {
		return 0, 0
	}
	us := make([]int64, 0, len(ids))
	for _, id := range ids {
		us = append(us, slot[id]/int64(perUnit))
	}
	slices.Sort(us)
	us = slices.Compact(us)
	ios = 1
	for i := 1; i < len(us); i++ {
		if us[i] != us[i-1]+1 {
			ios++
		}
	}
	return int64(len(us)), ios
}

// qsimTable is the per-query candidate table: one interval per distinct
// id, replicas intersected.
type qsimTable struct {
	ids   []uint64
	est   map[uint64]rabitq.Estimate
	exact map[uint64]float32
	ups   []float32
	order []int
}

func (tb *qsimTable) reset() {
	if tb.est == nil {
		tb.est = map[uint64]rabitq.Estimate{}
		tb.exact = map[uint64]float32{}
	}
	clear(tb.est)
	clear(tb.exact)
	tb.ids = tb.ids[:0]
}

// exactTop returns the exact top k distinct ids of the postings' entries
// (the unquantized search of the same postings), nearest first.
func (tb *qsimTable) exactTop(ps []*qsimPosting) []uint64 {
	tb.reset()
	for _, p := range ps {
		for j, id := range p.ids {
			if _, ok := tb.exact[id]; !ok {
				tb.ids = append(tb.ids, id)
			}
			tb.exact[id] = p.exact[j]
		}
	}
	return tb.topOf(tb.ids)
}

// topOf returns the k ids of ids nearest by exact distance (ties by id).
func (tb *qsimTable) topOf(ids []uint64) []uint64 {
	s := slices.Clone(ids)
	slices.SortFunc(s, func(a, b uint64) int {
		da, db := tb.exact[a], tb.exact[b]
		switch {
		case da < db:
			return -1
		case da > db:
			return 1
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	return s[:min(qsimK, len(s))]
}

// bounded runs the bounded search of configuration ci over ps. res is the
// top k after reranking every candidate with Lower ≤ U_k (those are rr);
// resSeq the top k of the sequential rule (rrSeq).
func (tb *qsimTable) bounded(ps []*qsimPosting, ci int) (res, resSeq, rr, rrSeq []uint64) {
	tb.reset()
	for _, p := range ps {
		for j, id := range p.ids {
			e := p.est[ci][j]
			if old, ok := tb.est[id]; ok {
				e = old.Intersect(e)
			} else {
				tb.ids = append(tb.ids, id)
			}
			tb.est[id] = e
			tb.exact[id] = p.exact[j]
		}
	}
	tb.ups = tb.ups[:0]
	for _, id := range tb.ids {
		tb.ups = append(tb.ups, tb.est[id].Upper)
	}
	uk := float32(math.Inf(1))
	if len(tb.ups) >= qsimK {
		slices.Sort(tb.ups)
		uk = tb.ups[qsimK-1]
	}
	for _, id := range tb.ids {
		if tb.est[id].Lower <= uk {
			rr = append(rr, id)
		}
	}
	res = tb.topOf(rr)
	// Sequential: increasing Lower, stop past min(U_k, d_k).
	byLower := slices.Clone(rr)
	slices.SortFunc(byLower, func(a, b uint64) int {
		return cmp.Compare(tb.est[a].Lower, tb.est[b].Lower)
	})
	var top []float32 // exact distances so far, sorted, at most k
	for _, id := range byLower {
		th := uk
		if len(top) == qsimK {
			th = min(th, top[qsimK-1])
		}
		if tb.est[id].Lower > th {
			break
		}
		rrSeq = append(rrSeq, id)
		d := tb.exact[id]
		i, _ := slices.BinarySearch(top, d)
		if len(top) < qsimK {
			top = slices.Insert(top, i, d)
		} else if i < qsimK {
			top = slices.Insert(top[:qsimK-1], i, d)
		}
	}
	resSeq = tb.topOf(rrSeq)
	return res, resSeq, rr, rrSeq
}

// qsimHits counts the ids of res among truth.
func qsimHits(res []uint64, truth []int32) int {
	h := 0
	for _, id := range res {
		for _, g := range truth {
			if uint64(g) == id {
				h++
				break
			}
		}
	}
	return h
}

// qsimMissing counts the ids of want missing from got.
func qsimMissing(want, got []uint64) int {
	n := 0
	for _, id := range want {
		if !slices.Contains(got, id) {
			n++
		}
	}
	return n
}
