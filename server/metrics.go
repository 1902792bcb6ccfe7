package server

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/shoaldb/shoal/index"
)

// Prometheus metrics, written by hand in the text exposition format
// (version 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/)
// so that the server needs no metrics library.
//
// Every gRPC call counts in shoal_grpc_requests_total and
// shoal_grpc_request_duration_seconds, labelled by service, method and
// status code (recorded by the interceptors). The index's counters are
// read at scrape time: summed over all collections, and per collection
// (label collection) while there are at most metricsPerCollectionMax
// collections, so that a server of thousands of collections does not
// answer each scrape with hundreds of thousands of series.

// metricsPerCollectionMax is the number of collections up to which the
// index's metrics are also given per collection.
const metricsPerCollectionMax = 256

// latencyBuckets are the upper bounds (seconds) of the request duration
// histogram: 250 µs to 10 s.
var latencyBuckets = []float64{0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// callKey labels one series of the call metrics.
type callKey struct {
	method string // the gRPC full method, /package.Service/Method
	code   codes.Code
}

// callSeries is the count and latency histogram of one callKey. Its
// fields are updated atomically.
type callSeries struct {
	buckets [16]atomic.Uint64 // per bucket of latencyBuckets, then +Inf; not cumulative
	count   atomic.Uint64
	sumNs   atomic.Uint64
}

// callMetrics holds the call series. Safe for concurrent use.
type callMetrics struct {
	mu     sync.RWMutex
	series map[callKey]*callSeries
}

// observe records one call.
func (m *callMetrics) observe(method string, code codes.Code, took time.Duration) {
	k := callKey{method, code}
	m.mu.RLock()
	s := m.series[k]
	m.mu.RUnlock()
	if s == nil {
		m.mu.Lock()
		if m.series == nil {
			m.series = make(map[callKey]*callSeries)
		}
		if s = m.series[k]; s == nil {
			s = new(callSeries)
			m.series[k] = s
		}
		m.mu.Unlock()
	}
	sec := took.Seconds()
	b := len(latencyBuckets)
	for i, le := range latencyBuckets {
		if sec <= le {
			b = i
			break
		}
	}
	s.buckets[b].Add(1)
	s.count.Add(1)
	s.sumNs.Add(uint64(max(took, 0)))
}

// MetricsHandler returns the handler of GET /metrics: Prometheus text
// format. It reads every open collection's statistics; serve it on its
// own listener (shoal serve -metrics-listen).
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		s.writeMetrics(bw)
		bw.Flush()
	})
}

// metricsWriter writes families of the exposition format.
type metricsWriter struct{ w io.Writer }

func (m metricsWriter) family(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one sample; labels alternate names and values.
func (m metricsWriter) sample(name string, v float64, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatValue(v))
	b.WriteByte('\n')
	io.WriteString(m.w, b.String())
}

func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// splitMethod splits /package.Service/Method into service and method.
func splitMethod(full string) (service, method string) {
	service, method, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok {
		return "unknown", full
	}
	return service, method
}

func (s *Server) writeMetrics(w io.Writer) {
	m := metricsWriter{w}
	s.writeCallMetrics(m)
	s.writeIndexMetrics(m)
	s.writeProcessMetrics(m)
}

func (s *Server) writeCallMetrics(m metricsWriter) {
	s.calls.mu.RLock()
	keys := make([]callKey, 0, len(s.calls.series))
	for k := range s.calls.series {
		keys = append(keys, k)
	}
	series := make([]*callSeries, len(keys))
	slices.SortFunc(keys, func(a, b callKey) int {
		if c := strings.Compare(a.method, b.method); c != 0 {
			return c
		}
		return int(a.code) - int(b.code)
	})
	for i, k := range keys {
		series[i] = s.calls.series[k]
	}
	s.calls.mu.RUnlock()

	m.family("shoal_grpc_requests_total", "counter", "gRPC calls finished, by service, method and status code.")
	for i, k := range keys {
		svc, meth := splitMethod(k.method)
		m.sample("shoal_grpc_requests_total", float64(series[i].count.Load()), "service", svc, "method", meth, "code", k.code.String())
	}
	m.family("shoal_grpc_request_duration_seconds", "histogram", "Time from the call's arrival to its status, by service, method and status code.")
	for i, k := range keys {
		svc, meth := splitMethod(k.method)
		cs := series[i]
		code := k.code.String()
		var cum uint64
		for b, le := range latencyBuckets {
			cum += cs.buckets[b].Load()
			m.sample("shoal_grpc_request_duration_seconds_bucket", float64(cum), "service", svc, "method", meth, "code", code, "le", formatValue(le))
		}
		cum += cs.buckets[len(latencyBuckets)].Load()
		m.sample("shoal_grpc_request_duration_seconds_bucket", float64(cum), "service", svc, "method", meth, "code", code, "le", "+Inf")
		m.sample("shoal_grpc_request_duration_seconds_sum", float64(cs.sumNs.Load())/1e9, "service", svc, "method", meth, "code", code)
		m.sample("shoal_grpc_request_duration_seconds_count", float64(cum), "service", svc, "method", meth, "code", code)
	}
}

// indexMetric is one metric read from a collection's index.Stats.
type indexMetric struct {
	name, typ, help string
	value           func(st *index.Stats) float64
}

var indexMetrics = []indexMetric{
	{"shoal_vectors", "gauge", "Vectors held.", func(st *index.Stats) float64 { return float64(st.Live) }},
	{"shoal_postings", "gauge", "Postings (SPANN heads).", func(st *index.Stats) float64 { return float64(st.Heads) }},
	{"shoal_queries_total", "counter", "Searches run (a batch counts each query).", func(st *index.Stats) float64 { return float64(st.Queries) }},
	{"shoal_postings_read_total", "counter", "Postings read by searches.", func(st *index.Stats) float64 { return float64(st.PostingsRead) }},
	{"shoal_read_bytes_total", "counter", "Bytes read from disk for postings (direct I/O).", func(st *index.Stats) float64 { return float64(st.ReadBytes) }},
	{"shoal_read_ops_total", "counter", "Disk reads issued for postings.", func(st *index.Stats) float64 { return float64(st.ReadOps) }},
	{"shoal_cache_hits_total", "counter", "Posting cache hits.", func(st *index.Stats) float64 { return float64(st.CacheHits) }},
	{"shoal_cache_misses_total", "counter", "Posting cache misses.", func(st *index.Stats) float64 { return float64(st.CacheMisses) }},
	{"shoal_cache_bytes", "gauge", "Memory the posting caches hold.", func(st *index.Stats) float64 { return float64(st.CacheBytes) }},
	{"shoal_upserted_total", "counter", "Vectors upserted.", func(st *index.Stats) float64 { return float64(st.Upserted) }},
	{"shoal_deleted_total", "counter", "Vectors deleted.", func(st *index.Stats) float64 { return float64(st.Deleted) }},
	{"shoal_tail_bytes", "gauge", "Background work queue: memory of upserted copies not yet folded into postings.", func(st *index.Stats) float64 { return float64(st.TailBytes) }},
	{"shoal_writes_busy_total", "counter", "Writes refused with RESOURCE_EXHAUSTED because background maintenance was behind (-write-stall).", func(st *index.Stats) float64 { return float64(st.Busy) }},
	{"shoal_folds_total", "counter", "Postings rewritten by background maintenance.", func(st *index.Stats) float64 { return float64(st.Folds) }},
	{"shoal_splits_total", "counter", "Postings split by background maintenance.", func(st *index.Stats) float64 { return float64(st.Splits) }},
	{"shoal_merges_total", "counter", "Postings merged away by background maintenance.", func(st *index.Stats) float64 { return float64(st.Merges) }},
	{"shoal_reassigned_total", "counter", "Vectors moved by the reassign step after splits.", func(st *index.Stats) float64 { return float64(st.Reassigned) }},
}

func (s *Server) writeIndexMetrics(m metricsWriter) {
	names := s.names()
	stats := make([]index.Stats, 0, len(names))
	tenants := 0
	for _, name := range names {
		c, err := s.acquire(name)
		if err != nil {
			continue // dropped meanwhile, or shutting down
		}
		stats = append(stats, c.ix.Stats())
		c.tmu.Lock()
		tenants += len(c.tenants)
		c.tmu.Unlock()
		c.release()
		names[len(stats)-1] = name
	}
	names = names[:len(stats)]
	m.family("shoal_collections", "gauge", "Open collections.")
	m.sample("shoal_collections", float64(len(stats)))
	m.family("shoal_tenants", "gauge", "Tenants, summed over collections.")
	m.sample("shoal_tenants", float64(tenants))
	perColl := len(stats) <= metricsPerCollectionMax
	var sum index.Stats
	for i := range stats {
		st := &stats[i]
		sum.Live += st.Live
		sum.Heads += st.Heads
		sum.Queries += st.Queries
		sum.PostingsRead += st.PostingsRead
		sum.ReadBytes += st.ReadBytes
		sum.ReadOps += st.ReadOps
		sum.CacheHits += st.CacheHits
		sum.CacheMisses += st.CacheMisses
		sum.CacheBytes += st.CacheBytes
		sum.Upserted += st.Upserted
		sum.Deleted += st.Deleted
		sum.TailBytes += st.TailBytes
		sum.Folds += st.Folds
		sum.Splits += st.Splits
		sum.Merges += st.Merges
		sum.Reassigned += st.Reassigned
		sum.Busy += st.Busy
	}
	for _, im := range indexMetrics {
		m.family(im.name, im.typ, im.help+" Without a collection label: all collections.")
		m.sample(im.name, im.value(&sum))
		if perColl {
			for i := range stats {
				m.sample(im.name, im.value(&stats[i]), "collection", names[i])
			}
		}
	}
	m.family("shoal_cache_hit_ratio", "gauge", "Posting cache hits / lookups since the collections were opened (all collections); 0 before any lookup.")
	ratio := 0.0
	if n := sum.CacheHits + sum.CacheMisses; n > 0 {
		ratio = float64(sum.CacheHits) / float64(n)
	}
	m.sample("shoal_cache_hit_ratio", ratio)
}

func (s *Server) writeProcessMetrics(m metricsWriter) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.family("shoal_uptime_seconds", "gauge", "Seconds since the server opened its data directory.")
	m.sample("shoal_uptime_seconds", time.Since(s.started).Seconds())
	m.family("go_goroutines", "gauge", "Goroutines.")
	m.sample("go_goroutines", float64(runtime.NumGoroutine()))
	m.family("go_memstats_heap_alloc_bytes", "gauge", "Go heap bytes allocated and in use.")
	m.sample("go_memstats_heap_alloc_bytes", float64(ms.HeapAlloc))
	m.family("go_memstats_sys_bytes", "gauge", "Bytes the Go runtime obtained from the OS.")
	m.sample("go_memstats_sys_bytes", float64(ms.Sys))
	if rss, ok := residentBytes(); ok {
		m.family("process_resident_memory_bytes", "gauge", "Resident set size (RSS).")
		m.sample("process_resident_memory_bytes", float64(rss))
	}
}

// residentBytes returns the process's RSS from /proc/self/statm (Linux).
func residentBytes() (int64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}
