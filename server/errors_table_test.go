package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// statusRow is a row of the status code table of docs/server.md.
type statusRow struct {
	class string
	code  codes.Code
}

// statusTable reads the table of error classes of docs/server.md.
func statusTable(t *testing.T) []statusRow {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "docs", "server.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `([a-z-]+)` \\| `([A-Z_]+)` \\|")
	var out []statusRow
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "## Status codes":
			in = true
		case in && strings.HasPrefix(line, "## "):
			in = false
		case in:
			if m := row.FindStringSubmatch(line); m != nil {
				var c codes.Code
				if err := c.UnmarshalJSON([]byte(`"` + m[2] + `"`)); err != nil {
					t.Fatalf("docs/server.md: row %q: code %s: %v", m[1], m[2], err)
				}
				out = append(out, statusRow{m[1], c})
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 20 {
		t.Fatalf("docs/server.md: found %d rows in the status code table, want it whole", len(out))
	}
	return out
}

// maxMessage bounds the length of an error message.
const maxMessage = 512

// internalRE matches what a message must not carry: a tenant's number,
// a collection's directory.
var internalRE = regexp.MustCompile(`(?i)\btenants? \d|\bcollections/\d|namespace`)

// TestStatusCodeTable walks the status code table of docs/server.md:
// each class of error, provoked through the real gRPC API, gets the
// code the table names, in a message of bounded length that carries no
// internal numbers and no server paths.
func TestStatusCodeTable(t *testing.T) {
	rows := statusTable(t)
	snaps, imports := t.TempDir(), t.TempDir()
	outside := t.TempDir()
	ts := start(t, "", &server.Options{
		MaxBatch: 100, MaxTopK: 50, MaxRecvMsgBytes: 256 << 10, MaxResponseBytes: 64 << 10, MaxHits: 1000,
		SnapshotDir: snaps, ImportDir: imports, ImportBuildMinRows: 100,
	})
	admin := ts.dial("admin")
	ctx := context.Background()
	const dim = 4
	ingest(t, admin, "docs", 200, dim, 3)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, cfg := range map[string]*shoalv1.CollectionConfig{
		"cos":  {Dim: dim, Metric: shoalv1.Metric_METRIC_COSINE},
		"u8":   {Dim: dim, ElementType: shoalv1.ElementType_ELEMENT_TYPE_UINT8},
		"wide": {Dim: 4096},
	} {
		must(admin.CreateCollection(ctx, name, cfg))
	}
	for _, name := range []string{"acme", "beta"} {
		must(admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: name}))
	}
	v := func(x float32) []float32 { return []float32{x, x + 1, x + 2, x + 3} }
	vec := func(id uint64, vals []float32) *shoalv1.Vector { return &shoalv1.Vector{Id: id, Values: vals} }
	// 1 is beta's, granted to acme; 2 is no one's, granted to acme; 3 is acme's.
	must(admin.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Tenant: "beta", Vectors: []*shoalv1.Vector{vec(1, v(1))}}))
	must(admin.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{vec(2, v(2))}}))
	must(admin.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Tenant: "acme", Vectors: []*shoalv1.Vector{vec(3, v(3))}}))
	must(admin.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: "docs", Tenant: "acme", Ids: []uint64{1, 2}}))
	key, err := admin.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: "docs", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	acme := ts.dial(key.GetSecret())

	// Snapshots: a good one, a corrupt copy, one of a later version, one
	// whose manifest names an impossible config, a link out.
	must(admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: "good"}))
	copySnap := func(name string, edit func(m map[string]any), chunk func(b []byte)) {
		t.Helper()
		dir := filepath.Join(snaps, name)
		if err := os.CopyFS(dir, os.DirFS(filepath.Join(snaps, "good"))); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			p := filepath.Join(dir, "manifest.json")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			if b, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if chunk != nil {
			mb, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(mb, &m); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, largestFile(m))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			chunk(b)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	copySnap("corrupt", nil, func(b []byte) { b[len(b)/2] ^= 1 })
	copySnap("future", func(m map[string]any) { m["version"] = 99 }, nil)
	copySnap("badconfig", func(m map[string]any) { m["config"].(map[string]any)["metric"] = "METRIC_NOPE" }, nil)
	if err := os.Symlink(outside, filepath.Join(snaps, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(imports, "junk.fvecs"), []byte("not vectors"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFvecs(t, filepath.Join(imports, "wide.fvecs"), [][]float32{make([]float32, dim+1)})
	if err := os.WriteFile(filepath.Join(outside, "x.fvecs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// A collection being built by an import job, held before its swap
	// (released when the test ends).
	must(admin.CreateCollection(ctx, "building", &shoalv1.CollectionConfig{Dim: dim}))
	buildRows := make([][]float32, 200)
	for i := range buildRows {
		buildRows[i] = v(float32(i))
	}
	writeFvecs(t, filepath.Join(imports, "rows.fvecs"), buildRows)
	held, _ := server.HoldImportSwap(t)
	must(admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "building", Path: "rows.fvecs"}))
	<-held

	// A server without authentication, and one that has stopped.
	noAuthAddr := serveNoAuth(t)
	gone := start(t, "", nil)
	goneClient := gone.dial("admin")
	gone.stop()

	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	cancelled, cancel2 := context.WithCancel(ctx)
	cancel2()
	long := strings.Repeat("a", 10_000)

	upsert := func(c *client.Client, coll, tenant string, vs ...*shoalv1.Vector) error {
		_, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: coll, Tenant: tenant, Vectors: vs})
		return err
	}
	search := func(c *client.Client, req *shoalv1.SearchRequest) error {
		if req.Collection == "" {
			req.Collection = "docs"
		}
		if req.Query == nil {
			req.Query = v(1)
		}
		if req.TopK == 0 {
			req.TopK = 5
		}
		_, err := c.Vectors.Search(ctx, req)
		return err
	}
	create := func(name string, cfg *shoalv1.CollectionConfig) error {
		_, err := admin.CreateCollection(ctx, name, cfg)
		return err
	}
	restore := func(dir string) error {
		_, err := admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: dir, Collection: "restored"})
		return err
	}
	snapshot := func(dir string) error {
		_, err := admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: dir})
		return err
	}
	startImport := func(path string) error {
		_, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: path, FirstId: 1 << 40})
		return err
	}
	labelled := func(c *client.Client, tenant string, ids ...uint64) error {
		req := &shoalv1.SetLabelsRequest{Collection: "docs", Tenant: tenant}
		for _, id := range ids {
			req.Vectors = append(req.Vectors, &shoalv1.LabelSet{Id: id, Labels: []uint32{7}})
		}
		_, err := c.Vectors.SetLabels(ctx, req)
		return err
	}
	many := func(n int) []*shoalv1.Vector {
		out := make([]*shoalv1.Vector, n)
		for i := range out {
			out[i] = vec(uint64(1_000_000+i), v(float32(i)))
		}
		return out
	}
	unary := func(method string) error {
		conn, err := grpc.NewClient(ts.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Invoke(ctx, method, &shoalv1.ListCollectionsRequest{}, &shoalv1.ListCollectionsResponse{})
	}

	provoke := map[string][]func() error{
		"dimension": {
			func() error { return upsert(admin, "docs", "", vec(5000, []float32{1, 2})) },
			func() error { return search(admin, &shoalv1.SearchRequest{Query: []float32{1}}) },
			func() error { return startImport("wide.fvecs") },
		},
		"not-finite": {
			func() error { return upsert(admin, "docs", "", vec(5000, []float32{1, nan, 0, 0})) },
			func() error { return search(admin, &shoalv1.SearchRequest{Query: []float32{inf, 0, 0, 0}}) },
		},
		"zero-cosine": {
			func() error { return upsert(admin, "cos", "", vec(5000, make([]float32, dim))) },
			func() error {
				return search(admin, &shoalv1.SearchRequest{Collection: "cos", Query: make([]float32, dim)})
			},
		},
		"not-exact": {func() error { return upsert(admin, "u8", "", vec(5000, []float32{0.5, 300, 0, 0})) }},
		"duplicate-ids": {
			func() error { return upsert(admin, "docs", "", vec(5000, v(0)), vec(5000, v(0))) },
			func() error {
				_, err := admin.Vectors.Delete(ctx, &shoalv1.DeleteRequest{Collection: "docs", Ids: []uint64{1000, 1000}})
				return err
			},
			func() error {
				_, err := admin.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: "docs", Tenant: "acme", Ids: []uint64{1000, 1000}})
				return err
			},
			func() error {
				_, err := admin.Tenants.Revoke(ctx, &shoalv1.RevokeRequest{Collection: "docs", Tenant: "acme", Ids: []uint64{1, 1}})
				return err
			},
			func() error { return labelled(admin, "", 1000, 1000) },
		},
		"empty-batch": {
			func() error { return upsert(admin, "docs", "") },
			func() error {
				_, err := admin.Vectors.SearchBatch(ctx, &shoalv1.SearchBatchRequest{Collection: "docs", TopK: 1})
				return err
			},
		},
		"top-k": {
			func() error { return search(admin, &shoalv1.SearchRequest{TopK: 51}) },
			func() error {
				_, err := admin.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: v(1)})
				return err
			},
		},
		"search-params": {
			func() error {
				return search(admin, &shoalv1.SearchRequest{Params: &shoalv1.SearchParams{Nprobe: math.MaxUint32}})
			},
			func() error {
				return search(admin, &shoalv1.SearchRequest{Params: &shoalv1.SearchParams{Beam: 1<<16 + 1}})
			},
			func() error {
				return search(admin, &shoalv1.SearchRequest{Params: &shoalv1.SearchParams{Epsilon: math.NaN()}})
			},
			func() error {
				return search(admin, &shoalv1.SearchRequest{Params: &shoalv1.SearchParams{Epsilon: math.Inf(-1)}})
			},
			func() error {
				return create("c1", &shoalv1.CollectionConfig{Dim: dim, DefaultSearch: &shoalv1.SearchParams{Epsilon: math.NaN()}})
			},
			func() error {
				return create("c2", &shoalv1.CollectionConfig{Dim: dim, DefaultSearch: &shoalv1.SearchParams{Epsilon: math.Inf(1)}})
			},
			func() error {
				return create("c3", &shoalv1.CollectionConfig{Dim: dim, DefaultSearch: &shoalv1.SearchParams{Nprobe: math.MaxUint32}})
			},
			func() error {
				return create("c4", &shoalv1.CollectionConfig{Dim: dim, DefaultSearch: &shoalv1.SearchParams{Beam: math.MaxUint32}})
			},
		},
		"bad-name": {
			func() error { return create("../etc", &shoalv1.CollectionConfig{Dim: dim}) },
			func() error { return create(long, &shoalv1.CollectionConfig{Dim: dim}) },
			func() error {
				_, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: long})
				return err
			},
			func() error { return search(acme, &shoalv1.SearchRequest{Tenant: long}) },
		},
		"bad-config": {
			func() error { return create("c5", nil) },
			func() error { return create("c5", &shoalv1.CollectionConfig{}) },
			func() error { return create("c5", &shoalv1.CollectionConfig{Dim: 5000}) },
			func() error { return create("c5", &shoalv1.CollectionConfig{Dim: dim, Metric: 42}) },
			func() error {
				return create("c5", &shoalv1.CollectionConfig{Dim: dim, Metric: shoalv1.Metric_METRIC_COSINE, ElementType: shoalv1.ElementType_ELEMENT_TYPE_INT8})
			},
			func() error { return create("c5", &shoalv1.CollectionConfig{Dim: dim, Replicas: 65}) },
			func() error { return create("c5", &shoalv1.CollectionConfig{Dim: dim, Quant: "rabitq9"}) },
			func() error { return create("c5", &shoalv1.CollectionConfig{Dim: dim, Shards: 2}) },
			func() error { return create("c5", &shoalv1.CollectionConfig{Dim: dim, Replication: 3}) },
		},
		"filter": {
			func() error {
				return search(admin, &shoalv1.SearchRequest{FilterExpr: strings.Repeat("1 AND ", 2000) + "("})
			},
			func() error { return search(admin, &shoalv1.SearchRequest{FilterExpr: long}) },
			func() error {
				return search(admin, &shoalv1.SearchRequest{Filter: &shoalv1.Filter{AllOf: []string{long}}})
			},
			func() error {
				return search(admin, &shoalv1.SearchRequest{FilterExpr: "1", Filter: &shoalv1.Filter{AllOf: []string{"2"}}})
			},
			func() error {
				return upsert(admin, "docs", "", &shoalv1.Vector{Id: 5000, Values: v(0), Labels: []string{long}})
			},
			func() error { return search(admin, &shoalv1.SearchRequest{FilterExpr: "color=purple"}) },
			func() error {
				return search(admin, &shoalv1.SearchRequest{Filter: &shoalv1.Filter{AnyOf: []string{"color=purple"}}})
			},
		},
		"labels": {
			func() error {
				ls := make([]uint32, 5000)
				for i := range ls {
					ls[i] = uint32(i)
				}
				_, err := admin.Vectors.SetLabels(ctx, &shoalv1.SetLabelsRequest{Collection: "docs", Vectors: []*shoalv1.LabelSet{{Id: 1000, Labels: ls}}})
				return err
			},
			func() error {
				return upsert(admin, "docs", "", &shoalv1.Vector{Id: 5000, Values: v(0), Labels: []string{"4294967296"}})
			},
			func() error {
				return upsert(admin, "docs", "", &shoalv1.Vector{Id: 5000, Values: v(0), Labels: []string{strings.Repeat("n", 257)}})
			},
		},
		"payload": {
			func() error {
				p := &structpb.Struct{Fields: map[string]*structpb.Value{"x": structpb.NewNumberValue(math.NaN())}}
				return upsert(admin, "docs", "", &shoalv1.Vector{Id: 5000, Values: v(0), Payload: p})
			},
			func() error {
				p := &structpb.Struct{Fields: map[string]*structpb.Value{"x": structpb.NewStringValue(strings.Repeat("x", 70<<10))}}
				_, err := admin.Vectors.SetPayloads(ctx, &shoalv1.SetPayloadsRequest{Collection: "docs", Vectors: []*shoalv1.PayloadSet{{Id: 1000, Payload: p}}})
				return err
			},
		},
		"indexed-fields": {func() error {
			return create("fields", &shoalv1.CollectionConfig{Dim: dim, IndexedPayloadFields: []string{"a=b"}})
		}},
		"revoke-owner": {func() error {
			_, err := admin.Tenants.Revoke(ctx, &shoalv1.RevokeRequest{Collection: "docs", Tenant: "beta", Ids: []uint64{1}})
			return err
		}},
		"snapshot-name": {
			func() error { return snapshot(long) },
			func() error { return snapshot("a/" + strings.Repeat("b", 300)) },
			func() error { return restore(long) },
			func() error { return snapshot("a\x00b") },
			func() error { return snapshot("../up") },
			func() error { return snapshot(".hidden") },
			func() error { return restore("/abs") },
		},
		"snapshot-manifest": {func() error { return restore("badconfig") }},
		"import-file":       {func() error { return startImport("junk.fvecs") }},
		"unknown-collection": {
			func() error { return search(admin, &shoalv1.SearchRequest{Collection: "nope"}) },
			func() error {
				_, err := admin.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: long})
				return err
			},
		},
		"unknown-tenant": {
			func() error { return search(admin, &shoalv1.SearchRequest{Tenant: "nobody"}) },
			func() error {
				_, err := admin.Tenants.DeleteTenant(ctx, &shoalv1.DeleteTenantRequest{Collection: "docs", Tenant: "nobody"})
				return err
			},
		},
		"unknown-key": {func() error {
			_, err := admin.Admin.RevokeAPIKey(ctx, &shoalv1.RevokeAPIKeyRequest{Id: long})
			return err
		}},
		"unknown-snapshot": {func() error { return restore("missing") }},
		"unknown-import": {
			func() error {
				_, err := admin.Admin.GetImport(ctx, &shoalv1.GetImportRequest{Id: long})
				return err
			},
			func() error { return startImport("missing.fvecs") },
		},
		"missing-vector": {
			func() error { return labelled(admin, "", 999_999) },
			func() error {
				_, err := admin.Vectors.SetPayloads(ctx, &shoalv1.SetPayloadsRequest{Collection: "docs", Vectors: []*shoalv1.PayloadSet{{Id: 999_999}}})
				return err
			},
			func() error {
				_, err := admin.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: "docs", Tenant: "acme", Ids: []uint64{999_999}})
				return err
			},
		},
		"exists": {
			func() error { return create("docs", &shoalv1.CollectionConfig{Dim: dim}) },
			func() error {
				_, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "acme"})
				return err
			},
			func() error { return snapshot("good") },
		},
		"admin-only": {func() error {
			_, err := acme.Admin.ListAPIKeys(ctx, &shoalv1.ListAPIKeysRequest{})
			return err
		}},
		"other-tenant": {func() error { return search(acme, &shoalv1.SearchRequest{Tenant: "beta"}) }},
		"other-collection": {
			func() error { return search(acme, &shoalv1.SearchRequest{Collection: "cos", Query: v(1)}) },
			func() error { return search(acme, &shoalv1.SearchRequest{Collection: long, Query: v(1)}) },
			func() error {
				// The stream's request reaches the handler, not the interceptor.
				st, err := acme.Vectors.SearchBatchStream(ctx, &shoalv1.SearchBatchRequest{Collection: "cos", TopK: 1, Queries: []*shoalv1.Query{{Values: v(1)}}})
				if err == nil {
					_, err = st.Recv()
				}
				return err
			},
		},
		"not-owner": {
			// Granted by another owner, granted with no owner, no owner.
			func() error { return upsert(acme, "docs", "", vec(1, v(9))) },
			func() error { return upsert(acme, "docs", "", vec(2, v(9))) },
			func() error { return upsert(acme, "docs", "", vec(1000, v(9))) },
			func() error { return upsert(admin, "docs", "acme", vec(1, v(9))) },
			func() error { _, err := acme.Delete(ctx, "docs", []uint64{1}); return err },
			func() error { return labelled(acme, "", 1) },
			func() error {
				_, err := acme.Vectors.SetPayloads(ctx, &shoalv1.SetPayloadsRequest{Collection: "docs", Vectors: []*shoalv1.PayloadSet{{Id: 1}}})
				return err
			},
		},
		"import-outside": {
			func() error { return startImport("../x.fvecs") },
			func() error { return startImport(filepath.Join(outside, "x.fvecs")) },
		},
		"snapshot-outside": {
			func() error { return snapshot("out/s") },
			func() error { return restore("out") },
		},
		"no-key": {func() error { return unary(shoalv1.CollectionService_ListCollections_FullMethodName) }},
		"bad-key": {func() error {
			_, err := ts.dial("not-a-key-of-this-server").Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
			return err
		}},
		"batch-size": {func() error { return upsert(admin, "docs", "", many(101)...) }},
		"message-size": {func() error {
			vs := many(100)
			for _, x := range vs {
				x.Values = make([]float32, 1000)
			}
			return upsert(admin, "docs", "", vs...)
		}},
		"hits": {
			func() error {
				req := &shoalv1.SearchBatchRequest{Collection: "docs", TopK: 50}
				for range 21 {
					req.Queries = append(req.Queries, &shoalv1.Query{Values: v(1)})
				}
				_, err := admin.Vectors.SearchBatch(ctx, req)
				return err
			},
		},
		"response-size": {
			func() error {
				_, err := admin.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: "wide", Ids: []uint64{1, 2, 3, 4, 5}})
				return err
			},
			func() error {
				return search(admin, &shoalv1.SearchRequest{Collection: "wide", Query: make([]float32, 4096), TopK: 5, IncludeVectors: true})
			},
		},
		"deadline": {func() error {
			_, err := admin.Vectors.Search(expired, &shoalv1.SearchRequest{Collection: "docs", Query: v(1), TopK: 1})
			return err
		}},
		"cancelled": {func() error {
			_, err := admin.Vectors.Search(cancelled, &shoalv1.SearchRequest{Collection: "docs", Query: v(1), TopK: 1})
			return err
		}},
		"no-auth": {func() error {
			c, err := client.Dial(noAuthAddr, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: "docs", Tenant: "acme"})
			return err
		}},
		"snapshot-version": {func() error { return restore("future") }},
		"importing": {
			func() error { return upsert(admin, "building", "", vec(1, v(1))) },
			func() error {
				_, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "building", Tenant: "t"})
				return err
			},
			func() error {
				_, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "building", Path: "rows.fvecs", FirstId: 1000})
				return err
			},
			func() error {
				_, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "rows.fvecs", Method: shoalv1.ImportMethod_IMPORT_METHOD_BUILD})
				return err
			},
		},
		"corrupt": {func() error { return restore("corrupt") }},
		"unavailable": {func() error {
			_, err := goneClient.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
			return err
		}},
		"unimplemented": {func() error { return unary("/shoal.v1.CollectionService/NoSuchMethod") }},
	}
	notProvoked := map[string]bool{
		"internal": true, // no client input may cause it
		// Needs a collection's maintenance held back: index.TestWriteStall
		// provokes it, TestIndexErrorCodes checks its code.
		"write-stall": true,
	}

	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.class] = true
		calls, ok := provoke[r.class]
		if !ok {
			if !notProvoked[r.class] {
				t.Errorf("docs/server.md class %q: no test provokes it", r.class)
			}
			continue
		}
		for i, call := range calls {
			err := call()
			st := status.Convert(err)
			msg := st.Message()
			switch {
			case st.Code() != r.code:
				t.Errorf("%s #%d: code %v (%q), the table says %v", r.class, i, st.Code(), clipForLog(msg), r.code)
			case len(msg) > maxMessage:
				t.Errorf("%s #%d: message of %d bytes, want at most %d: %q", r.class, i, len(msg), maxMessage, clipForLog(msg))
			case internalRE.MatchString(msg):
				t.Errorf("%s #%d: message carries an internal number: %q", r.class, i, msg)
			case strings.Contains(msg, ts.dir) || strings.Contains(msg, snaps) || strings.Contains(msg, imports):
				// (A path outside is repeated only where the request named it.)
				t.Errorf("%s #%d: message carries a server path: %q", r.class, i, msg)
			default:
				t.Logf("%s #%d: %v: %s", r.class, i, st.Code(), msg)
			}
		}
	}
	for class := range provoke {
		if !seen[class] {
			t.Errorf("class %q is provoked here but has no row in docs/server.md", class)
		}
	}
}

func clipForLog(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// serveNoAuth serves a server without an admin key on a loopback port
// until the test ends, and returns its address.
func serveNoAuth(t *testing.T) string {
	t.Helper()
	s, err := server.Open(&server.Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return lis.Addr().String()
}
