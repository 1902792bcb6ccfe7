package fleet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

const testKey = "fleet-test-admin-key-0123"

// testCluster is NATS servers and nodes in this process.
type testCluster struct {
	t *testing.T
	// tune, when set, adjusts every node's options.
	tune  func(*Options)
	dir   string
	nats  *NATS
	nodes []*Node
	addrs []string
}

func startCluster(t *testing.T, natsServers, nodes int) *testCluster {
	t.Helper()
	return startClusterWith(t, natsServers, nodes, nil)
}

// startClusterWith is startCluster with tune adjusting the nodes' options.
func startClusterWith(t *testing.T, natsServers, nodes int, tune func(*Options)) *testCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts NATS servers")
	}
	c := &testCluster{t: t, dir: t.TempDir(), tune: tune}
	var err error
	if c.nats, err = StartNATS(filepath.Join(c.dir, "nats"), natsServers, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n != nil {
				n.Close()
			}
		}
		c.nats.Close()
	})
	c.nodes = make([]*Node, nodes)
	c.addrs = make([]string, nodes)
	for i := range c.nodes {
		c.startNode(i)
	}
	c.waitLive(nodes)
	return c
}

func (c *testCluster) startNode(i int) {
	c.t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	repl := 3
	if c.nats.Len() < 3 {
		repl = 1
	}
	o := Options{
		ID: fmt.Sprintf("node-%d", i), DataDir: c.nodeDir(i),
		NATSURLs: c.nats.URLs(), AdminKey: testKey, StreamReplicas: repl, Lease: time.Second,
		Logger: testLogger(),
		Server: server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
	}
	if c.tune != nil {
		c.tune(&o)
	}
	n, err := Open(o, lis)
	if err != nil {
		c.t.Fatal(err)
	}
	c.nodes[i] = n
	c.addrs[i] = n.Addr()
}

// nodeDir is node i's data directory.
func (c *testCluster) nodeDir(i int) string { return filepath.Join(c.dir, fmt.Sprintf("node-%d", i)) }

func (c *testCluster) stopNode(i int) {
	c.nodes[i].Close()
	c.nodes[i] = nil
}

// waitLive waits until every running node sees want live nodes.
func (c *testCluster) waitLive(want int) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		for _, n := range c.nodes {
			if n != nil && len(n.liveIDs()) != want {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("nodes do not see %d live nodes", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// client dials node i.
func (c *testCluster) client(i int) (shoalv1.CollectionServiceClient, shoalv1.VectorServiceClient) {
	c.t.Helper()
	conn, err := grpc.NewClient(c.addrs[i], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close() })
	return shoalv1.NewCollectionServiceClient(conn), shoalv1.NewVectorServiceClient(conn)
}

func authed(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+testKey)
}

func randVecs(r *rand.Rand, n, dim int) [][]float32 {
	vs := make([][]float32, n)
	for i := range vs {
		vs[i] = make([]float32, dim)
		for j := range vs[i] {
			vs[i][j] = float32(r.NormFloat64())
		}
	}
	return vs
}

func upsertReq(coll string, ids []uint64, vs [][]float32) *shoalv1.UpsertRequest {
	req := &shoalv1.UpsertRequest{Collection: coll}
	for i, id := range ids {
		req.Vectors = append(req.Vectors, &shoalv1.Vector{Id: id, Values: vs[i]})
	}
	return req
}

func l2(a, b []float32) float32 {
	var s float32
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// TestClusterWritesReadsAndFailover: a collection on three nodes with
// three shards answers searches and gets from every node, exactly as the
// data it was given (read your writes through the sequence token); with
// one node down, reads and writes go on; the node restarted catches up
// from the log and its replicas equal the others'.
func TestClusterWritesReadsAndFailover(t *testing.T) {
	c := startCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(authed(context.Background()), 60*time.Second)
	defer cancel()
	cc, vc := c.client(0)
	const dim, n = 16, 600
	col, err := cc.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "docs", Config: &shoalv1.CollectionConfig{Dim: dim}})
	if err != nil {
		t.Fatal(err)
	}
	if col.GetConfig().GetShards() != 3 || col.GetConfig().GetReplication() != 3 {
		t.Fatalf("defaults: %d shards × %d replicas, want 3 × 3", col.GetConfig().GetShards(), col.GetConfig().GetReplication())
	}
	if _, err := cc.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "docs", Config: &shoalv1.CollectionConfig{Dim: dim}}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	// A config the replicas' servers would refuse is refused at once.
	for _, bad := range []*shoalv1.CollectionConfig{{}, {Dim: dim, Quant: "rabitq9"},
		{Dim: dim, Metric: shoalv1.Metric_METRIC_COSINE, ElementType: shoalv1.ElementType_ELEMENT_TYPE_INT8}} {
		if _, err := cc.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "bad", Config: bad}); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("create with %v: %v, want InvalidArgument", bad, err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	vs := randVecs(r, n, dim)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i * 7)
	}
	var hdr metadata.MD
	for lo := 0; lo < n; lo += 200 {
		if _, err := vc.Upsert(ctx, upsertReq("docs", ids[lo:lo+200], vs[lo:lo+200]), grpc.Header(&hdr)); err != nil {
			t.Fatal(err)
		}
	}
	tok := hdr.Get(seqHeader)
	if len(tok) != 1 {
		t.Fatalf("upsert header %v: no %s", hdr, seqHeader)
	}
	// Bad input is refused before it reaches a log.
	bad := upsertReq("docs", []uint64{1}, [][]float32{make([]float32, dim-1)})
	if _, err := vc.Upsert(ctx, bad); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("short vector: %v, want InvalidArgument", err)
	}
	nan := make([]float32, dim)
	nan[3] = float32(math.NaN())
	if _, err := vc.Upsert(ctx, upsertReq("docs", []uint64{1}, [][]float32{nan})); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("NaN: %v, want InvalidArgument", err)
	}
	if _, err := vc.Upsert(ctx, upsertReq("nope", []uint64{1}, [][]float32{vs[0]})); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown collection: %v, want NotFound", err)
	}
	if _, err := vc.Upsert(context.Background(), upsertReq("docs", []uint64{1}, [][]float32{vs[0]})); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no key: %v, want Unauthenticated", err)
	}

	// Every node answers, after applying the writes the token names.
	// The batches hit every shard, so the last token covers them all
	// only with the earlier ones: merge them by asking for every seq.
	for i := range c.nodes {
		_, vci := c.client(i)
		rctx := metadata.AppendToOutgoingContext(ctx, minSeqKey, tok[0])
		checkExact(t, rctx, vci, "docs", ids, vs, 10)
	}
	// The count sums one replica of each shard; wait for the last
	// batch through every shard (the token names only the shards of the
	// last write).
	waitCount(t, ctx, cc, "docs", n)

	// One node down: reads and writes go on.
	c.stopNode(2)
	more := randVecs(r, 50, dim)
	moreIDs := make([]uint64, 50)
	for i := range moreIDs {
		moreIDs[i] = uint64(100000 + i)
	}
	if _, err := vc.Upsert(ctx, upsertReq("docs", moreIDs, more), grpc.Header(&hdr)); err != nil {
		t.Fatalf("upsert with a node down: %v", err)
	}
	if _, err := vc.Delete(ctx, &shoalv1.DeleteRequest{Collection: "docs", Ids: ids[:10]}); err != nil {
		t.Fatalf("delete with a node down: %v", err)
	}
	allIDs := append(append([]uint64(nil), ids[10:]...), moreIDs...)
	allVs := append(append([][]float32(nil), vs[10:]...), more...)
	waitCount(t, ctx, cc, "docs", len(allIDs))
	checkExact(t, ctx, vc, "docs", allIDs, allVs, 10)

	// Restarted, it catches up; every replica of every shard then holds
	// the same vectors.
	c.startNode(2)
	c.waitLive(3)
	waitReplicasEqual(t, ctx, c, "docs", 3, append(allIDs, ids[:10]...))

	// Drop: gone everywhere.
	if _, err := cc.DropCollection(ctx, &shoalv1.DropCollectionRequest{Name: "docs"}); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: vs[0], TopK: 1}); status.Code(err) != codes.NotFound {
		t.Fatalf("search after drop: %v, want NotFound", err)
	}
}

// checkExact checks that Get returns every vector, and that searching for
// each of some vectors returns it first, at distance 0, and the true
// nearest neighbours after it.
func checkExact(t *testing.T, ctx context.Context, vc shoalv1.VectorServiceClient, coll string, ids []uint64, vs [][]float32, queries int) {
	t.Helper()
	got, err := vc.Get(ctx, &shoalv1.GetRequest{Collection: coll, Ids: ids})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetVectors()) != len(ids) || len(got.GetMissing()) != 0 {
		t.Fatalf("get: %d vectors, %d missing; want %d, 0", len(got.GetVectors()), len(got.GetMissing()), len(ids))
	}
	for i, v := range got.GetVectors() {
		if v.GetId() != ids[i] || l2(v.GetValues(), vs[i]) != 0 {
			t.Fatalf("get: vector %d is id %d, want %d with its values", i, v.GetId(), ids[i])
		}
	}
	for q := 0; q < queries; q++ {
		res, err := vc.Search(ctx, &shoalv1.SearchRequest{Collection: coll, Query: vs[q], TopK: 5, Params: &shoalv1.SearchParams{Nprobe: 64}})
		if err != nil {
			t.Fatal(err)
		}
		type nd struct {
			id uint64
			d  float32
		}
		exact := make([]nd, len(ids))
		for i := range ids {
			exact[i] = nd{ids[i], l2(vs[q], vs[i])}
		}
		sort.Slice(exact, func(a, b int) bool { return exact[a].d < exact[b].d })
		hits := res.GetHits()
		if len(hits) != 5 {
			t.Fatalf("query %d: %d hits", q, len(hits))
		}
		for j, h := range hits {
			if h.GetId() != exact[j].id {
				t.Fatalf("query %d: hit %d is %d (%.4f), want %d (%.4f)", q, j, h.GetId(), h.GetDistance(), exact[j].id, exact[j].d)
			}
		}
	}
}

func waitCount(t *testing.T, ctx context.Context, cc shoalv1.CollectionServiceClient, coll string, want int) {
	t.Helper()
	for {
		d, err := cc.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: coll})
		if err == nil && d.GetVectorCount() == uint64(want) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("count of %s: %v, %v; want %d", coll, d.GetVectorCount(), err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReplicasEqual waits until every replica of every shard, asked
// directly, holds exactly the vectors of ids that some replica holds,
// with the same values, and that all replicas agree.
func waitReplicasEqual(t *testing.T, ctx context.Context, c *testCluster, coll string, shards int, ids []uint64) {
	t.Helper()
	for {
		d, err := replicaDigests(ctx, c, coll, shards, ids)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("replicas differ: %v (%v)", err, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// replicaDigests reads ids from every node's replica of every shard (of
// the shards placed on the node) and returns an error unless the
// replicas of each shard agree.
func replicaDigests(ctx context.Context, c *testCluster, coll string, shards int, ids []uint64) (map[string]string, error) {
	out := map[string]string{}
	for s := 0; s < shards; s++ {
		var want string
		var shardIDs []uint64
		for _, id := range ids {
			if shardOf(id, shards) == s {
				shardIDs = append(shardIDs, id)
			}
		}
		for i := range c.nodes {
			if c.nodes[i] == nil || placedHere(c.nodes[i], coll, s) == 0 {
				continue
			}
			_, vc := c.client(i)
			rctx := metadata.AppendToOutgoingContext(ctx, replicaKey, "1")
			got, err := vc.Get(rctx, &shoalv1.GetRequest{Collection: shardName(coll, s), Ids: shardIDs})
			if err != nil {
				return out, fmt.Errorf("node %d shard %d: %v", i, s, err)
			}
			dg := digest(got)
			out[fmt.Sprintf("node%d/s%d", i, s)] = dg
			if want == "" {
				want = dg
			} else if dg != want {
				return out, fmt.Errorf("shard %d: node %d holds %s, another %s", s, i, dg, want)
			}
		}
	}
	return out, nil
}

// digest is a text digest of a Get response: ids and value sums.
func digest(g *shoalv1.GetResponse) string {
	var sum float64
	for _, v := range g.GetVectors() {
		for j, x := range v.GetValues() {
			sum += float64(x) * float64(j+1) * float64(v.GetId()%97+1)
		}
	}
	return fmt.Sprintf("%d/%d/%.6g", len(g.GetVectors()), len(g.GetMissing()), sum)
}

// testLogger discards logs unless SHOAL_FLEET_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SHOAL_FLEET_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestClusterUnavailable: a shard whose only replica is down fails a
// search with UNAVAILABLE naming it, or, when the call allows partial
// results, is named in the trailer while the others answer; with a
// quorum of NATS servers down, a write fails with UNAVAILABLE and
// succeeds again once they are back.
func TestClusterUnavailable(t *testing.T) {
	c := startCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(authed(context.Background()), 90*time.Second)
	defer cancel()
	cc, vc := c.client(0)
	const dim = 8
	if _, err := cc.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "one", Config: &shoalv1.CollectionConfig{Dim: dim, Shards: 3, Replication: 1}}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	ids := make([]uint64, 300)
	for i := range ids {
		ids[i] = uint64(i)
	}
	vs := randVecs(r, len(ids), dim)
	if _, err := vc.Upsert(ctx, upsertReq("one", ids, vs)); err != nil {
		t.Fatal(err)
	}
	waitCount(t, ctx, cc, "one", len(ids))

	c.stopNode(1) // holds shard 1 alone
	q := &shoalv1.SearchRequest{Collection: "one", Query: vs[0], TopK: 10}
	_, err := vc.Search(ctx, q)
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "shards 1 unavailable") {
		t.Fatalf("search with shard 1 down: %v, want Unavailable naming shard 1", err)
	}
	var trailer metadata.MD
	pctx := metadata.AppendToOutgoingContext(ctx, partialKey, "allow")
	res, err := vc.Search(pctx, q, grpc.Trailer(&trailer))
	if err != nil {
		t.Fatalf("partial search: %v", err)
	}
	if got := trailer.Get(unavailableKey); len(got) != 1 || got[0] != "1" {
		t.Fatalf("partial search trailer %v, want %s: 1", trailer, unavailableKey)
	}
	for _, h := range res.GetHits() {
		if shardOf(h.GetId(), 3) == 1 {
			t.Fatalf("hit %d from the unavailable shard", h.GetId())
		}
	}
	if len(res.GetHits()) != 10 {
		t.Fatalf("partial search: %d hits, want 10 from the other shards", len(res.GetHits()))
	}

	// No quorum of NATS servers: a write is refused, not lost.
	c.nats.Stop(1)
	c.nats.Stop(2)
	wctx, wcancel := context.WithTimeout(ctx, 8*time.Second)
	_, err = vc.Upsert(wctx, upsertReq("one", []uint64{5000}, [][]float32{vs[1]}))
	wcancel()
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("write without a NATS quorum: %v, want Unavailable", err)
	}
	if err := c.nats.Start(1); err != nil {
		t.Fatal(err)
	}
	if err := c.nats.Start(2); err != nil {
		t.Fatal(err)
	}
	for {
		_, err = vc.Upsert(ctx, upsertReq("one", []uint64{5000}, [][]float32{vs[1]}))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("write after NATS came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tokens merges the sequence tokens of writes, for reads that must see
// them all.
type tokens struct{ s seqs }

func (tk *tokens) add(t *testing.T, hdr metadata.MD) {
	t.Helper()
	v := hdr.Get(seqHeader)
	if len(v) != 1 {
		t.Fatalf("write header %v: no %s", hdr, seqHeader)
	}
	s, err := parseSeqs(v[0], maxShards)
	if err != nil {
		t.Fatal(err)
	}
	for k, q := range s {
		tk.s[k] = max(tk.s[k], q)
	}
}

func (tk *tokens) ctx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, minSeqKey, tk.s.String())
}

// TestClusterTenants: tenants, their vectors and grants travel the logs;
// a search as a tenant sees its own vectors and those granted to it,
// on every shard; deleting the tenant deletes its vectors everywhere.
func TestClusterTenants(t *testing.T) {
	c := startCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(authed(context.Background()), 60*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(c.addrs[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cc, vc, tc := shoalv1.NewCollectionServiceClient(conn), shoalv1.NewVectorServiceClient(conn), shoalv1.NewTenantServiceClient(conn)
	const dim = 4
	if _, err := cc.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "t", Config: &shoalv1.CollectionConfig{Dim: dim}}); err != nil {
		t.Fatal(err)
	}
	tk := &tokens{s: seqs{}}
	var hdr metadata.MD
	for _, name := range []string{"acme", "beta"} {
		if _, err := tc.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "t", Tenant: name}, grpc.Header(&hdr)); err != nil {
			t.Fatal(err)
		}
		tk.add(t, hdr)
	}
	if _, err := tc.CreateTenant(tk.ctx(ctx), &shoalv1.CreateTenantRequest{Collection: "t", Tenant: "acme"}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	owned := map[string][]uint64{}
	var vs [][]float32
	for _, name := range []string{"acme", "beta"} {
		var ids []uint64
		base := uint64(len(vs))
		batch := randVecs(r, 60, dim)
		for i := range batch {
			ids = append(ids, base+uint64(i))
		}
		vs = append(vs, batch...)
		req := upsertReq("t", ids, batch)
		req.Tenant = name
		if _, err := vc.Upsert(tk.ctx(ctx), req, grpc.Header(&hdr)); err != nil {
			t.Fatal(err)
		}
		tk.add(t, hdr)
		owned[name] = ids
	}
	bad := upsertReq("t", []uint64{999}, [][]float32{vs[0]})
	bad.Tenant = "nope"
	if _, err := vc.Upsert(ctx, bad); status.Code(err) != codes.NotFound {
		t.Fatalf("upsert for an unknown tenant: %v, want NotFound", err)
	}
	// search as tenant: only its own ids, from every shard.
	visible := func(tenant string, q []float32) map[uint64]bool {
		t.Helper()
		res, err := vc.Search(tk.ctx(ctx), &shoalv1.SearchRequest{Collection: "t", Query: q, TopK: 200, Tenant: tenant, Params: &shoalv1.SearchParams{Nprobe: 64}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint64]bool{}
		for _, h := range res.GetHits() {
			got[h.GetId()] = true
		}
		return got
	}
	got := visible("acme", vs[0])
	if len(got) != 60 {
		t.Fatalf("acme sees %d vectors, want its 60", len(got))
	}
	for _, id := range owned["beta"] {
		if got[id] {
			t.Fatalf("acme sees beta's vector %d", id)
		}
	}
	if _, err := tc.Grant(tk.ctx(ctx), &shoalv1.GrantRequest{Collection: "t", Tenant: "acme", Ids: owned["beta"][:5]}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	tk.add(t, hdr)
	if got := visible("acme", vs[0]); len(got) != 65 || !got[owned["beta"][0]] {
		t.Fatalf("after a grant of 5, acme sees %d vectors, want 65", len(got))
	}
	if _, err := tc.Revoke(tk.ctx(ctx), &shoalv1.RevokeRequest{Collection: "t", Tenant: "acme", Ids: owned["beta"][:5]}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	tk.add(t, hdr)
	if got := visible("acme", vs[0]); len(got) != 60 {
		t.Fatalf("after the revoke, acme sees %d vectors, want 60", len(got))
	}
	if _, err := tc.DeleteTenant(tk.ctx(ctx), &shoalv1.DeleteTenantRequest{Collection: "t", Tenant: "acme"}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	tk.add(t, hdr)
	if got := visible("", vs[0]); len(got) != 60 || !got[owned["beta"][0]] {
		t.Fatalf("after deleting acme, %d vectors are left, want beta's 60", len(got))
	}
	ls, err := tc.ListTenants(tk.ctx(ctx), &shoalv1.ListTenantsRequest{Collection: "t"})
	if err != nil || len(ls.GetTenants()) != 1 || ls.GetTenants()[0] != "beta" {
		t.Fatalf("tenants %v, %v; want [beta]", ls.GetTenants(), err)
	}
	if _, err := vc.Search(ctx, &shoalv1.SearchRequest{Collection: "t", Query: vs[0], TopK: 1, Tenant: "acme"}); status.Code(err) != codes.NotFound {
		t.Fatalf("search as a deleted tenant: %v, want NotFound", err)
	}
}
