package server_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// scrape GETs url and parses the Prometheus text format strictly: every
// sample belongs to a family declared by # TYPE, values parse. It
// returns the samples by name{labels} as written.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s, %q: %s", url, resp.Status, resp.Header.Get("Content-Type"), b)
	}
	sampleRE := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (\S+)$`)
	types := map[string]string{}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("malformed sample line %q", line)
		}
		fam := m[1]
		if types[fam] == "" {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(fam, suf); ok && types[b] == "histogram" {
					fam = b
				}
			}
		}
		if types[fam] == "" {
			t.Errorf("sample %q has no # TYPE line before it", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Errorf("sample %q: value: %v", line, err)
		}
		out[m[1]+m[2]] = v
	}
	return out
}

// TestMetrics: /metrics counts calls per method and code with latency
// histograms, and reports the collections' reads, cache and background
// work.
func TestMetrics(t *testing.T) {
	ts := start(t, "", nil)
	hs := httptest.NewServer(ts.s.MetricsHandler())
	defer hs.Close()
	c := ts.dial("admin")
	ctx := context.Background()
	f := ingest(t, c, "docs", 500, 8, 5)
	for i := range 7 {
		if _, err := c.Search(ctx, "docs", f.vecs[i], 5, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Search(ctx, "docs", []float32{1}, 5, nil)
	wantCode(t, "Search of the wrong dimension", err, codes.InvalidArgument)

	got := scrape(t, hs.URL+"/metrics")
	const search = `service="shoal.v1.VectorService",method="Search"`
	want := map[string]float64{
		`shoal_grpc_requests_total{` + search + `,code="OK"}`:                                                 7,
		`shoal_grpc_requests_total{` + search + `,code="InvalidArgument"}`:                                    1,
		`shoal_grpc_request_duration_seconds_count{` + search + `,code="OK"}`:                                 7,
		`shoal_grpc_request_duration_seconds_bucket{` + search + `,code="OK",le="+Inf"}`:                      7,
		`shoal_grpc_requests_total{service="shoal.v1.CollectionService",method="CreateCollection",code="OK"}`: 1,
		`shoal_collections`:                      1,
		`shoal_vectors`:                          500,
		`shoal_vectors{collection="docs"}`:       500,
		`shoal_queries_total{collection="docs"}`: 7,
		`shoal_upserted_total`:                   500,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	for _, k := range []string{"shoal_read_bytes_total", "shoal_cache_hits_total", "shoal_cache_misses_total", "shoal_cache_hit_ratio",
		"shoal_tail_bytes", "shoal_folds_total", "shoal_postings_read_total", "shoal_tenants", "process_resident_memory_bytes", "go_goroutines"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	if s := got[`shoal_grpc_request_duration_seconds_sum{`+search+`,code="OK"}`]; s <= 0 || s > 60 {
		t.Errorf("latency sum of 7 searches = %v s", s)
	}
	// Buckets are cumulative.
	prev := 0.0
	for _, le := range []string{"0.00025", "0.001", "0.01", "0.1", "1", "10", "+Inf"} {
		v := got[`shoal_grpc_request_duration_seconds_bucket{`+search+`,code="OK",le="`+le+`"}`]
		if v < prev {
			t.Errorf("bucket le=%s = %v below the previous %v", le, v, prev)
		}
		prev = v
	}
	resp, err := http.Post(hs.URL+"/metrics", "text/plain", nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /metrics: %s, want 405", resp.Status)
		}
	}
}
