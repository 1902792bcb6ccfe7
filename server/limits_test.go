package server_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// Response bounds as docs/server.md ("Response limits") states them: a
// hit takes at most 20 bytes, 24 + 4·dim with its vector; a batch
// response at most 16 + queries × (8 + top_k × hit) bytes, a Search's
// the same with one query, a Get's 16 + ids × (24 + 4·dim).
func hitBound(dim int, vectors bool) int {
	if vectors {
		return 24 + 4*dim
	}
	return 20
}

func batchBound(queries, k, dim int, vectors bool) int {
	return 16 + queries*(8+k*hitBound(dim, vectors))
}

// searched returns how many searches collection coll has run.
func searched(t *testing.T, c *client.Client, coll string) uint64 {
	t.Helper()
	st, err := c.Collections.GetStats(context.Background(), &shoalv1.GetStatsRequest{Collection: coll})
	if err != nil {
		t.Fatal(err)
	}
	return st.GetQueries()
}

// TestResponseLimits: a search or get whose response could exceed the
// response limit, or a batch of more hits (top_k × queries) than the
// maximum, is RESOURCE_EXHAUSTED at once, before any search; one just
// under either limit is answered; SearchBatchStream answers a batch too
// large for one message in several, each under the limit.
func TestResponseLimits(t *testing.T) {
	const (
		dim, wideDim = 16, 4096
		limit        = 1 << 20
		maxHits      = 50_000
	)
	ts := start(t, "", &server.Options{MaxResponseBytes: limit, MaxHits: maxHits})
	c := ts.dial("admin")
	ctx := context.Background()
	f := ingest(t, c, "docs", 2000, dim, 4)
	if _, err := c.CreateCollection(ctx, "wide", &shoalv1.CollectionConfig{Dim: wideDim}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	wide := make([][]float32, 100)
	wideIDs := make([]uint64, len(wide))
	for i := range wide {
		wide[i] = make([]float32, wideDim)
		for d := range wide[i] {
			wide[i][d] = rng.Float32()
		}
		wideIDs[i] = uint64(i)
	}
	if _, err := c.UpsertStream(ctx, "wide", wideIDs, wide); err != nil {
		t.Fatal(err)
	}

	batch := func(coll string, n, k int, vectors bool) *shoalv1.SearchBatchRequest {
		req := &shoalv1.SearchBatchRequest{Collection: coll, TopK: uint32(k), IncludeVectors: vectors}
		for i := range n {
			q := f.vecs[i%len(f.vecs)]
			if coll == "wide" {
				q = wide[i%len(wide)]
			}
			req.Queries = append(req.Queries, &shoalv1.Query{Values: q})
		}
		return req
	}
	// refused checks that call is ResourceExhausted at once, and that
	// coll ran no search for it.
	refused := func(what, coll string, call func() error) {
		t.Helper()
		before := searched(t, c, coll)
		start := time.Now()
		err := call()
		took := time.Since(start)
		wantCode(t, what, err, codes.ResourceExhausted)
		if took > 2*time.Second {
			t.Errorf("%s: refused after %v, want at once", what, took)
		}
		if after := searched(t, c, coll); after != before {
			t.Errorf("%s: %d searches ran before the refusal, want none", what, after-before)
		}
	}

	// Bytes: 100 hits of 16-d vectors a query.
	perQuery := 8 + 100*hitBound(dim, true)
	under := (limit - 16) / perQuery
	if batchBound(under, 100, dim, true) > limit || batchBound(under+1, 100, dim, true) <= limit {
		t.Fatalf("test arithmetic: %d queries", under)
	}
	refused("SearchBatch one query over the response limit", "docs", func() error {
		_, err := c.Vectors.SearchBatch(ctx, batch("docs", under+1, 100, true))
		return err
	})
	before := searched(t, c, "docs")
	unary, err := c.Vectors.SearchBatch(ctx, batch("docs", under, 100, true))
	if err != nil {
		t.Fatalf("SearchBatch just under the response limit: %v", err)
	}
	if len(unary.GetResults()) != under || len(unary.GetResults()[0].GetHits()) != 100 || len(unary.GetResults()[0].GetHits()[0].GetValues()) != dim {
		t.Fatalf("SearchBatch just under the limit answered %d results", len(unary.GetResults()))
	}
	if size := proto.Size(unary); size > limit {
		t.Errorf("a response of %d bytes, above the limit %d", size, limit)
	}
	if after := searched(t, c, "docs"); after-before != uint64(under) {
		t.Fatalf("stats count %d searches for a batch of %d: the refusals' checks mean nothing", after-before, under)
	}

	// Hits: top_k × queries.
	refused("SearchBatch one query over the maximum hits", "docs", func() error {
		_, err := c.Vectors.SearchBatch(ctx, batch("docs", maxHits/1000+1, 1000, false))
		return err
	})
	if _, err := c.Vectors.SearchBatch(ctx, batch("docs", maxHits/1000, 1000, false)); err != nil {
		t.Errorf("SearchBatch of exactly the maximum hits: %v", err)
	}

	// Search and Get of wide vectors: 16,408 bytes a hit or vector.
	k := (limit - 24) / hitBound(wideDim, true)
	refused("Search one hit over the response limit", "wide", func() error {
		_, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "wide", Query: wide[0], TopK: uint32(k + 1), IncludeVectors: true})
		return err
	})
	if _, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "wide", Query: wide[0], TopK: uint32(k), IncludeVectors: true}); err != nil {
		t.Errorf("Search just under the response limit: %v", err)
	}
	n := (limit - 16) / (24 + 4*wideDim)
	_, err = c.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: "wide", Ids: wideIDs[:n+1]})
	wantCode(t, "Get one vector over the response limit", err, codes.ResourceExhausted)
	if got, err := c.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: "wide", Ids: wideIDs[:n]}); err != nil || len(got.GetVectors()) != n {
		t.Errorf("Get just under the response limit: %d vectors, %v", len(got.GetVectors()), err)
	}

	// The stream answers a batch of more than twice the size refused
	// above, in order, in messages under the limit, with the results of
	// the unary call.
	streamed := 300
	stream, err := c.Vectors.SearchBatchStream(ctx, batch("docs", streamed, 100, true))
	if err != nil {
		t.Fatal(err)
	}
	var results []*shoalv1.SearchResponse
	msgs := 0
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SearchBatchStream: %v", err)
		}
		if int(m.GetFirstQuery()) != len(results) {
			t.Errorf("message %d starts at query %d, want %d", msgs, m.GetFirstQuery(), len(results))
		}
		if size := proto.Size(m); size > limit {
			t.Errorf("message %d has %d bytes, above the limit %d", msgs, size, limit)
		}
		results = append(results, m.GetResults()...)
		msgs++
	}
	if len(results) != streamed || msgs < 3 {
		t.Fatalf("SearchBatchStream answered %d results in %d messages, want %d in 3 or more", len(results), msgs, streamed)
	}
	for i, r := range unary.GetResults() {
		if !slices.EqualFunc(r.GetHits(), results[i].GetHits(), func(a, b *shoalv1.Hit) bool { return proto.Equal(a, b) }) {
			t.Fatalf("query %d: the stream's hits differ from SearchBatch's", i)
		}
	}
	recvAll := func(req *shoalv1.SearchBatchRequest) error {
		st, err := c.Vectors.SearchBatchStream(ctx, req)
		if err != nil {
			return err
		}
		for {
			if _, err := st.Recv(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	}
	refused("SearchBatchStream over the maximum hits", "docs", func() error {
		return recvAll(batch("docs", maxHits/1000+1, 1000, false))
	})
	refused("SearchBatchStream of one query over the response limit", "wide", func() error {
		return recvAll(batch("wide", 2, k+1, true))
	})

	// The case, on a server with the default limits: 10,000
	// queries × top_k 1,000 with vectors.
	def := start(t, "", nil)
	dc := def.dial("admin")
	ingest(t, dc, "docs", 200, dim, 5)
	big := batch("docs", 10_000, 1000, true)
	start := time.Now()
	_, err = dc.Vectors.SearchBatch(ctx, big)
	wantCode(t, "SearchBatch of 10,000 × 1,000 with vectors", err, codes.ResourceExhausted)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("SearchBatch of 10,000 × 1,000 refused after %v, want at once", took)
	}
	if n := searched(t, dc, "docs"); n != 0 {
		t.Errorf("%d searches ran for a refused batch", n)
	}
}
