package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// labelsOf is the labelling of the fixture TestLabels uses: vector i
// (id 1000+i) has label 1 if i%3 == 0 and label 2 if i%2 == 0.
func labelsOf(i int) []uint32 {
	var ls []uint32
	if i%3 == 0 {
		ls = append(ls, 1)
	}
	if i%2 == 0 {
		ls = append(ls, 2)
	}
	return ls
}

func setLabels(ctx context.Context, c *client.Client, tenant string, ids []uint64, labels ...[]uint32) error {
	req := &shoalv1.SetLabelsRequest{Collection: "docs", Tenant: tenant}
	for i, id := range ids {
		req.Vectors = append(req.Vectors, &shoalv1.LabelSet{Id: id, Labels: labels[i]})
	}
	_, err := c.Vectors.SetLabels(ctx, req)
	return err
}

func hitIDs(hits []*shoalv1.Hit) []uint64 {
	out := make([]uint64, len(hits))
	for i, h := range hits {
		out[i] = h.GetId()
	}
	return out
}

// TestLabels: SetLabels, then filtered searches (text and structured,
// single and batch) return exactly the brute-force nearest among the
// matching vectors; a refused SetLabels changes nothing; labels survive
// a restart.
func TestLabels(t *testing.T) {
	const dim, n, k = 8, 300, 10
	ts := start(t, "", nil)
	c := ts.dial("admin")
	ctx := context.Background()
	f := ingest(t, c, "docs", n, dim, 3)

	req := &shoalv1.SetLabelsRequest{Collection: "docs"}
	for i, id := range f.ids {
		req.Vectors = append(req.Vectors, &shoalv1.LabelSet{Id: id, Labels: labelsOf(i)})
	}
	for lo := 0; lo < n; lo += 100 {
		part := &shoalv1.SetLabelsRequest{Collection: "docs", Vectors: req.Vectors[lo : lo+100]}
		if resp, err := c.Vectors.SetLabels(ctx, part); err != nil || resp.GetUpdated() != 100 {
			t.Fatalf("SetLabels = %v, %v; want 100 updated", resp, err)
		}
	}
	// "1 AND NOT 2": i%3 == 0 and i odd; the others are left out.
	excluded := map[uint64]bool{}
	for i, id := range f.ids {
		if !(i%3 == 0 && i%2 == 1) {
			excluded[id] = true
		}
	}
	queries := f.vecs[:20]
	check := func(c *client.Client, when string) {
		t.Helper()
		for qi, q := range queries {
			want := bruteForce(f.ids, f.vecs, q, k, excluded)
			for _, r := range []*shoalv1.SearchRequest{
				{Collection: "docs", Query: q, TopK: k, FilterExpr: "1 AND NOT 2"},
				{Collection: "docs", Query: q, TopK: k, FilterExpr: "!2 & (1)"},
				{Collection: "docs", Query: q, TopK: k, Filter: &shoalv1.Filter{AllOf: []string{"1"}, NoneOf: []string{"2"}}},
			} {
				resp, err := c.Vectors.Search(ctx, r)
				if err != nil {
					t.Fatalf("%s: Search(%q, %v): %v", when, r.GetFilterExpr(), r.GetFilter(), err)
				}
				if got := hitIDs(resp.GetHits()); !slices.Equal(got, want) {
					t.Errorf("%s: query %d, filter %q %v: hits %v, want the brute-force nearest matches %v", when, qi, r.GetFilterExpr(), r.GetFilter(), got, want)
				}
			}
		}
		qs := make([]*shoalv1.Query, len(queries))
		for i, q := range queries {
			qs[i] = &shoalv1.Query{Values: q}
		}
		resp, err := c.Vectors.SearchBatch(ctx, &shoalv1.SearchBatchRequest{Collection: "docs", Queries: qs, TopK: k, FilterExpr: "1 and not 2"})
		if err != nil {
			t.Fatalf("%s: SearchBatch: %v", when, err)
		}
		for qi, r := range resp.GetResults() {
			if got, want := hitIDs(r.GetHits()), bruteForce(f.ids, f.vecs, queries[qi], k, excluded); !slices.Equal(got, want) {
				t.Errorf("%s: SearchBatch query %d: hits %v, want %v", when, qi, got, want)
			}
		}
	}
	check(c, "labelled")

	// A batch with one id that holds no vector is refused whole.
	err := setLabels(ctx, c, "", []uint64{f.ids[1], 99999}, []uint32{1, 9}, []uint32{9})
	wantCode(t, "SetLabels of a missing id", err, codes.NotFound)
	err = setLabels(ctx, c, "", []uint64{f.ids[1], f.ids[1]}, []uint32{9}, []uint32{9})
	wantCode(t, "SetLabels duplicate ids", err, codes.InvalidArgument)
	err = setLabels(ctx, c, "", nil)
	wantCode(t, "SetLabels empty", err, codes.InvalidArgument)
	tooMany := make([]uint32, 4097)
	for i := range tooMany {
		tooMany[i] = uint32(i)
	}
	err = setLabels(ctx, c, "", []uint64{f.ids[1]}, tooMany)
	wantCode(t, "SetLabels 4097 labels", err, codes.InvalidArgument)
	if resp, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: f.vecs[1], TopK: k, FilterExpr: "9 OR 4000"}); err != nil || len(resp.GetHits()) != 0 {
		t.Errorf("after refused SetLabels, filter 9 OR 4000 found %v, %v; want nothing", resp.GetHits(), err)
	}

	// Malformed filters: InvalidArgument with the parser's message.
	for _, tc := range []struct {
		name, expr string
		filter     *shoalv1.Filter
		msg        string
	}{
		{"dangling AND", "1 AND", nil, "filter: syntax error"},
		{"unbalanced", "(1 OR 2", nil, "filter: syntax error"},
		{"label name", "red", nil, "unknown label"},
		{"label too large", "4294967296", nil, "filter"},
		{"structured name", "", &shoalv1.Filter{AnyOf: []string{"red"}}, "unknown label"},
		{"structured too large", "", &shoalv1.Filter{AllOf: []string{"4294967296"}}, "not a label id"},
		{"both set", "1", &shoalv1.Filter{AllOf: []string{"1"}}, "both set"},
	} {
		_, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: f.vecs[0], TopK: k, FilterExpr: tc.expr, Filter: tc.filter})
		wantCode(t, "Search filter "+tc.name, err, codes.InvalidArgument)
		if !strings.Contains(status.Convert(err).Message(), tc.msg) {
			t.Errorf("Search filter %s: message %q, want it to contain %q", tc.name, status.Convert(err).Message(), tc.msg)
		}
		_, err = c.Vectors.SearchBatch(ctx, &shoalv1.SearchBatchRequest{Collection: "docs", Queries: []*shoalv1.Query{{Values: f.vecs[0]}}, TopK: k, FilterExpr: tc.expr, Filter: tc.filter})
		wantCode(t, "SearchBatch filter "+tc.name, err, codes.InvalidArgument)
	}
	check(c, "after the refused calls")

	ts.stop()
	ts.restart()
	check(ts.dial("admin"), "after a restart")
}

// TestTenantLabels: a tenant key labels only vectors its tenant owns,
// and its filtered searches see only what it may read.
func TestTenantLabels(t *testing.T) {
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: 4}); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, name := range []string{"acme", "beta"} {
		if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: name}); err != nil {
			t.Fatal(err)
		}
		k, err := admin.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: "docs", Tenant: name})
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = k.GetSecret()
	}
	acme, beta := ts.dial(keys["acme"]), ts.dial(keys["beta"])
	v := func(x float32) []float32 { return []float32{x, x, x, x} }
	// acme owns 1, 2; beta 11 (granted to acme); nobody 21.
	if err := acme.Upsert(ctx, "docs", []uint64{1, 2}, [][]float32{v(1), v(2)}); err != nil {
		t.Fatal(err)
	}
	if err := beta.Upsert(ctx, "docs", []uint64{11}, [][]float32{v(1.1)}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Upsert(ctx, "docs", []uint64{21}, [][]float32{v(1.05)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: "docs", Tenant: "acme", Ids: []uint64{11}}); err != nil {
		t.Fatal(err)
	}
	if err := setLabels(ctx, acme, "", []uint64{1, 2}, []uint32{5}, []uint32{6}); err != nil {
		t.Fatalf("acme SetLabels of its own: %v", err)
	}
	for _, tc := range []struct {
		name   string
		tenant string
		ids    []uint64
		code   codes.Code
	}{
		{"another tenant's", "", []uint64{1, 11}, codes.PermissionDenied}, // granted, not owned
		{"no owner's", "", []uint64{2, 21}, codes.PermissionDenied},
		{"missing id", "", []uint64{1, 99}, codes.NotFound},
		{"acting for beta", "beta", []uint64{11}, codes.PermissionDenied},
	} {
		labels := make([][]uint32, len(tc.ids))
		for i := range labels {
			labels[i] = []uint32{5}
		}
		wantCode(t, "acme SetLabels "+tc.name, setLabels(ctx, acme, tc.tenant, tc.ids, labels...), tc.code)
	}
	// The admin may label anything, also acting for a tenant.
	if err := setLabels(ctx, admin, "", []uint64{11, 21}, []uint32{5}, []uint32{5}); err != nil {
		t.Fatalf("admin SetLabels: %v", err)
	}
	wantCode(t, "admin SetLabels for acme of beta's", setLabels(ctx, admin, "acme", []uint64{11}, []uint32{5}), codes.PermissionDenied)

	search := func(c *client.Client, expr string) []uint64 {
		t.Helper()
		resp, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: v(1), TopK: 10, FilterExpr: expr})
		if err != nil {
			t.Fatalf("Search(%q): %v", expr, err)
		}
		ids := hitIDs(resp.GetHits())
		slices.Sort(ids)
		return ids
	}
	// Label 5 is on 1 (acme's, unchanged by the refused calls), 11
	// (beta's, granted to acme) and 21 (no owner's).
	if got := search(acme, "5"); !slices.Equal(got, []uint64{1, 11}) {
		t.Errorf("acme filter 5: %v, want [1 11] (its own and its grant)", got)
	}
	if got := search(beta, "5 OR 6"); !slices.Equal(got, []uint64{11}) {
		t.Errorf("beta filter 5 OR 6: %v, want [11]", got)
	}
	if got := search(admin, "5 OR 6"); !slices.Equal(got, []uint64{1, 2, 11, 21}) {
		t.Errorf("admin filter 5 OR 6: %v, want [1 2 11 21]", got)
	}
	if got := search(admin, "NOT 5"); !slices.Equal(got, []uint64{2}) {
		t.Errorf("admin filter NOT 5: %v, want [2]", got)
	}
}

// TestSnapshotLabels: a snapshot holds each vector's labels and a
// restore sets them again: filtered searches of the copy equal the
// source's.
func TestSnapshotLabels(t *testing.T) {
	const dim, n, k = 8, 300, 10
	ts := start(t, "", nil)
	c := ts.dial("admin")
	ctx := context.Background()
	f := ingest(t, c, "docs", n, dim, 4)
	for lo := 0; lo < n; lo += 100 {
		ls := make([][]uint32, 100)
		for i := range ls {
			ls[i] = labelsOf(lo + i)
		}
		if err := setLabels(ctx, c, "", f.ids[lo:lo+100], ls...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: "lab"}); err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	if _, err := c.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "lab", Collection: "copy"}); err != nil {
		t.Fatalf("RestoreSnapshot: %v", err)
	}
	for _, expr := range []string{"1", "2", "1 AND NOT 2", "NOT 1 AND NOT 2"} {
		for _, q := range f.vecs[:10] {
			var got [2][]uint64
			for j, name := range []string{"docs", "copy"} {
				resp, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: name, Query: q, TopK: k, FilterExpr: expr, Params: &shoalv1.SearchParams{Nprobe: 64}})
				if err != nil {
					t.Fatalf("Search %s %q: %v", name, expr, err)
				}
				got[j] = hitIDs(resp.GetHits())
			}
			if len(got[0]) != k || !slices.Equal(got[0], got[1]) {
				t.Errorf("filter %q: source hits %v, restored copy's %v; want the same %d", expr, got[0], got[1], k)
			}
		}
	}
}

// TestUpsertLabels: labels carried by an upsert are set with it (every
// vector's, none for one without), a later upsert without labels keeps
// them, and a filtered search sees them.
func TestUpsertLabels(t *testing.T) {
	const dim = 8
	ts := start(t, "", nil)
	c := ts.dial("admin")
	ctx := context.Background()
	ingest(t, c, "docs", 50, dim, 3)
	v := func(id uint64, x float32, labels ...string) *shoalv1.Vector {
		vals := make([]float32, dim)
		vals[0] = x
		return &shoalv1.Vector{Id: id, Values: vals, Labels: labels}
	}
	if _, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{v(9001, 1, "5", "6"), v(9002, 2, "6"), v(9003, 3)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{v(9002, 2.5)}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: make([]float32, dim), TopK: 10, FilterExpr: "6"})
	if err != nil {
		t.Fatal(err)
	}
	if got := hitIDs(res.GetHits()); !slices.Equal(got, []uint64{9001, 9002}) {
		t.Fatalf("search with label 6 returned %v, want [9001 9002]", got)
	}
}
