package server_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// waitSpan returns the ended span named name, waiting for it: the server
// ends a call's span after the client has its answer.
func waitSpan(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, s := range exp.GetSpans() {
			if s.Name == name {
				return s
			}
		}
	}
	t.Fatalf("no span %q among %v", name, spanNames(exp.GetSpans()))
	return tracetest.SpanStub{}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attr(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// TestTraceSearch: one Search through the gRPC server is one trace: the
// otelgrpc server span, continuing the caller's trace (traceparent), with
// the index's steps as its children, attributes set.
func TestTraceSearch(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	ts := start(t, "", &server.Options{TracerProvider: tp})
	c := ts.dial("admin")
	// Small postings, so that background maintenance folds the upserts
	// into postings that searches then read.
	bg := context.Background()
	if _, err := c.CreateCollection(bg, "docs", &shoalv1.CollectionConfig{Dim: 8, PostingCap: 32}); err != nil {
		t.Fatal(err)
	}
	vecs := clustered(rand.New(rand.NewPCG(5, 7)), 500, 8)
	ids := make([]uint64, len(vecs))
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	if _, err := c.UpsertStream(bg, "docs", ids, vecs); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := c.Collections.GetStats(bg, &shoalv1.GetStatsRequest{Collection: "docs"})
		if err != nil {
			t.Fatal(err)
		}
		if st.GetSplits() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no posting split 10 s after the upserts: %v", st)
		}
	}
	exp.Reset()

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	ctx := metadata.AppendToOutgoingContext(bg, "traceparent", "00-"+traceID+"-"+parentID+"-01")
	if _, err := c.Search(ctx, "docs", vecs[3], 5, &shoalv1.SearchParams{Nprobe: 64}); err != nil {
		t.Fatal(err)
	}
	call := waitSpan(t, exp, "shoal.v1.VectorService/Search")
	if call.SpanKind != trace.SpanKindServer {
		t.Errorf("call span kind %v, want server", call.SpanKind)
	}
	if got := call.SpanContext.TraceID().String(); got != traceID {
		t.Errorf("call span in trace %s, want the caller's %s", got, traceID)
	}
	if got := call.Parent.SpanID().String(); got != parentID || !call.Parent.IsRemote() {
		t.Errorf("call span's parent %s (remote %v), want the caller's %s", got, call.Parent.IsRemote(), parentID)
	}

	children := map[string]tracetest.SpanStub{}
	var names []string
	for _, s := range exp.GetSpans() {
		if s.Parent.SpanID() == call.SpanContext.SpanID() {
			children[s.Name] = s
			names = append(names, s.Name)
		}
	}
	slices.Sort(names)
	if want := []string{index.SpanPostingsRead, index.SpanRoute, index.SpanTailsScore}; !slices.Equal(names, want) {
		t.Fatalf("children of the call span: %v, want %v", names, want)
	}
	route, read := children[index.SpanRoute], children[index.SpanPostingsRead]
	kept, _ := attr(route, "postings")
	if kept.AsInt64() < 1 {
		t.Errorf("route kept %v postings, want >= 1", kept.AsInt64())
	}
	if n, _ := attr(read, "postings"); n.AsInt64() != kept.AsInt64() {
		t.Errorf("postings.read read %v postings, route kept %v", n.AsInt64(), kept.AsInt64())
	}
	if b, _ := attr(read, "bytes"); b.AsInt64() <= 0 {
		t.Errorf("postings.read bytes = %v, want > 0", b.AsInt64())
	}
	tails, _ := attr(children[index.SpanTailsScore], "vectors")
	scored, _ := attr(read, "vectors")
	if tails.AsInt64()+scored.AsInt64() < 5 {
		t.Errorf("scored %d tail + %d posting vectors, want at least top_k 5", tails.AsInt64(), scored.AsInt64())
	}
	// Steps run in order, inside the call.
	if !route.EndTime.After(call.StartTime) || read.StartTime.Before(route.EndTime) || read.EndTime.After(call.EndTime) {
		t.Errorf("steps out of order: call %v–%v, route %v–%v, read %v–%v",
			call.StartTime, call.EndTime, route.StartTime, route.EndTime, read.StartTime, read.EndTime)
	}
}

// TestTraceFromEnv: with OTEL_EXPORTER_OTLP_ENDPOINT set the server
// exports its spans by OTLP (http/protobuf by default) under
// OTEL_SERVICE_NAME, and closing the server flushes them.
func TestTraceFromEnv(t *testing.T) {
	var mu sync.Mutex
	var got []*collectortrace.ExportTraceServiceRequest
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req := new(collectortrace.ExportTraceServiceRequest)
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ = proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "shoal-test")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000") // only the close exports

	ts := start(t, "", nil)
	c := ts.dial("admin")
	f := ingest(t, c, "docs", 200, 8, 5)
	if _, err := c.Search(context.Background(), "docs", f.vecs[0], 5, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	before := len(got)
	mu.Unlock()
	if before != 0 {
		t.Fatalf("%d exports before the close; the batch delay is an hour", before)
	}
	ts.stop()

	mu.Lock()
	defer mu.Unlock()
	var names []string
	service := ""
	for _, req := range got {
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names = append(names, s.GetName())
				}
			}
		}
	}
	if service != "shoal-test" {
		t.Errorf("service.name %q, want OTEL_SERVICE_NAME's shoal-test", service)
	}
	for _, want := range []string{"shoal.v1.VectorService/Search", index.SpanRoute, index.SpanPostingsRead, "shoal.v1.CollectionService/CreateCollection"} {
		if !slices.Contains(names, want) {
			t.Errorf("span %q not exported on close; got %v", want, names)
		}
	}
}
