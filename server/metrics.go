package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/shoaldb/shoal/index"
)

// Prometheus metrics (github.com/prometheus/client_golang), in a registry
// of the Server's own: a process may open several servers (tests do), and
// none of them touches prometheus.DefaultRegisterer.
//
// Every gRPC call counts in shoal_grpc_requests_total and
// shoal_grpc_request_duration_seconds, labelled by service, method and
// status code (recorded by logCall, under the interceptors); calls in
// progress in shoal_grpc_requests_in_flight, and the messages of streams
// in shoal_grpc_stream_messages_{received,sent}_total (metricsUnary,
// metricsStream, around the other interceptors). The index's counters
// are read at scrape time (indexCollector): summed over all collections,
// and per collection (label collection) while there are at most
// metricsPerCollectionMax collections, so that a server of thousands of
// collections does not answer each scrape with hundreds of thousands of
// series. The Go runtime and process collectors give go_* and process_*.
//
// docs/server.md lists every metric; dashboards depend on the names.

// metricsPerCollectionMax is the number of collections up to which the
// index's metrics are also given per collection.
const metricsPerCollectionMax = 256

// latencyBuckets are the upper bounds (seconds) of the request duration
// histogram: 250 µs to 10 s.
var latencyBuckets = []float64{0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// callMetrics are the server's gRPC metrics and the registry that holds
// every metric of the server. Safe for concurrent use once init has run
// (Open, before the gRPC server exists).
type callMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // service, method, code
	duration *prometheus.HistogramVec // service, method, code
	inFlight *prometheus.GaugeVec     // service, method
	msgsRecv *prometheus.CounterVec   // service, method (streams)
	msgsSent *prometheus.CounterVec   // service, method (streams)
	// methods caches each full method's series, so that a call neither
	// splits its method name nor hashes label values (nor allocates).
	methods struct {
		sync.RWMutex
		m map[string]*methodSeries // by full method
	}
}

// methodSeries are the series of one gRPC method.
type methodSeries struct {
	service, method    string
	inFlight           prometheus.Gauge
	msgsRecv, msgsSent prometheus.Counter
	byCode             [numCodes]atomic.Pointer[codeSeries] // made on first use
}

// numCodes bounds the gRPC status codes (0 OK to 16 Unauthenticated).
const numCodes = 17

// codeSeries are the series of one gRPC method and status code.
type codeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// initMetrics creates s's registry and registers every collector.
func (s *Server) initMetrics() {
	m := &s.calls
	m.reg = prometheus.NewRegistry()
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_grpc_requests_total",
		Help: "gRPC calls finished, by service, method and status code.",
	}, []string{"service", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "shoal_grpc_request_duration_seconds",
		Help:    "Time from the call's arrival to its status, by service, method and status code.",
		Buckets: latencyBuckets,
	}, []string{"service", "method", "code"})
	m.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shoal_grpc_requests_in_flight",
		Help: "gRPC calls started and not yet finished, by service and method.",
	}, []string{"service", "method"})
	m.msgsRecv = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_grpc_stream_messages_received_total",
		Help: "Messages received on streaming calls, by service and method.",
	}, []string{"service", "method"})
	m.msgsSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_grpc_stream_messages_sent_total",
		Help: "Messages sent on streaming calls, by service and method.",
	}, []string{"service", "method"})
	m.reg.MustRegister(
		m.requests, m.duration, m.inFlight, m.msgsRecv, m.msgsSent,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "shoal_uptime_seconds",
			Help: "Seconds since the server opened its data directory.",
		}, func() float64 { return time.Since(s.started).Seconds() }),
		indexCollector{s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

// series returns the series of the full method /package.Service/Method.
func (m *callMetrics) series(full string) *methodSeries {
	m.methods.RLock()
	ms := m.methods.m[full]
	m.methods.RUnlock()
	if ms != nil {
		return ms
	}
	m.methods.Lock()
	defer m.methods.Unlock()
	if ms = m.methods.m[full]; ms != nil {
		return ms
	}
	svc, meth := splitMethod(full)
	ms = &methodSeries{
		service:  svc,
		method:   meth,
		inFlight: m.inFlight.WithLabelValues(svc, meth),
		msgsRecv: m.msgsRecv.WithLabelValues(svc, meth),
		msgsSent: m.msgsSent.WithLabelValues(svc, meth),
	}
	if m.methods.m == nil {
		m.methods.m = make(map[string]*methodSeries)
	}
	m.methods.m[full] = ms
	return ms
}

// observe records one finished call.
func (m *callMetrics) observe(method string, code codes.Code, took time.Duration) {
	ms := m.series(method)
	var cs *codeSeries
	if code < numCodes {
		cs = ms.byCode[code].Load()
	}
	if cs == nil {
		c := code.String()
		cs = &codeSeries{
			requests: m.requests.WithLabelValues(ms.service, ms.method, c),
			duration: m.duration.WithLabelValues(ms.service, ms.method, c),
		}
		if code < numCodes {
			ms.byCode[code].Store(cs) // a racing call stores the same series
		}
	}
	cs.requests.Inc()
	cs.duration.Observe(took.Seconds())
}

// metricsUnary counts a unary call in flight around unaryInterceptor.
// It calls that directly rather than through grpc.ChainUnaryInterceptor,
// whose chaining allocates per call.
func (s *Server) metricsUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	g := s.calls.series(info.FullMethod).inFlight
	g.Inc()
	defer g.Dec()
	return s.unaryInterceptor(ctx, req, info, handler)
}

// metricsStream counts a streaming call in flight and its messages
// around streamInterceptor.
func (s *Server) metricsStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ms := s.calls.series(info.FullMethod)
	ms.inFlight.Inc()
	defer ms.inFlight.Dec()
	return s.streamInterceptor(srv, &countedStream{ServerStream: ss, ms: ms}, info, handler)
}

// countedStream counts the messages of a stream.
type countedStream struct {
	grpc.ServerStream
	ms *methodSeries
}

func (c *countedStream) RecvMsg(m any) error {
	err := c.ServerStream.RecvMsg(m)
	if err == nil {
		c.ms.msgsRecv.Inc()
	}
	return err
}

func (c *countedStream) SendMsg(m any) error {
	err := c.ServerStream.SendMsg(m)
	if err == nil {
		c.ms.msgsSent.Inc()
	}
	return err
}

// MetricsHandler returns the handler of GET /metrics: the server's
// registry in the Prometheus exposition format (promhttp). It reads every
// open collection's statistics; serve it on its own listener (shoal serve
// -metrics-listen).
func (s *Server) MetricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.calls.reg, promhttp.HandlerOpts{ErrorLog: promLogger{s}})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// promLogger logs promhttp's errors (a collector that failed) to the
// server's log.
type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) {
	l.s.log.Warn("metrics: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

// splitMethod splits /package.Service/Method into service and method.
func splitMethod(full string) (service, method string) {
	service, method, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok {
		return "unknown", full
	}
	return service, method
}

// indexMetric is one metric read from a collection's index.Stats.
type indexMetric struct {
	desc, descColl *prometheus.Desc // without and with the collection label
	typ            prometheus.ValueType
	value          func(st *index.Stats) float64
}

func newIndexMetric(name string, typ prometheus.ValueType, help string, value func(st *index.Stats) float64) indexMetric {
	help += " Without a collection label: all collections."
	return indexMetric{
		desc:     prometheus.NewDesc(name, help, nil, nil),
		descColl: prometheus.NewDesc(name, help, []string{"collection"}, nil),
		typ:      typ,
		value:    value,
	}
}

var (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

var indexMetrics = []indexMetric{
	newIndexMetric("shoal_vectors", gauge, "Vectors held.", func(st *index.Stats) float64 { return float64(st.Live) }),
	newIndexMetric("shoal_postings", gauge, "Postings (SPANN heads).", func(st *index.Stats) float64 { return float64(st.Heads) }),
	newIndexMetric("shoal_queries_total", counter, "Searches run (a batch counts each query).", func(st *index.Stats) float64 { return float64(st.Queries) }),
	newIndexMetric("shoal_postings_read_total", counter, "Postings read by searches.", func(st *index.Stats) float64 { return float64(st.PostingsRead) }),
	newIndexMetric("shoal_read_bytes_total", counter, "Bytes read from disk for postings (direct I/O).", func(st *index.Stats) float64 { return float64(st.ReadBytes) }),
	newIndexMetric("shoal_read_ops_total", counter, "Disk reads issued for postings.", func(st *index.Stats) float64 { return float64(st.ReadOps) }),
	newIndexMetric("shoal_cache_hits_total", counter, "Posting cache hits.", func(st *index.Stats) float64 { return float64(st.CacheHits) }),
	newIndexMetric("shoal_cache_misses_total", counter, "Posting cache misses.", func(st *index.Stats) float64 { return float64(st.CacheMisses) }),
	newIndexMetric("shoal_cache_bytes", gauge, "Memory the posting caches hold.", func(st *index.Stats) float64 { return float64(st.CacheBytes) }),
	newIndexMetric("shoal_upserted_total", counter, "Vectors upserted.", func(st *index.Stats) float64 { return float64(st.Upserted) }),
	newIndexMetric("shoal_deleted_total", counter, "Vectors deleted.", func(st *index.Stats) float64 { return float64(st.Deleted) }),
	newIndexMetric("shoal_tail_bytes", gauge, "Background work queue: memory of upserted copies not yet folded into postings.", func(st *index.Stats) float64 { return float64(st.TailBytes) }),
	newIndexMetric("shoal_writes_busy_total", counter, "Writes refused with RESOURCE_EXHAUSTED because background maintenance was behind (-write-stall).", func(st *index.Stats) float64 { return float64(st.Busy) }),
	newIndexMetric("shoal_folds_total", counter, "Postings rewritten by background maintenance.", func(st *index.Stats) float64 { return float64(st.Folds) }),
	newIndexMetric("shoal_splits_total", counter, "Postings split by background maintenance.", func(st *index.Stats) float64 { return float64(st.Splits) }),
	newIndexMetric("shoal_merges_total", counter, "Postings merged away by background maintenance.", func(st *index.Stats) float64 { return float64(st.Merges) }),
	newIndexMetric("shoal_reassigned_total", counter, "Vectors moved by the reassign step after splits.", func(st *index.Stats) float64 { return float64(st.Reassigned) }),
}

var (
	descCollections = prometheus.NewDesc("shoal_collections", "Open collections.", nil, nil)
	descTenants     = prometheus.NewDesc("shoal_tenants", "Tenants, summed over collections.", nil, nil)
	descHitRatio    = prometheus.NewDesc("shoal_cache_hit_ratio", "Posting cache hits / lookups since the collections were opened (all collections); 0 before any lookup.", nil, nil)
)

// indexCollector reads the open collections' index.Stats at each scrape.
// It is an unchecked collector (Describe sends nothing): each index
// metric has a series without labels (the sum over collections) and,
// with at most metricsPerCollectionMax collections, one per collection,
// as the hand-written exposition before it had, and the registry refuses
// two label sets for one name from a checked collector.
type indexCollector struct{ s *Server }

func (indexCollector) Describe(chan<- *prometheus.Desc) {}

func (c indexCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
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
	ch <- prometheus.MustNewConstMetric(descCollections, gauge, float64(len(stats)))
	ch <- prometheus.MustNewConstMetric(descTenants, gauge, float64(tenants))
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
		ch <- prometheus.MustNewConstMetric(im.desc, im.typ, im.value(&sum))
		if perColl {
			for i := range stats {
				ch <- prometheus.MustNewConstMetric(im.descColl, im.typ, im.value(&stats[i]), names[i])
			}
		}
	}
	ratio := 0.0
	if n := sum.CacheHits + sum.CacheMisses; n > 0 {
		ratio = float64(sum.CacheHits) / float64(n)
	}
	ch <- prometheus.MustNewConstMetric(descHitRatio, gauge, ratio)
}
