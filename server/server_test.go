package server_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

const adminKey = "test-admin-key-0123456789"

// testServer is a server on a loopback port over a data directory that
// outlives restarts.
type testServer struct {
	t    *testing.T
	dir  string
	opts server.Options
	s    *server.Server
	addr string
	done chan error
}

// start opens a server on dir (a fresh one if dir is "") and serves it on
// a loopback port until the test ends or stop is called.
func start(t *testing.T, dir string, opts *server.Options) *testServer {
	t.Helper()
	ts := &testServer{t: t, dir: dir}
	if ts.dir == "" {
		ts.dir = t.TempDir()
	}
	if opts != nil {
		ts.opts = *opts
	}
	ts.opts.DataDir = ts.dir
	if ts.opts.AdminKey == "" {
		ts.opts.AdminKey = adminKey
	}
	if ts.opts.Logger == nil {
		ts.opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ts.restart()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) restart() {
	ts.t.Helper()
	s, err := server.Open(&ts.opts)
	if err != nil {
		ts.t.Fatalf("server.Open: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.s, ts.addr, ts.done = s, lis.Addr().String(), make(chan error, 1)
	go func() { ts.done <- s.Serve(lis) }()
}

// stop shuts the server down gracefully; it may be called twice.
func (ts *testServer) stop() {
	if ts.s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.s.Shutdown(ctx); err != nil {
		ts.t.Errorf("Shutdown: %v", err)
	}
	if err := <-ts.done; err != nil {
		ts.t.Errorf("Serve: %v", err)
	}
	ts.s = nil
}

// dial returns a client with key (the admin key if "admin").
func (ts *testServer) dial(key string) *client.Client {
	ts.t.Helper()
	if key == "admin" {
		key = adminKey
	}
	c, err := client.Dial(ts.addr, &client.Options{APIKey: key, MaxSendBatch: 100})
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { c.Close() })
	return c
}

// clustered returns n vectors of dim around 16 Gaussian centres.
func clustered(rng *rand.Rand, n, dim int) [][]float32 {
	centres := make([][]float32, 16)
	for i := range centres {
		centres[i] = make([]float32, dim)
		for d := range centres[i] {
			centres[i][d] = float32(rng.NormFloat64() * 4)
		}
	}
	out := make([][]float32, n)
	for i := range out {
		c := centres[rng.IntN(len(centres))]
		out[i] = make([]float32, dim)
		for d := range out[i] {
			out[i][d] = c[d] + float32(rng.NormFloat64())
		}
	}
	return out
}

// bruteForce returns the ids of the k nearest vectors to q by squared L2
// among vecs (id = ids[i]), skipping deleted ones.
func bruteForce(ids []uint64, vecs [][]float32, q []float32, k int, deleted map[uint64]bool) []uint64 {
	type cand struct {
		id uint64
		d  float32
	}
	var all []cand
	for i, v := range vecs {
		if deleted[ids[i]] {
			continue
		}
		var d float32
		for j := range v {
			x := v[j] - q[j]
			d += x * x
		}
		all = append(all, cand{ids[i], d})
	}
	sort.Slice(all, func(a, b int) bool { return all[a].d < all[b].d })
	out := make([]uint64, 0, k)
	for _, c := range all[:min(k, len(all))] {
		out = append(out, c.id)
	}
	return out
}

func recallOf(hits []*shoalv1.Hit, want []uint64) float64 {
	n := 0
	for _, h := range hits {
		if slices.Contains(want, h.GetId()) {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Errorf("%s: code %v (%v), want %v", what, got, err, code)
	} else {
		t.Logf("%s: %v", what, err)
	}
}

// fixture is a collection with n vectors, ids 1000+i.
type fixture struct {
	ids  []uint64
	vecs [][]float32
}

func ingest(t *testing.T, c *client.Client, name string, n, dim int, seed uint64) fixture {
	t.Helper()
	return ingestConfig(t, c, name, &shoalv1.CollectionConfig{Dim: uint32(dim)}, n, seed)
}

// ingestConfig is ingest into a collection created with cfg.
func ingestConfig(t *testing.T, c *client.Client, name string, cfg *shoalv1.CollectionConfig, n int, seed uint64) fixture {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateCollection(ctx, name, cfg); err != nil {
		t.Fatalf("CreateCollection: %v", err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	f := fixture{vecs: clustered(rng, n, int(cfg.GetDim()))}
	for i := range f.vecs {
		f.ids = append(f.ids, uint64(1000+i))
	}
	got, err := c.UpsertStream(ctx, name, f.ids, f.vecs)
	if err != nil || got != n {
		t.Fatalf("UpsertStream = %d, %v; want %d", got, err, n)
	}
	return f
}

// meanRecall searches nq of the fixture's vectors, perturbed, and
// returns the mean recall@10 against brute force.
func meanRecall(t *testing.T, c *client.Client, name string, f fixture, nq int, deleted map[uint64]bool) float64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(99, 1))
	var sum float64
	for i := 0; i < nq; i++ {
		q := slices.Clone(f.vecs[rng.IntN(len(f.vecs))])
		for d := range q {
			q[d] += float32(rng.NormFloat64() * 0.5)
		}
		hits, err := c.Search(context.Background(), name, q, 10, &shoalv1.SearchParams{Nprobe: 32})
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		for _, h := range hits {
			if deleted[h.GetId()] {
				t.Fatalf("Search returned deleted id %d", h.GetId())
			}
		}
		sum += recallOf(hits, bruteForce(f.ids, f.vecs, q, 10, deleted))
	}
	return sum / float64(nq)
}

// TestEndToEnd: create, ingest by stream, search (recall against brute
// force), batch search, get, delete, stats, restart with data intact,
// drop.
func TestEndToEnd(t *testing.T) {
	const n, dim = 4000, 16
	ts := start(t, "", nil)
	c := ts.dial("admin")
	ctx := context.Background()
	f := ingest(t, c, "docs", n, dim, 1)

	if r := meanRecall(t, c, "docs", f, 40, nil); r < 0.9 {
		t.Errorf("recall@10 = %.3f, want >= 0.9", r)
	}
	// SearchBatch answers as Search does.
	qs := []*shoalv1.Query{{Values: f.vecs[3]}, {Values: f.vecs[77]}}
	batch, err := c.Vectors.SearchBatch(ctx, &shoalv1.SearchBatchRequest{Collection: "docs", Queries: qs, TopK: 5, IncludeVectors: true})
	if err != nil {
		t.Fatalf("SearchBatch: %v", err)
	}
	for i, q := range qs {
		one, err := c.Search(ctx, "docs", q.GetValues(), 5, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := batch.GetResults()[i].GetHits()
		if len(got) != len(one) || got[0].GetId() != one[0].GetId() {
			t.Errorf("SearchBatch query %d: %v, Search: %v", i, got, one)
		}
		if got[0].GetDistance() != 0 || !slices.Equal(got[0].GetValues(), q.GetValues()) {
			t.Errorf("query %d is a stored vector: nearest hit should be it, with its values: %v", i, got[0])
		}
	}
	// Get and Delete.
	vs, err := c.Get(ctx, "docs", []uint64{1000, 1001, 999999})
	if err != nil || len(vs) != 2 || !slices.Equal(vs[1001], f.vecs[1]) {
		t.Fatalf("Get = %d vectors, %v; want ids 1000 and 1001 as stored", len(vs), err)
	}
	deleted := map[uint64]bool{}
	var del []uint64
	for i := 0; i < n; i += 10 {
		del = append(del, f.ids[i])
		deleted[f.ids[i]] = true
	}
	if got, err := c.Delete(ctx, "docs", append(del, 999999)); err != nil || got != len(del) {
		t.Fatalf("Delete = %d, %v; want %d", got, err, len(del))
	}
	if vs, _ := c.Get(ctx, "docs", del[:3]); len(vs) != 0 {
		t.Errorf("Get of deleted ids returned %d vectors", len(vs))
	}
	want := n - len(del)
	st, err := c.Collections.GetStats(ctx, &shoalv1.GetStatsRequest{Collection: "docs"})
	if err != nil || st.GetVectorCount() != uint64(want) || st.GetQueries() == 0 {
		t.Fatalf("GetStats = %v, %v; want %d vectors and some queries", st, err, want)
	}

	// Restart: everything is still there.
	ts.stop()
	ts.restart()
	c = ts.dial("admin")
	col, err := c.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil || col.GetVectorCount() != uint64(want) || col.GetConfig().GetDim() != dim {
		t.Fatalf("after restart: Describe = %v, %v; want %d vectors of dim %d", col, err, want, dim)
	}
	if r := meanRecall(t, c, "docs", f, 20, deleted); r < 0.9 {
		t.Errorf("recall@10 after restart = %.3f, want >= 0.9", r)
	}
	if vs, err := c.Get(ctx, "docs", []uint64{1001}); err != nil || !slices.Equal(vs[1001], f.vecs[1]) {
		t.Errorf("after restart Get(1001) = %v, %v", vs, err)
	}

	// Drop: gone, also after a restart; the name can be used again.
	if err := c.DropCollection(ctx, "docs"); err != nil {
		t.Fatalf("DropCollection: %v", err)
	}
	_, err = c.Search(ctx, "docs", f.vecs[0], 1, nil)
	wantCode(t, "Search of a dropped collection", err, codes.NotFound)
	ts.stop()
	ts.restart()
	c = ts.dial("admin")
	list, err := c.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
	if err != nil || len(list.GetCollections()) != 0 {
		t.Fatalf("ListCollections after drop and restart = %v, %v; want none", list, err)
	}
	if _, err := c.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: 4}); err != nil {
		t.Fatalf("re-create after drop: %v", err)
	}
	col, err = c.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil || col.GetVectorCount() != 0 || col.GetConfig().GetDim() != 4 {
		t.Errorf("re-created collection = %v, %v; want empty, dim 4", col, err)
	}
}

// TestManyCollections: collections are independent and share one
// database; health reports SERVING.
func TestManyCollections(t *testing.T) {
	ts := start(t, "", nil)
	c := ts.dial("admin")
	ctx := context.Background()
	for i := range 20 {
		name := "c" + string(rune('a'+i))
		if _, err := c.CreateCollection(ctx, name, &shoalv1.CollectionConfig{Dim: 4, Metric: shoalv1.Metric_METRIC_COSINE}); err != nil {
			t.Fatal(err)
		}
		if err := c.Upsert(ctx, name, []uint64{uint64(i)}, [][]float32{{1, float32(i), 0, 0}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		name := "c" + string(rune('a'+i))
		hits, err := c.Search(ctx, name, []float32{1, float32(i), 0, 0}, 5, nil)
		if err != nil || len(hits) != 1 || hits[0].GetId() != uint64(i) {
			t.Errorf("collection %s: hits %v, %v; want only its own id %d", name, hits, err, i)
		}
	}
	h, err := c.Health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v", h, err)
	}
}
