package server_test

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func vec4(x float32) []float32 { return []float32{x, x, x, x} }

// getAll returns the vectors Get returns for ids, by id.
func getAll(t *testing.T, c shoalv1.VectorServiceClient, coll string, ids ...uint64) map[uint64]*shoalv1.Vector {
	t.Helper()
	resp, err := c.Get(context.Background(), &shoalv1.GetRequest{Collection: coll, Ids: ids})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	out := map[uint64]*shoalv1.Vector{}
	for _, v := range resp.GetVectors() {
		out[v.GetId()] = v
	}
	return out
}

// TestPayloads: payloads and label names through gRPC: upsert, Get,
// search with include_payload, SetPayloads, ListLabels, a restart.
func TestPayloads(t *testing.T) {
	ts := start(t, "", nil)
	c := ts.dial("admin")
	ctx := context.Background()
	if _, err := c.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: 4}); err != nil {
		t.Fatal(err)
	}
	red := mustStruct(t, map[string]any{"title": "a red one", "n": 1.5, "tags": []any{"x", true}, "deep": map[string]any{"k": nil}})
	_, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{
		{Id: 1, Values: vec4(1), Labels: []string{"color=red", "7"}, Payload: red},
		{Id: 2, Values: vec4(2), Labels: []string{"color=blue"}},
		{Id: 3, Values: vec4(3)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		got := getAll(t, c.Vectors, "docs", 1, 2, 3)
		if !proto.Equal(got[1].GetPayload(), red) || got[2].GetPayload() != nil {
			t.Errorf("%s: Get payloads %v / %v, want %v / none", when, got[1].GetPayload(), got[2].GetPayload(), red)
		}
		if ls := got[1].GetLabels(); !slices.Equal(ls, []string{"7", "color=red"}) {
			t.Errorf("%s: Get labels of 1 = %q, want [7 color=red]", when, ls)
		}
		resp, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: vec4(0), TopK: 10, FilterExpr: "color=red OR \"color=blue\"", IncludePayload: true})
		if err != nil {
			t.Fatal(err)
		}
		if ids := hitIDs(resp.GetHits()); !slices.Equal(ids, []uint64{1, 2}) {
			t.Fatalf("%s: search by name = %v, want [1 2]", when, ids)
		}
		if h := resp.GetHits(); !proto.Equal(h[0].GetPayload(), red) || h[1].GetPayload() != nil {
			t.Errorf("%s: hit payloads %v, %v", when, h[0].GetPayload(), h[1].GetPayload())
		}
		b, err := c.Vectors.SearchBatch(ctx, &shoalv1.SearchBatchRequest{Collection: "docs", Queries: []*shoalv1.Query{{Values: vec4(0)}}, TopK: 1, Filter: &shoalv1.Filter{AllOf: []string{"color=red"}}, IncludePayload: true})
		if err != nil || len(b.GetResults()) != 1 || !proto.Equal(b.GetResults()[0].GetHits()[0].GetPayload(), red) {
			t.Errorf("%s: SearchBatch with payloads = %v, %v", when, b, err)
		}
		// Without include_payload, no payload.
		resp, err = c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: vec4(0), TopK: 1})
		if err != nil || resp.GetHits()[0].GetPayload() != nil {
			t.Errorf("%s: search without include_payload returned %v, %v", when, resp.GetHits(), err)
		}
		ll, err := c.Vectors.ListLabels(ctx, &shoalv1.ListLabelsRequest{Collection: "docs"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ll.GetLabels()) != 2 || ll.GetLabels()[0].GetName() != "color=blue" || ll.GetLabels()[1].GetName() != "color=red" || ll.GetLabels()[1].GetId() < 1<<31 {
			t.Errorf("%s: ListLabels = %v", when, ll.GetLabels())
		}
	}
	check("after upsert")
	ts.stop()
	ts.restart()
	c = ts.dial("admin")
	check("after a restart")

	// SetPayloads replaces and removes; upserts without payloads keep.
	green := mustStruct(t, map[string]any{"color": "green"})
	if _, err := c.Vectors.SetPayloads(ctx, &shoalv1.SetPayloadsRequest{Collection: "docs", Vectors: []*shoalv1.PayloadSet{{Id: 2, Payload: green}, {Id: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{{Id: 2, Values: vec4(2.5)}}}); err != nil {
		t.Fatal(err)
	}
	got := getAll(t, c.Vectors, "docs", 1, 2)
	if got[1].GetPayload() != nil || !proto.Equal(got[2].GetPayload(), green) {
		t.Errorf("after SetPayloads: %v, %v", got[1].GetPayload(), got[2].GetPayload())
	}
	_, err = c.Vectors.SetPayloads(ctx, &shoalv1.SetPayloadsRequest{Collection: "docs", Vectors: []*shoalv1.PayloadSet{{Id: 2, Payload: red}, {Id: 99, Payload: red}}})
	wantCode(t, "SetPayloads of a missing id", err, codes.NotFound)
	if got := getAll(t, c.Vectors, "docs", 2); !proto.Equal(got[2].GetPayload(), green) {
		t.Errorf("a refused SetPayloads changed id 2: %v", got[2].GetPayload())
	}
}

// TestPayloadBadInput: bad payloads and labels are InvalidArgument
// naming the vector, and nothing of the request is stored.
func TestPayloadBadInput(t *testing.T) {
	ts := start(t, "", &server.Options{MaxPayloadBytes: 100})
	c := ts.dial("admin")
	ctx := context.Background()
	if _, err := c.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: 4}); err != nil {
		t.Fatal(err)
	}
	keep := mustStruct(t, map[string]any{"keep": true})
	if _, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{{Id: 1, Values: vec4(1), Labels: []string{"old"}, Payload: keep}}}); err != nil {
		t.Fatal(err)
	}
	nan := &structpb.Struct{Fields: map[string]*structpb.Value{"x": structpb.NewNumberValue(math.NaN())}}
	inf := &structpb.Struct{Fields: map[string]*structpb.Value{"l": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(math.Inf(1))}})}}
	big := mustStruct(t, map[string]any{"s": strings.Repeat("x", 200)})
	for _, tc := range []struct {
		name string
		v    *shoalv1.Vector
		msg  string
	}{
		{"NaN", &shoalv1.Vector{Id: 2, Values: vec4(2), Payload: nan}, "not a JSON number"},
		{"Inf in a list", &shoalv1.Vector{Id: 2, Values: vec4(2), Payload: inf}, "$.l[0]"},
		{"oversize", &shoalv1.Vector{Id: 2, Values: vec4(2), Payload: big}, "above the server's limit of 100"},
		{"digits beyond uint32", &shoalv1.Vector{Id: 2, Values: vec4(2), Labels: []string{"new", "4294967296"}}, "not a label id"},
		{"name too long", &shoalv1.Vector{Id: 2, Values: vec4(2), Labels: []string{strings.Repeat("n", 257)}}, "257 bytes"},
	} {
		// Vector 0 (id 1) is fine and would change; vector 1 is bad.
		_, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{
			{Id: 1, Values: vec4(5), Labels: []string{"fresh"}, Payload: mustStruct(t, map[string]any{"changed": 1})}, tc.v}})
		wantCode(t, "upsert "+tc.name, err, codes.InvalidArgument)
		if msg := status.Convert(err).Message(); !strings.Contains(msg, tc.msg) || (!strings.Contains(msg, "vector 1 (id 2)") && !strings.Contains(msg, "labels:")) {
			t.Errorf("upsert %s: message %q, want the vector and %q", tc.name, msg, tc.msg)
		}
		if tc.v.Payload != nil {
			_, err = c.Vectors.SetPayloads(ctx, &shoalv1.SetPayloadsRequest{Collection: "docs", Vectors: []*shoalv1.PayloadSet{{Id: 1, Payload: tc.v.Payload}}})
			wantCode(t, "SetPayloads "+tc.name, err, codes.InvalidArgument)
		}
	}
	// Nothing stored: id 1 as it was, no id 2, no new label names.
	got := getAll(t, c.Vectors, "docs", 1, 2)
	if len(got) != 1 || !proto.Equal(got[1].GetPayload(), keep) || !slices.Equal(got[1].GetLabels(), []string{"old"}) || got[1].GetValues()[0] != 1 {
		t.Errorf("after the refused calls: %v, want id 1 unchanged alone", got)
	}
	ll, err := c.Vectors.ListLabels(ctx, &shoalv1.ListLabelsRequest{Collection: "docs"})
	if err != nil || len(ll.GetLabels()) != 1 || ll.GetLabels()[0].GetName() != "old" {
		t.Errorf("ListLabels after the refused calls = %v, %v; want only \"old\"", ll.GetLabels(), err)
	}
	// An unknown name in a filter, text or structured.
	_, err = c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: vec4(0), TopK: 1, FilterExpr: "color=purple"})
	wantCode(t, "filter with an unknown name", err, codes.InvalidArgument)
	if !strings.Contains(status.Convert(err).Message(), `unknown label "color=purple"`) {
		t.Errorf("unknown name message: %v", err)
	}
	_, err = c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: vec4(0), TopK: 1, Filter: &shoalv1.Filter{NoneOf: []string{"color=purple"}}})
	wantCode(t, "structured filter with an unknown name", err, codes.InvalidArgument)
	ll, _ = c.Vectors.ListLabels(ctx, &shoalv1.ListLabelsRequest{Collection: "docs"})
	if len(ll.GetLabels()) != 1 {
		t.Errorf("a filter created a label name: %v", ll.GetLabels())
	}
	// Bad indexed fields.
	_, err = c.CreateCollection(ctx, "bad", &shoalv1.CollectionConfig{Dim: 4, IndexedPayloadFields: []string{"a=b"}})
	wantCode(t, "indexed field with =", err, codes.InvalidArgument)
}

// TestIndexedPayloadFields: a collection's indexed payload fields label
// its vectors field=value, a filter on them finds exactly those, the
// labels follow SetPayloads, and a snapshot carries it all.
func TestIndexedPayloadFields(t *testing.T) {
	ts := start(t, "", nil)
	c := ts.dial("admin")
	ctx := context.Background()
	coll, err := c.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: 4, IndexedPayloadFields: []string{"color", "size"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := coll.GetConfig().GetIndexedPayloadFields(); !slices.Equal(got, []string{"color", "size"}) {
		t.Errorf("CreateCollection config fields = %q", got)
	}
	colors := []string{"red", "blue", "green"}
	var vs []*shoalv1.Vector
	for i := range 30 {
		vs = append(vs, &shoalv1.Vector{Id: uint64(i), Values: vec4(float32(i)), Payload: mustStruct(t, map[string]any{"color": colors[i%3], "size": float64(i % 2)})})
	}
	if _, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: vs}); err != nil {
		t.Fatal(err)
	}
	search := func(coll, expr string) []uint64 {
		t.Helper()
		resp, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: coll, Query: vec4(0), TopK: 30, FilterExpr: expr, Params: &shoalv1.SearchParams{Nprobe: 64}})
		if err != nil {
			t.Fatalf("search %s %q: %v", coll, expr, err)
		}
		ids := hitIDs(resp.GetHits())
		slices.Sort(ids)
		return ids
	}
	var want []uint64
	for i := uint64(0); i < 30; i += 3 {
		want = append(want, i)
	}
	if got := search("docs", "color=red"); !slices.Equal(got, want) {
		t.Errorf("color=red = %v, want %v", got, want)
	}
	if got := search("docs", "color=red AND size=1"); !slices.Equal(got, []uint64{3, 9, 15, 21, 27}) {
		t.Errorf("color=red AND size=1 = %v", got)
	}
	// The derived labels follow the payload.
	if _, err := c.Vectors.SetPayloads(ctx, &shoalv1.SetPayloadsRequest{Collection: "docs", Vectors: []*shoalv1.PayloadSet{{Id: 0, Payload: mustStruct(t, map[string]any{"color": "blue"})}}}); err != nil {
		t.Fatal(err)
	}
	if got := search("docs", "color=red"); !slices.Equal(got, want[1:]) {
		t.Errorf("after SetPayloads, color=red = %v, want %v", got, want[1:])
	}
	if got := getAll(t, c.Vectors, "docs", 0)[0].GetLabels(); !slices.Equal(got, []string{"color=blue"}) {
		t.Errorf("Get labels of 0 = %q, want [color=blue]", got)
	}
	// A snapshot and its restore keep payloads, names and fields.
	if _, err := c.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: "docs", Directory: "pl"}); err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	restored, err := c.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "pl", Collection: "copy"})
	if err != nil {
		t.Fatalf("RestoreSnapshot: %v", err)
	}
	if got := restored.GetConfig().GetIndexedPayloadFields(); !slices.Equal(got, []string{"color", "size"}) {
		t.Errorf("restored config fields = %q", got)
	}
	if got := search("copy", "color=red"); !slices.Equal(got, want[1:]) {
		t.Errorf("restored copy: color=red = %v, want %v", got, want[1:])
	}
	if got := getAll(t, c.Vectors, "copy", 3)[3]; got.GetPayload().GetFields()["color"].GetStringValue() != "red" {
		t.Errorf("restored payload of 3 = %v", got.GetPayload())
	}
	// New payloads in the copy derive labels too (its fields came along).
	if _, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "copy", Vectors: []*shoalv1.Vector{{Id: 100, Values: vec4(0.5), Payload: mustStruct(t, map[string]any{"color": "red"})}}}); err != nil {
		t.Fatal(err)
	}
	if got := search("copy", "color=red"); !slices.Contains(got, 100) {
		t.Errorf("restored copy: a new red vector is not found by color=red: %v", got)
	}
	// The catalog keeps the fields across a restart.
	ts.stop()
	ts.restart()
	c = ts.dial("admin")
	d, err := c.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil || !slices.Equal(d.GetConfig().GetIndexedPayloadFields(), []string{"color", "size"}) {
		t.Errorf("DescribeCollection after restart: %v, %v", d.GetConfig(), err)
	}
}

// TestTenantPayloads: SetPayloads obeys the tenant rules of SetLabels,
// and a tenant's ListLabels shows only the names on vectors it may read.
func TestTenantPayloads(t *testing.T) {
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
	p := mustStruct(t, map[string]any{"a": 1})
	if _, err := acme.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{{Id: 1, Values: vec4(1), Labels: []string{"acme-secret"}, Payload: p}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := beta.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{{Id: 11, Values: vec4(2), Labels: []string{"beta-only"}}}}); err != nil {
		t.Fatal(err)
	}
	_, err := beta.Vectors.SetPayloads(ctx, &shoalv1.SetPayloadsRequest{Collection: "docs", Vectors: []*shoalv1.PayloadSet{{Id: 11, Payload: p}, {Id: 1}}})
	wantCode(t, "beta SetPayloads of acme's", err, codes.PermissionDenied)
	if got := getAll(t, acme.Vectors, "docs", 1)[1]; !proto.Equal(got.GetPayload(), p) {
		t.Errorf("a refused SetPayloads changed acme's payload: %v", got.GetPayload())
	}
	if _, err := beta.Vectors.SetPayloads(ctx, &shoalv1.SetPayloadsRequest{Collection: "docs", Vectors: []*shoalv1.PayloadSet{{Id: 11, Payload: p}}}); err != nil {
		t.Errorf("beta SetPayloads of its own: %v", err)
	}
	ll, err := beta.Vectors.ListLabels(ctx, &shoalv1.ListLabelsRequest{Collection: "docs"})
	if err != nil || len(ll.GetLabels()) != 1 || ll.GetLabels()[0].GetName() != "beta-only" {
		t.Errorf("beta ListLabels = %v, %v; want only beta-only", ll.GetLabels(), err)
	}
	ll, err = admin.Vectors.ListLabels(ctx, &shoalv1.ListLabelsRequest{Collection: "docs"})
	if err != nil || len(ll.GetLabels()) != 2 {
		t.Errorf("admin ListLabels = %v, %v; want both", ll.GetLabels(), err)
	}

	// A tenant key may not write, by number, a label id of the names'
	// range that no name holds: 4294967295 would leave no id for any
	// tenant's new names. Refused whole, nothing stored; ids of existing
	// names and ids below the range pass; names keep being created.
	acmeSecret, _ := acme.Vectors.ListLabels(ctx, &shoalv1.ListLabelsRequest{Collection: "docs"})
	named := strconv.FormatUint(uint64(acmeSecret.GetLabels()[0].GetId()), 10)
	_, err = beta.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{{Id: 12, Values: vec4(3), Labels: []string{"4294967295"}}}})
	wantCode(t, "beta Upsert with label 4294967295", err, codes.InvalidArgument)
	_, err = beta.Vectors.SetLabels(ctx, &shoalv1.SetLabelsRequest{Collection: "docs", Vectors: []*shoalv1.LabelSet{{Id: 11, Labels: []uint32{1<<31 + 1000}}}})
	wantCode(t, "beta SetLabels with label 2^31+1000", err, codes.InvalidArgument)
	if got := getAll(t, admin.Vectors, "docs", 12); len(got) != 0 {
		t.Errorf("a refused upsert stored id 12: %v", got)
	}
	if _, err := beta.Vectors.SetLabels(ctx, &shoalv1.SetLabelsRequest{Collection: "docs", Vectors: []*shoalv1.LabelSet{{Id: 11, Labels: []uint32{7}, Names: []string{named, "beta-new"}}}}); err != nil {
		t.Errorf("beta SetLabels with id 7, a name's id and a new name: %v", err)
	}
	if _, err := admin.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{{Id: 13, Values: vec4(3), Labels: []string{"3000000000"}}}}); err != nil {
		t.Errorf("admin Upsert with label 3000000000: %v", err)
	}
}

// TestPayloadResponseLimit: payloads count against the response limit as
// they are read: a Get or search whose payloads would pass it is
// RESOURCE_EXHAUSTED, one that fits is answered.
func TestPayloadResponseLimit(t *testing.T) {
	ts := start(t, "", &server.Options{MaxResponseBytes: 6 << 10})
	c := ts.dial("admin")
	ctx := context.Background()
	if _, err := c.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: 4}); err != nil {
		t.Fatal(err)
	}
	p := mustStruct(t, map[string]any{"s": strings.Repeat("x", 4<<10)})
	if _, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{
		{Id: 1, Values: vec4(1), Payload: p}, {Id: 2, Values: vec4(2), Payload: p}}}); err != nil {
		t.Fatal(err)
	}
	if got := getAll(t, c.Vectors, "docs", 1); !proto.Equal(got[1].GetPayload(), p) {
		t.Errorf("Get of one: %v", got[1])
	}
	_, err := c.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: "docs", Ids: []uint64{1, 2}})
	wantCode(t, "Get of two payloads past the limit", err, codes.ResourceExhausted)
	_, err = c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: vec4(0), TopK: 2, IncludePayload: true})
	wantCode(t, "Search of two payloads past the limit", err, codes.ResourceExhausted)
	if r, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: vec4(0), TopK: 1, IncludePayload: true}); err != nil || !proto.Equal(r.GetHits()[0].GetPayload(), p) {
		t.Errorf("Search of one payload: %v, %v", r, err)
	}
	// A stream sends one query's results per message when they are large.
	st, err := c.Vectors.SearchBatchStream(ctx, &shoalv1.SearchBatchRequest{Collection: "docs", Queries: []*shoalv1.Query{{Values: vec4(0)}, {Values: vec4(3)}}, TopK: 1, IncludePayload: true})
	if err != nil {
		t.Fatal(err)
	}
	msgs := 0
	for {
		m, err := st.Recv()
		if err != nil {
			break
		}
		msgs++
		for _, r := range m.GetResults() {
			if !proto.Equal(r.GetHits()[0].GetPayload(), p) {
				t.Errorf("stream hit without its payload: %v", r.GetHits()[0])
			}
		}
	}
	if msgs != 2 {
		t.Errorf("stream sent %d messages, want 2 (one query's payload each)", msgs)
	}
	if resp, err := c.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: "docs", Ids: []uint64{1, 1}}); status.Code(err) != codes.ResourceExhausted && (err != nil || len(resp.GetVectors()) != 2) {
		t.Errorf("Get with an id twice: %v, %v", resp, err)
	}
}
