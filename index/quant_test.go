package index

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/shoaldb/shoal/internal/rabitq"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

// TestQuantSearchMatchesRows: a quantized index built with the heads of
// an unquantized one returns, for every metric and 1 and 4 bits, the
// unquantized search's results (the exact top k of the postings read)
// up to the rare failed bound, with exact distances; with 4-bit codes it
// reranks far fewer vectors than it estimates.
func TestQuantSearchMatchesRows(t *testing.T) {
	const dim, n, nq, k = 128, 8000, 40, 10
	for _, m := range []Metric{L2, InnerProduct, Cosine} {
		for _, bits := range []int{1, 4} {
			t.Run(fmt.Sprintf("%v/%dbit", m, bits), func(t *testing.T) {
				data := clustered(n, dim, 30, 1, 1)
				plain, _ := buildTest(t, data, dim, &Options{Metric: m, Ratio: 0.05})
				quant, _ := buildTest(t, data, dim, &Options{Metric: m, Ratio: 0.05, Quant: QuantRaBitQ, QuantBits: bits})
				if mq := quant.Manifest(); mq.Quant == nil || mq.Quant.Bits != bits || mq.Version != manifestVersionQuant {
					t.Fatalf("manifest %+v", mq)
				}
				qs := clustered(nq, dim, 30, 1, 7)
				var same, total, reranked, vectors int
				for i := range nq {
					q := qs[i*dim : (i+1)*dim]
					p := &SearchParams{NProbe: 16}
					want, err := plain.Search(q, k, p)
					if err != nil {
						t.Fatal(err)
					}
					var st QueryStats
					got, err := quant.SearchWithStats(q, k, p, &st)
					if err != nil {
						t.Fatal(err)
					}
					if len(got) != k {
						t.Fatalf("query %d: %d results", i, len(got))
					}
					exactD := map[uint64]float32{}
					for _, r := range want {
						exactD[r.ID] = r.Distance
					}
					for j, r := range got {
						if j > 0 && r.Distance < got[j-1].Distance {
							t.Fatalf("query %d: results not sorted: %v", i, got)
						}
						if d, ok := exactD[r.ID]; ok {
							same++
							if math.Abs(float64(d-r.Distance)) > 1e-4*math.Max(1, math.Abs(float64(d))) {
								t.Fatalf("query %d: id %d at %v, exact %v", i, r.ID, r.Distance, d)
							}
						}
					}
					total += k
					reranked += st.Reranked
					vectors += st.Vectors
				}
				if r := float64(same) / float64(total); r < 0.97 {
					t.Errorf("quantized search found %.3f of the unquantized results, want >= 0.97", r)
				}
				// Isotropic clusters put every member at nearly the same
				// distance from a query, the hardest case for a bound:
				// 1-bit codes settle little there; 4-bit ones must.
				if bits >= 4 && reranked*5 > vectors {
					t.Errorf("reranked %d of %d vectors estimated: the bounds prune too little", reranked, vectors)
				}
				t.Logf("same %.4f, reranked %.1f/query of %.1f estimated", float64(same)/float64(total), float64(reranked)/nq, float64(vectors)/nq)
			})
		}
	}
}

// TestQuantIndexIsSmaller: postings of codes take a fraction of the
// bytes of postings of rows, and nothing is dropped.
func TestQuantIndexIsSmaller(t *testing.T) {
	const dim, n = 96, 6000
	data := clustered(n, dim, 20, 2, 1)
	plain, _ := buildTest(t, data, dim, &Options{Ratio: 0.05})
	quant, _ := buildTest(t, data, dim, &Options{Ratio: 0.05, Quant: QuantRaBitQ, QuantBits: 1})
	sum := func(ix *Index) (n int64) {
		if err := ix.store.Scan(func(_ uint32, b []byte) error { n += int64(len(b)); return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	pb, qb := sum(plain), sum(quant)
	if qb*5 > pb {
		t.Errorf("quantized postings hold %d bytes, rows %d: want < 1/5", qb, pb)
	}
	if d := quant.Manifest().Dropped; d != 0 {
		t.Errorf("quantized build dropped %d entries", d)
	}
}

// TestQuantUpdates: upserts, deletes and the maintenance they cause
// (folds, splits, merges) keep a quantized index searchable with exact
// distances, before and after a reopen.
func TestQuantUpdates(t *testing.T) {
	const dim, n = 32, 3000
	data := clustered(2*n, dim, 10, 3, 1)
	dir := filepath.Join(t.TempDir(), "ix")
	if _, err := Build(dir, SliceSource(data[:n*dim], dim), &Options{Ratio: 0.02, Quant: QuantRaBitQ, PostingCap: 64}); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(n + i)
	}
	vecs := make([][]float32, n)
	for i := range vecs {
		vecs[i] = data[(n+i)*dim : (n+i+1)*dim]
	}
	if err := ix.Upsert(ids, vecs); err != nil {
		t.Fatal(err)
	}
	del := make([]uint64, 0, n/2)
	for i := 0; i < n; i += 2 {
		del = append(del, uint64(i))
	}
	if _, err := ix.Delete(del); err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	if st := ix.Stats(); st.Splits == 0 {
		t.Errorf("no split after %d upserts into postings capped at 64", n)
	}
	check := func(ix *Index) {
		t.Helper()
		var hits, total int
		for i := 0; i < 40; i++ {
			id := uint64(1 + 2*i)
			if i%2 == 1 {
				id = uint64(n + 37*i)
			}
			q := data[int(id)*dim : int(id+1)*dim]
			res, err := ix.Search(q, 5, &SearchParams{NProbe: 24})
			if err != nil {
				t.Fatal(err)
			}
			total++
			if len(res) > 0 && res[0].ID == id && res[0].Distance == 0 {
				hits++
			}
			for _, r := range res {
				if r.ID < n && r.ID%2 == 0 {
					t.Fatalf("deleted id %d found", r.ID)
				}
				want := vec.L2SquaredF32(q, data[int(r.ID)*dim:int(r.ID+1)*dim])
				if math.Abs(float64(want-r.Distance)) > 1e-3*math.Max(1, float64(want)) {
					t.Fatalf("id %d at %v, exact %v", r.ID, r.Distance, want)
				}
			}
		}
		if hits < total*9/10 {
			t.Errorf("a stored vector is its own nearest neighbour in %d of %d searches", hits, total)
		}
	}
	check(ix)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if ix, err = Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	check(ix)
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestQuantManifestFromTheFuture: a manifest of an unknown version is
// refused with a message that says what to do.
func TestQuantManifestVersions(t *testing.T) {
	for _, b := range []string{
		`{"version":3,"dim":4,"elem":1,"metric":1,"heads":1}`,
		`{"version":2,"dim":4,"elem":1,"metric":1,"heads":1}`,
		`{"version":1,"dim":4,"elem":1,"metric":1,"heads":1,"quant":{"kind":"rabitq","bits":1}}`,
	} {
		if _, err := unmarshalManifest([]byte(b)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", b, err)
		}
	}
	m, err := unmarshalManifest([]byte(`{"version":2,"dim":4,"elem":1,"metric":1,"heads":1,"quant":{"kind":"rabitq","bits":3}}`))
	if err != nil || m.Quant.Bits != 3 {
		t.Fatalf("%v %+v", err, m)
	}
}

func TestParseQuant(t *testing.T) {
	for s, want := range map[string][2]int{"": {0, 0}, "none": {0, 0}, "rabitq": {1, 0}, "rabitq1": {1, 1}, "rabitq8": {1, 8}} {
		q, b, err := ParseQuant(s)
		if err != nil || int(q) != want[0] || b != want[1] {
			t.Errorf("ParseQuant(%q) = %v, %d, %v; want %v", s, q, b, err, want)
		}
	}
	for _, s := range []string{"rabitq0", "rabitq9", "rabitq+4", "rabitq04", "rabitq 4", "RABITQ", "pq", "sq8"} {
		if _, _, err := ParseQuant(s); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("ParseQuant(%q): %v, want ErrInvalidOptions", s, err)
		}
	}
}

// TestQuantRerankKnobs: a wider bound reranks at least as many candidates
// and finds at least as much; a cap bounds the reranks and still returns
// k exact results.
func TestQuantRerankKnobs(t *testing.T) {
	const dim, n, k = 64, 5000, 10
	data := clustered(n, dim, 20, 4, 1)
	ix, _ := buildTest(t, data, dim, &Options{Quant: QuantRaBitQ})
	qs := clustered(30, dim, 20, 4, 9)
	var rrLow, rrHigh int
	for i := range 30 {
		q := qs[i*dim : (i+1)*dim]
		var lo, hi, capped QueryStats
		if _, err := ix.SearchWithStats(q, k, &SearchParams{NProbe: 16, RerankEps: 1}, &lo); err != nil {
			t.Fatal(err)
		}
		if _, err := ix.SearchWithStats(q, k, &SearchParams{NProbe: 16, RerankEps: 4}, &hi); err != nil {
			t.Fatal(err)
		}
		rrLow, rrHigh = rrLow+lo.Reranked, rrHigh+hi.Reranked
		res, err := ix.SearchWithStats(q, k, &SearchParams{NProbe: 16, RerankEps: 4, RerankMax: 3}, &capped)
		if err != nil {
			t.Fatal(err)
		}
		if capped.Reranked > k || len(res) != k {
			t.Fatalf("query %d: cap 3 (at least k) reranked %d, returned %d", i, capped.Reranked, len(res))
		}
		for _, r := range res {
			if d := vec.L2SquaredF32(q, data[int(r.ID)*dim:int(r.ID+1)*dim]); math.Abs(float64(d-r.Distance)) > 1e-3*math.Max(1, float64(d)) {
				t.Fatalf("query %d: id %d at %v, exact %v", i, r.ID, r.Distance, d)
			}
		}
	}
	if rrHigh <= rrLow {
		t.Errorf("ε0 4 reranked %d, ε0 1 %d: want more", rrHigh, rrLow)
	}
}

// TestQuantPostingOfAnotherShape: a posting whose checksum holds but
// whose codes do not fit the index (other bits), or codes in an index of
// rows, is ErrCorrupt for a search, never a panic.
func TestQuantPostingOfAnotherShape(t *testing.T) {
	const dim = 16
	data := clustered(2000, dim, 10, 6, 6)
	for _, q := range []Quant{QuantRaBitQ, QuantNone} {
		ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.02, Quant: q, QuantBits: 4})
		p := &posting.Posting{Elem: ix.elem(), Dim: dim, Bits: 2, CodeSize: rabitq.CodeSize(rabitq.PaddedDim(dim), 2), Stamp: 1}
		p.AddCode(0, 0, make([]byte, p.CodeSize))
		b := ix.store.NewBatch()
		for h := uint32(0); h < uint32(ix.tree.NumLeaves()); h++ {
			if err := b.PutPosting(h, posting.EncodeCodes(nil, p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
		b.Close()
		_, err := ix.Search(data[:dim], 10, &SearchParams{NProbe: 8})
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%v index: search over 2-bit codes: %v, want ErrCorrupt", q, err)
		}
	}
}

// TestQuantShapes: quantized indexes of tiny and odd dimensions, of
// integer and half-precision storage and of every metric return the
// exact distances of their stored vectors, and find a stored vector as
// its own nearest neighbour.
func TestQuantShapes(t *testing.T) {
	type shape struct {
		dim  int
		elem ElemType
		m    Metric
	}
	for _, c := range []shape{{1, Float32, L2}, {3, Float32, L2}, {65, Uint8, L2}, {65, Int8, InnerProduct}, {130, Float16, Cosine}, {300, Float32, L2}} {
		t.Run(fmt.Sprintf("%d/%v/%v", c.dim, c.elem, c.m), func(t *testing.T) {
			const n = 600
			data := clustered(n, c.dim, 8, uint64(c.dim), 1)
			if c.elem == Uint8 || c.elem == Int8 {
				for i := range data {
					v := math.Round(float64(data[i]) * 8)
					if c.elem == Uint8 {
						v = math.Abs(v)
					}
					data[i] = float32(max(-127, min(127, v)))
				}
			}
			ix, _ := buildTest(t, data, c.dim, &Options{Metric: c.m, Elem: c.elem, Quant: QuantRaBitQ, Ratio: 0.05})
			hits := 0
			for i := 0; i < n; i += 20 {
				q := data[i*c.dim : (i+1)*c.dim]
				res, err := ix.Search(q, 5, &SearchParams{NProbe: 64})
				if err != nil {
					t.Fatal(err)
				}
				if len(res) == 0 {
					t.Fatalf("query %d: no results", i)
				}
				for _, r := range res {
					v, err := ix.Get(r.ID)
					if err != nil {
						t.Fatal(err)
					}
					var d float32
					switch c.m {
					case L2:
						d = vec.L2SquaredF32(q, v)
					case InnerProduct:
						d = -vec.DotF32(q, v)
					case Cosine:
						qq := append([]float32(nil), q...)
						vec.Normalize(qq)
						d = 1 - vec.DotF32(qq, v)
					}
					if math.Abs(float64(d-r.Distance)) > 2e-3*math.Max(1, math.Abs(float64(d))) {
						t.Fatalf("query %d: id %d at %v, its stored vector at %v", i, r.ID, r.Distance, d)
					}
				}
				if c.m != InnerProduct && res[0].Distance <= 1e-3 {
					hits++
				}
			}
			if c.m != InnerProduct && hits < n/20*9/10 {
				t.Errorf("a stored vector was its own nearest neighbour in %d of %d searches", hits, n/20)
			}
		})
	}
}
