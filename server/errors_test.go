package server_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// TestBadInput: every class of bad request gets its status code, and no
// stored data changes.
func TestBadInput(t *testing.T) {
	const dim = 8
	ts := start(t, "", &server.Options{MaxBatch: 100, MaxTopK: 50, MaxRecvMsgBytes: 256 << 10})
	c := ts.dial("admin")
	ctx := context.Background()
	f := ingest(t, c, "docs", 300, dim, 2)

	vec := func(id uint64, vals ...float32) *shoalv1.Vector {
		if vals == nil {
			vals = make([]float32, dim)
			vals[0] = float32(id)
		}
		return &shoalv1.Vector{Id: id, Values: vals}
	}
	upsert := func(vs ...*shoalv1.Vector) error {
		_, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Vectors: vs})
		return err
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	many := make([]*shoalv1.Vector, 101)
	for i := range many {
		many[i] = vec(uint64(90000 + i))
	}
	// 9,000 vectors of 8 floats: about 400 KiB, above the 256 KiB limit.
	huge := make([]*shoalv1.Vector, 0, 9000)
	for i := range 9000 {
		huge = append(huge, vec(uint64(100000+i)))
	}
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	query := func(q []float32, k uint32) error {
		_, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: q, TopK: k})
		return err
	}
	q := f.vecs[0]

	cases := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"upsert wrong dim", func() error { return upsert(vec(1, 1, 2, 3)) }, codes.InvalidArgument},
		{"upsert NaN", func() error { return upsert(vec(5000), vec(1, 0, 0, nan, 0, 0, 0, 0, 0)) }, codes.InvalidArgument},
		{"upsert Inf", func() error { return upsert(vec(1, inf, 0, 0, 0, 0, 0, 0, 0)) }, codes.InvalidArgument},
		{"upsert duplicate ids", func() error { return upsert(vec(5001), vec(5001)) }, codes.InvalidArgument},
		{"upsert empty", func() error { return upsert() }, codes.InvalidArgument},
		{"upsert oversized batch", func() error { return upsert(many...) }, codes.ResourceExhausted},
		{"upsert oversized message", func() error { return upsert(huge...) }, codes.ResourceExhausted},
		{"upsert label beyond uint32", func() error {
			// A name is a label ("x"); all digits, it must be a uint32.
			return upsert(&shoalv1.Vector{Id: 5002, Values: make([]float32, dim), Labels: []string{"4294967296"}})
		}, codes.InvalidArgument},
		{"upsert unknown collection", func() error {
			_, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "nope", Vectors: []*shoalv1.Vector{vec(1)}})
			return err
		}, codes.NotFound},
		{"upsert expired deadline", func() error {
			_, err := c.Vectors.Upsert(expired, &shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{vec(5003)}})
			return err
		}, codes.DeadlineExceeded},
		{"search wrong dim", func() error { return query(q[:3], 10) }, codes.InvalidArgument},
		{"search NaN", func() error { return query(append([]float32{nan}, q[1:]...), 10) }, codes.InvalidArgument},
		{"search top_k 0", func() error { return query(q, 0) }, codes.InvalidArgument},
		{"search top_k above max", func() error { return query(q, 51) }, codes.InvalidArgument},
		{"search filter", func() error {
			_, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: q, TopK: 1, Filter: &shoalv1.Filter{AllOf: []string{"a"}}})
			return err
		}, codes.InvalidArgument},
		{"search malformed filter", func() error {
			_, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: q, TopK: 1, FilterExpr: "1 AND (2"})
			return err
		}, codes.InvalidArgument},
		{"set labels of a missing id", func() error {
			_, err := c.Vectors.SetLabels(ctx, &shoalv1.SetLabelsRequest{Collection: "docs", Vectors: []*shoalv1.LabelSet{{Id: 1000, Labels: []uint32{1}}, {Id: 5000, Labels: []uint32{1}}}})
			return err
		}, codes.NotFound},
		{"set labels oversized", func() error {
			vs := make([]*shoalv1.LabelSet, 101)
			for i := range vs {
				vs[i] = &shoalv1.LabelSet{Id: uint64(1000 + i)}
			}
			_, err := c.Vectors.SetLabels(ctx, &shoalv1.SetLabelsRequest{Collection: "docs", Vectors: vs})
			return err
		}, codes.ResourceExhausted},
		{"set labels unknown collection", func() error {
			_, err := c.Vectors.SetLabels(ctx, &shoalv1.SetLabelsRequest{Collection: "nope", Vectors: []*shoalv1.LabelSet{{Id: 1000}}})
			return err
		}, codes.NotFound},
		{"set labels expired deadline", func() error {
			_, err := c.Vectors.SetLabels(expired, &shoalv1.SetLabelsRequest{Collection: "docs", Vectors: []*shoalv1.LabelSet{{Id: 1000, Labels: []uint32{1}}}})
			return err
		}, codes.DeadlineExceeded},
		{"search unknown collection", func() error {
			_, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "nope", Query: q, TopK: 1})
			return err
		}, codes.NotFound},
		{"search no collection name", func() error {
			_, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Query: q, TopK: 1})
			return err
		}, codes.InvalidArgument},
		{"search expired deadline", func() error {
			_, err := c.Vectors.Search(expired, &shoalv1.SearchRequest{Collection: "docs", Query: q, TopK: 1})
			return err
		}, codes.DeadlineExceeded},
		{"search batch oversized", func() error {
			qs := make([]*shoalv1.Query, 101)
			for i := range qs {
				qs[i] = &shoalv1.Query{Values: q}
			}
			_, err := c.Vectors.SearchBatch(ctx, &shoalv1.SearchBatchRequest{Collection: "docs", Queries: qs, TopK: 1})
			return err
		}, codes.ResourceExhausted},
		{"search batch one bad query", func() error {
			qs := []*shoalv1.Query{{Values: q}, {Values: q[:2]}}
			_, err := c.Vectors.SearchBatch(ctx, &shoalv1.SearchBatchRequest{Collection: "docs", Queries: qs, TopK: 1})
			return err
		}, codes.InvalidArgument},
		{"delete empty", func() error {
			_, err := c.Vectors.Delete(ctx, &shoalv1.DeleteRequest{Collection: "docs"})
			return err
		}, codes.InvalidArgument},
		{"delete duplicate ids", func() error {
			_, err := c.Vectors.Delete(ctx, &shoalv1.DeleteRequest{Collection: "docs", Ids: []uint64{1000, 1000}})
			return err
		}, codes.InvalidArgument},
		{"delete oversized", func() error {
			_, err := c.Vectors.Delete(ctx, &shoalv1.DeleteRequest{Collection: "docs", Ids: make([]uint64, 101)})
			return err
		}, codes.ResourceExhausted},
		{"delete unknown collection", func() error {
			_, err := c.Vectors.Delete(ctx, &shoalv1.DeleteRequest{Collection: "nope", Ids: []uint64{1000}})
			return err
		}, codes.NotFound},
		{"delete expired deadline", func() error {
			_, err := c.Vectors.Delete(expired, &shoalv1.DeleteRequest{Collection: "docs", Ids: []uint64{1000}})
			return err
		}, codes.DeadlineExceeded},
		{"get unknown collection", func() error {
			_, err := c.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: "nope", Ids: []uint64{1}})
			return err
		}, codes.NotFound},
		{"create existing", func() error {
			_, err := c.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim})
			return err
		}, codes.AlreadyExists},
		{"create bad name", func() error {
			_, err := c.CreateCollection(ctx, "../etc", &shoalv1.CollectionConfig{Dim: dim})
			return err
		}, codes.InvalidArgument},
		{"create no dim", func() error {
			_, err := c.CreateCollection(ctx, "other", &shoalv1.CollectionConfig{})
			return err
		}, codes.InvalidArgument},
		{"create no config", func() error {
			_, err := c.CreateCollection(ctx, "other", nil)
			return err
		}, codes.InvalidArgument},
		{"create dim too large", func() error {
			_, err := c.CreateCollection(ctx, "other", &shoalv1.CollectionConfig{Dim: 1 << 20})
			return err
		}, codes.InvalidArgument},
		{"create unknown metric", func() error {
			_, err := c.CreateCollection(ctx, "other", &shoalv1.CollectionConfig{Dim: 4, Metric: 42})
			return err
		}, codes.InvalidArgument},
		{"create cosine u8", func() error {
			_, err := c.CreateCollection(ctx, "other", &shoalv1.CollectionConfig{Dim: 4, Metric: shoalv1.Metric_METRIC_COSINE, ElementType: shoalv1.ElementType_ELEMENT_TYPE_UINT8})
			return err
		}, codes.InvalidArgument},
		{"describe unknown", func() error {
			_, err := c.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "nope"})
			return err
		}, codes.NotFound},
		{"drop unknown", func() error { return c.DropCollection(ctx, "nope") }, codes.NotFound},
		{"tenant unknown collection", func() error {
			_, err := c.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "nope", Tenant: "t"})
			return err
		}, codes.NotFound},
		{"tenant bad name", func() error {
			_, err := c.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "a b"})
			return err
		}, codes.InvalidArgument},
		{"unknown tenant", func() error {
			_, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: q, TopK: 1, Tenant: "nobody"})
			return err
		}, codes.NotFound},
		{"grant to unknown tenant", func() error {
			_, err := c.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: "docs", Tenant: "nobody", Ids: []uint64{1000}})
			return err
		}, codes.NotFound},
		{"revoke unknown key", func() error {
			_, err := c.Admin.RevokeAPIKey(ctx, &shoalv1.RevokeAPIKeyRequest{Id: "nope"})
			return err
		}, codes.NotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.name, tc.call(), tc.code) })
	}

	// A stream with a bad message in the middle: it ends with the error;
	// the messages before it are stored, those after it are not sent.
	st, err := c.Vectors.UpsertStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Send(&shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{vec(7000)}})
	_ = st.Send(&shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{vec(7001, 1)}})
	_, err = st.CloseAndRecv()
	wantCode(t, "stream with a wrong-dim message", err, codes.InvalidArgument)

	// Nothing else changed: the count is the fixture's plus the stream's
	// first message, and the vectors read back as stored.
	col, err := c.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil || col.GetVectorCount() != uint64(len(f.ids)+1) {
		t.Fatalf("after the bad requests: %v vectors, %v; want %d", col.GetVectorCount(), err, len(f.ids)+1)
	}
	got := map[uint64][]float32{}
	all := append(slices.Clone(f.ids), 5000, 5001, 5003, 90000, 100000)
	for lo := 0; lo < len(all); lo += 100 {
		part, err := c.Get(ctx, "docs", all[lo:min(lo+100, len(all))])
		if err != nil {
			t.Fatal(err)
		}
		for id, v := range part {
			got[id] = v
		}
	}
	if len(got) != len(f.ids) {
		t.Errorf("Get found %d vectors, want the fixture's %d and none of the refused ids", len(got), len(f.ids))
	}
	for i, id := range f.ids {
		if !slices.Equal(got[id], f.vecs[i]) {
			t.Fatalf("vector %d changed", id)
		}
	}
	list, err := c.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
	if err != nil || len(list.GetCollections()) != 1 {
		t.Errorf("collections after refused creates: %v, %v; want only docs", list, err)
	}
}

// TestAuth: calls need a key; a tenant key may not administer, act for
// another tenant, or reach data unscoped; the admin key may do all.
func TestAuth(t *testing.T) {
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	ingest(t, admin, "docs", 50, 4, 3)
	q := []float32{1, 2, 3, 4}

	for _, key := range []string{"", "wrong-key-wrong-key"} {
		c := ts.dial(key)
		_, err := c.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
		wantCode(t, "ListCollections with key "+key, err, codes.Unauthenticated)
		_, err = c.Search(ctx, "docs", q, 1, nil)
		wantCode(t, "Search with key "+key, err, codes.Unauthenticated)
	}

	if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: "docs", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	// Keys survive a restart.
	ts.stop()
	ts.restart()
	admin = ts.dial("admin")
	acme := ts.dial(k.GetSecret())
	denied := map[string]func() error{
		"CreateCollection": func() error {
			_, err := acme.CreateCollection(ctx, "mine", &shoalv1.CollectionConfig{Dim: 4})
			return err
		},
		"DropCollection": func() error { return acme.DropCollection(ctx, "docs") },
		"GetStats": func() error {
			_, err := acme.Collections.GetStats(ctx, &shoalv1.GetStatsRequest{Collection: "docs"})
			return err
		},
		"CreateAPIKey": func() error {
			_, err := acme.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: "docs", Tenant: "other"})
			return err
		},
		"CreateTenant": func() error {
			_, err := acme.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "acme"})
			return err
		},
		"Grant": func() error {
			_, err := acme.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: "docs", Tenant: "acme", Ids: []uint64{1000}})
			return err
		},
		"Search for another tenant": func() error {
			_, err := acme.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: "docs", Query: q, TopK: 1, Tenant: "other"})
			return err
		},
		"Get of another tenant": func() error {
			_, err := acme.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: "docs", Ids: []uint64{1000}, Tenant: "other"})
			return err
		},
		"Delete for another tenant": func() error {
			_, err := acme.Vectors.Delete(ctx, &shoalv1.DeleteRequest{Collection: "docs", Ids: []uint64{1000}, Tenant: "other"})
			return err
		},
		"Upsert for another tenant": func() error {
			_, err := acme.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: "docs", Tenant: "other", Vectors: []*shoalv1.Vector{{Id: 1, Values: q}}})
			return err
		},
	}
	for name, call := range denied {
		wantCode(t, "tenant key: "+name, call(), codes.PermissionDenied)
	}
	// The vectors of no tenant are not its to delete.
	_, err = acme.Delete(ctx, "docs", []uint64{1000})
	wantCode(t, "tenant key: Delete of a vector of no tenant", err, codes.PermissionDenied)
	if _, err := acme.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{}); err != nil {
		t.Errorf("tenant key: ListCollections: %v", err)
	}
	if vs, err := admin.Get(ctx, "docs", []uint64{1000}); err != nil || len(vs) != 1 {
		t.Errorf("the tenant key's refused Delete removed a vector: %v, %v", vs, err)
	}

	// A revoked key is unknown.
	if _, err := admin.Admin.RevokeAPIKey(ctx, &shoalv1.RevokeAPIKeyRequest{Id: k.GetKey().GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = acme.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
	wantCode(t, "revoked key", err, codes.Unauthenticated)

	// Health needs no key.
	anon, err := client.Dial(ts.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if _, err := anon.Health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health without a key: %v", err)
	}
}
