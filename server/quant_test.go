package server_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// describeQuant returns the quant that DescribeCollection reports for
// the collection name.
func describeQuant(t *testing.T, c *client.Client, name string) string {
	t.Helper()
	col, err := c.Collections.DescribeCollection(context.Background(), &shoalv1.DescribeCollectionRequest{Name: name})
	if err != nil {
		t.Fatalf("DescribeCollection(%s): %v", name, err)
	}
	return col.GetConfig().GetQuant()
}

// wantExactHits searches nq of f's vectors, perturbed, in the L2
// collection name and wants recall@10 of at least 0.9 and every hit's
// distance the exact squared L2 distance of its stored vector.
func wantExactHits(t *testing.T, c *client.Client, name string, f fixture, nq int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 3))
	byID := map[uint64][]float32{}
	for i, id := range f.ids {
		byID[id] = f.vecs[i]
	}
	var recall float64
	for range nq {
		q := slices.Clone(f.vecs[rng.IntN(len(f.vecs))])
		for d := range q {
			q[d] += float32(rng.NormFloat64() * 0.5)
		}
		hits, err := c.Search(context.Background(), name, q, 10, &shoalv1.SearchParams{Nprobe: 32})
		if err != nil {
			t.Fatalf("Search %s: %v", name, err)
		}
		for _, h := range hits {
			var want float64
			for d, x := range byID[h.GetId()] {
				want += float64(x-q[d]) * float64(x-q[d])
			}
			if got := float64(h.GetDistance()); math.Abs(got-want) > 1e-4*max(1, want) {
				t.Fatalf("%s: hit %d at distance %g, want the exact %g", name, h.GetId(), got, want)
			}
		}
		recall += recallOf(hits, bruteForce(f.ids, f.vecs, q, 10, nil))
	}
	if r := recall / float64(nq); r < 0.9 {
		t.Errorf("%s: recall@10 = %.3f, want >= 0.9", name, r)
	}
}

// TestCollectionQuant: config.quant picks what postings hold; Create,
// Describe and List name it with its bits ("rabitq" gets the bits of
// its dimension; an empty quant is "none"), also after a restart; a
// quantized collection searches with exact distances.
func TestCollectionQuant(t *testing.T) {
	const n, dim = 2000, 16
	ts := start(t, "", nil)
	c := ts.dial("admin")
	ctx := context.Background()
	col, err := c.CreateCollection(ctx, "auto", &shoalv1.CollectionConfig{Dim: dim, Quant: "rabitq"})
	if err != nil || col.GetConfig().GetQuant() != "rabitq4" {
		t.Fatalf("CreateCollection quant rabitq, dim %d = %v, %v; want quant rabitq4 (the default bits of the dimension)", dim, col, err)
	}
	f := ingestConfig(t, c, "q", &shoalv1.CollectionConfig{Dim: dim, Quant: "rabitq2"}, n, 1)
	if _, err := c.CreateCollection(ctx, "rows", &shoalv1.CollectionConfig{Dim: dim, Quant: "none"}); err != nil {
		t.Fatal(err)
	}
	// No quant: the default for a collection grown by upserts, rows.
	if _, err := c.CreateCollection(ctx, "default", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"auto": "rabitq4", "q": "rabitq2", "rows": "none", "default": "none"}
	check := func(when string) {
		t.Helper()
		for name, q := range want {
			if got := describeQuant(t, c, name); got != q {
				t.Errorf("%s: DescribeCollection(%s) quant %q, want %q", when, name, got, q)
			}
		}
		list, err := c.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range list.GetCollections() {
			if got := col.GetConfig().GetQuant(); got != want[col.GetName()] {
				t.Errorf("%s: ListCollections: %s quant %q, want %q", when, col.GetName(), got, want[col.GetName()])
			}
		}
	}
	check("after create")
	wantExactHits(t, c, "q", f, 20)
	ts.stop()
	ts.restart()
	c = ts.dial("admin")
	check("after a restart")
	wantExactHits(t, c, "q", f, 10)
}

// TestCollectionQuantInvalid: a quant that is not none, rabitq or
// rabitq1 to rabitq8 is INVALID_ARGUMENT naming config.quant, and
// creates nothing.
func TestCollectionQuantInvalid(t *testing.T) {
	ts := start(t, "", nil)
	c := ts.dial("admin")
	for _, q := range []string{"rabitq9", "rabitq0", "pq", "RABITQ", "rabitq4x"} {
		_, err := c.CreateCollection(context.Background(), "docs", &shoalv1.CollectionConfig{Dim: 8, Quant: q})
		wantCode(t, "quant "+q, err, codes.InvalidArgument)
		if !strings.Contains(status.Convert(err).Message(), "config.quant") {
			t.Errorf("quant %s: %v, want the message to name config.quant", q, err)
		}
	}
	list, err := c.Collections.ListCollections(context.Background(), &shoalv1.ListCollectionsRequest{})
	if err != nil || len(list.GetCollections()) != 0 {
		t.Errorf("ListCollections = %v, %v; want none", list, err)
	}
}

// TestCollectionQuantImportBuild: an import built offline into a
// quantized collection builds an index of the same codes, bits included
// (the restart reads them from the built index), which searches with
// exact distances.
func TestCollectionQuantImportBuild(t *testing.T) {
	const n, dim = 1500, 8
	ts := start(t, "", buildOpts)
	admin := ts.dial("admin")
	ctx := context.Background()
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim, Quant: "rabitq3"}); err != nil {
		t.Fatal(err)
	}
	f := fixture{vecs: clustered(rand.New(rand.NewPCG(8, 9)), n, dim)}
	for i := range f.vecs {
		f.ids = append(f.ids, uint64(i)) // a build's ids are its rows'
	}
	writeFvecs(t, filepath.Join(ts.dir, "import", "a.fvecs"), f.vecs)
	j, err := admin.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "docs", Path: "a.fvecs"})
	if err != nil {
		t.Fatal(err)
	}
	if j.GetMethod() != shoalv1.ImportMethod_IMPORT_METHOD_BUILD {
		t.Fatalf("StartImport = %v, want a BUILD job", j)
	}
	if j = waitImport(t, admin, j.GetId()); j.GetState() != shoalv1.ImportJob_STATE_DONE {
		t.Fatalf("job = %v, want DONE", j)
	}
	ts.stop()
	ts.restart()
	admin = ts.dial("admin")
	if got := describeQuant(t, admin, "docs"); got != "rabitq3" {
		t.Errorf("after the build and a restart: quant %q, want rabitq3", got)
	}
	wantExactHits(t, admin, "docs", f, 10)
}

// TestCollectionQuantSnapshot: a collection restored from a snapshot of
// a quantized one is quantized the same way.
func TestCollectionQuantSnapshot(t *testing.T) {
	const n, dim = 1000, 16
	ts := start(t, "", &server.Options{SnapshotDir: t.TempDir()})
	admin := ts.dial("admin")
	ctx := context.Background()
	f := ingestConfig(t, admin, "docs", &shoalv1.CollectionConfig{Dim: dim, Quant: "rabitq5"}, n, 2)
	if _, err := admin.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: "s"}); err != nil {
		t.Fatal(err)
	}
	col, err := admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "s", Collection: "copy"})
	if err != nil || col.GetConfig().GetQuant() != "rabitq5" {
		t.Fatalf("RestoreSnapshot = %v, %v; want quant rabitq5", col, err)
	}
	wantExactHits(t, admin, "copy", f, 10)
}

// TestRESTCollectionQuant: the REST gateway carries config.quant both
// ways, and refuses a bad one as gRPC does.
func TestRESTCollectionQuant(t *testing.T) {
	ts := start(t, "", nil)
	rc := ts.rest("admin")
	var coll struct {
		Config struct {
			Quant string `json:"quant"`
		} `json:"config"`
	}
	rc.ok("POST", "/v1/collections", map[string]any{"name": "docs", "config": map[string]any{"dim": 4, "quant": "rabitq"}}, &coll)
	if coll.Config.Quant != "rabitq4" {
		t.Errorf("created with quant rabitq: quant %q, want rabitq4", coll.Config.Quant)
	}
	coll.Config.Quant = ""
	rc.ok("GET", "/v1/collections/docs", nil, &coll)
	if coll.Config.Quant != "rabitq4" {
		t.Errorf("described: quant %q, want rabitq4", coll.Config.Quant)
	}
	wantError(t, "quant pq", rc.do("POST", "/v1/collections", map[string]any{"name": "pq", "config": map[string]any{"dim": 4, "quant": "pq"}}),
		400, codes.InvalidArgument, "INVALID_ARGUMENT")
}
