package server_test

import (
	"context"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"
)

// metrics is one scrape of /metrics, parsed.
type metrics map[string]*dto.MetricFamily

// scrape GETs url and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) metrics {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET %s: %s, Content-Type %q; want 200, text/plain; version=0.0.4", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: not the Prometheus text format: %v", url, err)
	}
	return fams
}

// get returns the sample of family name whose labels are exactly labels
// (name=value pairs), and whether there is one. A histogram's sample is
// its count.
func (m metrics) get(name string, labels ...string) (float64, bool) {
	f := m[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, s := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range s.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if !maps.Equal(got, want) {
			continue
		}
		switch {
		case s.Counter != nil:
			return s.GetCounter().GetValue(), true
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), true
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount()), true
		case s.Untyped != nil:
			return s.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// histogram returns the histogram of family name with exactly labels.
func (m metrics) histogram(name string, labels ...string) *dto.Histogram {
	f := m[name]
	if f == nil {
		return nil
	}
	for _, s := range f.GetMetric() {
		got := []string{}
		for _, lp := range s.GetLabel() {
			got = append(got, lp.GetName(), lp.GetValue())
		}
		if slices.Equal(got, labels) { // the registry sorts label names
			return s.GetHistogram()
		}
	}
	return nil
}

// TestMetrics: /metrics counts gRPC calls per method and status code
// (exactly the calls made), their latency, calls in flight and stream
// messages, and reports the collections' reads, cache and background
// work, the Go runtime and the process.
func TestMetrics(t *testing.T) {
	ts := start(t, "", nil)
	hs := httptest.NewServer(ts.s.MetricsHandler())
	defer hs.Close()
	c := ts.dial("admin")
	ctx := context.Background()
	f := ingest(t, c, "docs", 500, 8, 5) // 5 UpsertStream messages of 100

	search := []string{"code", "OK", "method", "Search", "service", "shoal.v1.VectorService"}
	bad := []string{"code", "InvalidArgument", "method", "Search", "service", "shoal.v1.VectorService"}
	before := scrape(t, hs.URL+"/metrics")
	ok0, _ := before.get("shoal_grpc_requests_total", search...)
	bad0, _ := before.get("shoal_grpc_requests_total", bad...)
	for i := range 7 {
		if _, err := c.Search(ctx, "docs", f.vecs[i], 5, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Search(ctx, "docs", []float32{1}, 5, nil)
	wantCode(t, "Search of the wrong dimension", err, codes.InvalidArgument)

	got := scrape(t, hs.URL+"/metrics")
	if v, _ := got.get("shoal_grpc_requests_total", search...); v-ok0 != 7 {
		t.Errorf("Search calls with code OK went from %v to %v, want +7", ok0, v)
	}
	if v, _ := got.get("shoal_grpc_requests_total", bad...); v-bad0 != 1 {
		t.Errorf("Search calls with code InvalidArgument went from %v to %v, want +1", bad0, v)
	}
	for _, fam := range []struct {
		name string
		typ  dto.MetricType
	}{
		{"shoal_grpc_requests_total", dto.MetricType_COUNTER},
		{"shoal_grpc_request_duration_seconds", dto.MetricType_HISTOGRAM},
		{"shoal_grpc_requests_in_flight", dto.MetricType_GAUGE},
		{"shoal_grpc_stream_messages_received_total", dto.MetricType_COUNTER},
		{"shoal_vectors", dto.MetricType_GAUGE},
		{"shoal_queries_total", dto.MetricType_COUNTER},
	} {
		if got[fam.name] == nil || got[fam.name].GetType() != fam.typ {
			t.Errorf("family %s: %v, want type %v", fam.name, got[fam.name], fam.typ)
		}
	}
	want := []struct {
		name   string
		labels []string
		v      float64
	}{
		{"shoal_grpc_requests_total", []string{"code", "OK", "method", "CreateCollection", "service", "shoal.v1.CollectionService"}, 1},
		{"shoal_grpc_requests_total", []string{"code", "OK", "method", "UpsertStream", "service", "shoal.v1.VectorService"}, 1},
		{"shoal_grpc_stream_messages_received_total", []string{"method", "UpsertStream", "service", "shoal.v1.VectorService"}, 5},
		{"shoal_grpc_stream_messages_sent_total", []string{"method", "UpsertStream", "service", "shoal.v1.VectorService"}, 1},
		{"shoal_grpc_requests_in_flight", []string{"method", "Search", "service", "shoal.v1.VectorService"}, 0},
		{"shoal_grpc_request_duration_seconds", search, 7},
		{"shoal_collections", nil, 1},
		{"shoal_vectors", nil, 500},
		{"shoal_vectors", []string{"collection", "docs"}, 500},
		{"shoal_queries_total", []string{"collection", "docs"}, 7},
		{"shoal_upserted_total", nil, 500},
		{"shoal_tenants", nil, 0},
	}
	for _, w := range want {
		if v, ok := got.get(w.name, w.labels...); !ok || v != w.v {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, v, ok, w.v)
		}
	}
	for _, name := range []string{"shoal_read_bytes_total", "shoal_read_ops_total", "shoal_cache_hits_total", "shoal_cache_misses_total",
		"shoal_cache_hit_ratio", "shoal_cache_bytes", "shoal_tail_bytes", "shoal_folds_total", "shoal_postings_read_total", "shoal_postings",
		"shoal_uptime_seconds", "process_resident_memory_bytes", "go_goroutines", "go_memstats_heap_alloc_bytes", "go_memstats_sys_bytes"} {
		if _, ok := got.get(name); !ok {
			t.Errorf("%s (without labels) missing", name)
		}
	}
	h := got.histogram("shoal_grpc_request_duration_seconds", search...)
	if h == nil {
		t.Fatal("no latency histogram for Search/OK")
	}
	if s := h.GetSampleSum(); s <= 0 || s > 60 {
		t.Errorf("latency sum of the searches = %v s", s)
	}
	bs := h.GetBucket()
	if len(bs) != 16 || bs[0].GetUpperBound() != 0.00025 || bs[14].GetUpperBound() != 10 || !math.IsInf(bs[15].GetUpperBound(), 1) {
		t.Errorf("latency buckets %v, want 15 from 250 µs to 10 s, then +Inf", bs)
	} else if bs[15].GetCumulativeCount() != 7 {
		t.Errorf("bucket le=+Inf = %v, want 7", bs[15].GetCumulativeCount())
	}
	prev := uint64(0)
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < prev {
			t.Errorf("bucket le=%v = %v below the previous %v", b.GetUpperBound(), b.GetCumulativeCount(), prev)
		}
		prev = b.GetCumulativeCount()
	}

	// Each server has its own registry: a second one has counted nothing.
	other := start(t, "", nil)
	ho := httptest.NewServer(other.s.MetricsHandler())
	defer ho.Close()
	if v, ok := scrape(t, ho.URL+"/metrics").get("shoal_grpc_requests_total", search...); ok {
		t.Errorf("a second server reports %v searches of the first", v)
	}

	resp, err := http.Post(hs.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %s, want 405", resp.Status)
	}
}
