package index_test

import (
	"context"
	"slices"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/shoaldb/shoal/index"
)

// TestSearchTrace: SearchContext under a recording span starts one child
// span per search step; Search and SearchContext without a span start
// none and allocate no more than before tracing existed.
func TestSearchTrace(t *testing.T) {
	const n, dim = 2000, 16
	ix, data := benchIndex(t, n, dim)
	q := data[7*dim : 8*dim]
	p := &index.SearchParams{NProbe: 8}

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	ctx, parent := tp.Tracer("test").Start(context.Background(), "query")
	if _, err := ix.SearchContext(ctx, q, 10, p); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var names []string
	for _, s := range exp.GetSpans() {
		if s.Name != "query" && s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %q is not a child of the query's span", s.Name)
		}
		names = append(names, s.Name)
	}
	if want := []string{index.SpanRoute, index.SpanTailsScore, index.SpanPostingsRead, "query"}; !slices.Equal(names, want) {
		t.Errorf("spans %v, want %v (in the order they ended)", names, want)
	}
	for _, s := range exp.GetSpans() {
		if s.Name != index.SpanPostingsRead {
			continue
		}
		got := map[string]int64{}
		for _, kv := range s.Attributes {
			got[string(kv.Key)] = kv.Value.AsInt64()
		}
		if got["postings"] < 1 || got["postings"] > 8 || got["bytes"] <= 0 || got["vectors"] < 10 {
			t.Errorf("postings.read attributes %v: want 1..8 postings (nprobe 8), bytes > 0, >= 10 vectors", got)
		}
	}

	exp.Reset()
	if _, err := ix.SearchContext(context.Background(), q, 10, p); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Search(q, 10, p); err != nil {
		t.Fatal(err)
	}
	if spans := exp.GetSpans(); len(spans) != 0 {
		t.Errorf("searches without a span recorded %d spans", len(spans))
	}

	if raceEnabled {
		return
	}
	plain := testing.AllocsPerRun(50, func() { ix.Search(q, 10, p) })
	withCtx := testing.AllocsPerRun(50, func() { ix.SearchContext(context.Background(), q, 10, p) })
	// A search allocated 4 times before tracing (measured at d4010e4):
	// tracing off must add none.
	const before = 4
	if plain > before || withCtx > before {
		t.Errorf("Search allocates %v times, SearchContext without a span %v; want at most %d, as before tracing", plain, withCtx, before)
	}
}
