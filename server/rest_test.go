package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// restClient calls a server's REST API with net/http.
type restClient struct {
	t    *testing.T
	base string // "http://127.0.0.1:port"
	key  string // sent as "Authorization: Bearer key" unless empty
	hc   *http.Client
}

func (ts *testServer) rest(key string) *restClient {
	if key == "admin" {
		key = adminKey
	}
	hc := &http.Client{Timeout: 20 * time.Second}
	ts.t.Cleanup(hc.CloseIdleConnections)
	return &restClient{t: ts.t, base: "http://" + ts.addr, key: key, hc: hc}
}

// restReply is a REST response: its status and JSON body.
type restReply struct {
	status int
	header http.Header
	body   []byte
}

// do sends method path with body (JSON-encoded unless it is a string or
// nil) and returns the reply.
func (c *restClient) do(method, path string, body any) restReply {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return restReply{status: resp.StatusCode, header: resp.Header, body: out}
}

// ok decodes a 200 reply into out (if not nil); any other status fails
// the test.
func (c *restClient) ok(method, path string, body, out any) {
	c.t.Helper()
	rep := c.do(method, path, body)
	if rep.status != http.StatusOK {
		c.t.Fatalf("%s %s: HTTP %d %s, want 200", method, path, rep.status, rep.body)
	}
	if out != nil {
		if err := json.Unmarshal(rep.body, out); err != nil {
			c.t.Fatalf("%s %s: body %s: %v", method, path, rep.body, err)
		}
	}
}

// wantError checks that rep is an error reply with HTTP status httpCode
// and a JSON body {code, status, message} carrying code.
func wantError(t *testing.T, what string, rep restReply, httpCode int, code codes.Code, status string) {
	t.Helper()
	var e struct {
		Code    int32  `json:"code"`
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rep.body, &e); err != nil {
		t.Fatalf("%s: HTTP %d, body %q is not a JSON error: %v", what, rep.status, rep.body, err)
	}
	if rep.status != httpCode || e.Code != int32(code) || e.Status != status || e.Message == "" {
		t.Fatalf("%s: HTTP %d %s, want HTTP %d with code %d, status %s and a message", what, rep.status, rep.body, httpCode, code, status)
	}
}

// JSON shapes of the REST replies the tests read (protojson: uint64 as
// strings, proto field names).
type (
	restHit struct {
		ID       string          `json:"id"`
		Distance float32         `json:"distance"`
		Values   []float32       `json:"values"`
		Payload  json.RawMessage `json:"payload"`
	}
	restSearch struct {
		Hits []restHit `json:"hits"`
	}
	restVector struct {
		ID      string          `json:"id"`
		Values  []float32       `json:"values"`
		Labels  []string        `json:"labels"`
		Payload json.RawMessage `json:"payload"`
	}
	restGet struct {
		Vectors []restVector `json:"vectors"`
		Missing []string     `json:"missing"`
	}
	restCollection struct {
		Name        string `json:"name"`
		VectorCount string `json:"vector_count"`
		Config      struct {
			Dim int `json:"dim"`
		} `json:"config"`
	}
)

// restVectors are n vectors of dim 4, vector i near axis i%4 and
// scaled by 1+i, as JSON objects for an upsert.
func restVectors(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		v := make([]float32, 4)
		v[i%4] = float32(1 + i)
		v[(i+1)%4] = 0.5
		out[i] = map[string]any{"id": i + 1, "values": v}
	}
	return out
}

// TestRESTRoundTrip creates a collection, upserts, searches, gets and
// deletes through REST, and checks with gRPC on the same port that the
// calls reached the same server.
func TestRESTRoundTrip(t *testing.T) {
	ts := start(t, "", nil)
	rc := ts.rest("admin")

	var coll restCollection
	rc.ok("POST", "/v1/collections", map[string]any{"name": "docs", "config": map[string]any{"dim": 4}}, &coll)
	if coll.Name != "docs" || coll.Config.Dim != 4 {
		t.Fatalf("created %+v, want docs of dim 4", coll)
	}
	vecs := restVectors(20)
	var up struct {
		Upserted string `json:"upserted"`
	}
	rc.ok("POST", "/v1/collections/docs/vectors:upsert", map[string]any{"vectors": vecs}, &up)
	if up.Upserted != "20" {
		t.Fatalf("upserted %q, want \"20\"", up.Upserted)
	}
	rc.ok("GET", "/v1/collections/docs", nil, &coll)
	if coll.VectorCount != "20" {
		t.Fatalf("vector_count %q after 20 upserts, want \"20\"", coll.VectorCount)
	}

	// The nearest vector of a stored vector is itself, at distance 0.
	for _, i := range []int{0, 7, 19} {
		var res restSearch
		rc.ok("POST", "/v1/collections/docs/vectors:search", map[string]any{
			"query": vecs[i]["values"], "top_k": 3, "include_vectors": true,
		}, &res)
		want := fmt.Sprint(i + 1)
		if len(res.Hits) != 3 || res.Hits[0].ID != want || res.Hits[0].Distance != 0 {
			t.Fatalf("search for vector %s: %+v, want 3 hits, the first %s at distance 0", want, res.Hits, want)
		}
		if !slices.Equal(res.Hits[0].Values, vecs[i]["values"].([]float32)) {
			t.Fatalf("hit %s values %v, want %v (include_vectors)", want, res.Hits[0].Values, vecs[i]["values"])
		}
		if res.Hits[1].Distance < res.Hits[0].Distance || res.Hits[2].Distance < res.Hits[1].Distance {
			t.Fatalf("hits not nearest first: %+v", res.Hits)
		}
	}

	// Batch search: one result per query, in order.
	var batch struct {
		Results []restSearch `json:"results"`
	}
	rc.ok("POST", "/v1/collections/docs/vectors:searchBatch", map[string]any{
		"queries": []any{map[string]any{"values": vecs[3]["values"]}, map[string]any{"values": vecs[4]["values"]}}, "top_k": 1,
	}, &batch)
	if len(batch.Results) != 2 || batch.Results[0].Hits[0].ID != "4" || batch.Results[1].Hits[0].ID != "5" {
		t.Fatalf("batch search: %+v, want [[4] [5]]", batch.Results)
	}

	var got restGet
	rc.ok("POST", "/v1/collections/docs/vectors:get", map[string]any{"ids": []uint64{2, 99}}, &got)
	if len(got.Vectors) != 1 || got.Vectors[0].ID != "2" || !slices.Equal(got.Vectors[0].Values, vecs[1]["values"].([]float32)) ||
		!slices.Equal(got.Missing, []string{"99"}) {
		t.Fatalf("get [2 99]: %+v, want vector 2 as upserted and 99 missing", got)
	}

	var del struct {
		Deleted string `json:"deleted"`
	}
	rc.ok("POST", "/v1/collections/docs/vectors:delete", map[string]any{"ids": []uint64{2, 3, 99}}, &del)
	if del.Deleted != "2" {
		t.Fatalf("delete [2 3 99]: deleted %q, want \"2\"", del.Deleted)
	}
	rc.ok("POST", "/v1/collections/docs/vectors:get", map[string]any{"ids": []uint64{2, 3}}, &got)
	if len(got.Vectors) != 0 || len(got.Missing) != 2 {
		t.Fatalf("get after delete: %+v, want both missing", got)
	}

	// gRPC on the same port sees what REST wrote.
	gc := ts.dial("admin")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := gc.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
	if err != nil || d.GetVectorCount() != 18 {
		t.Fatalf("gRPC DescribeCollection after REST writes: %v, %v; want 18 vectors", d, err)
	}

	var list struct {
		Collections []restCollection `json:"collections"`
	}
	rc.ok("GET", "/v1/collections", nil, &list)
	if len(list.Collections) != 1 || list.Collections[0].Name != "docs" {
		t.Fatalf("list: %+v, want [docs]", list)
	}
	rc.ok("DELETE", "/v1/collections/docs", nil, nil)
	wantError(t, "describe after drop", rc.do("GET", "/v1/collections/docs", nil), http.StatusNotFound, codes.NotFound, "NOT_FOUND")
}

// TestRESTTenantsAndKeys manages tenants and a tenant key through REST,
// then checks that the key's REST calls follow the tenant-key rules of
// gRPC (the interceptor and handlers apply them to REST calls too).
func TestRESTTenantsAndKeys(t *testing.T) {
	ts := start(t, "", nil)
	rc := ts.rest("admin")
	rc.ok("POST", "/v1/collections", map[string]any{"name": "a", "config": map[string]any{"dim": 4}}, nil)
	rc.ok("POST", "/v1/collections", map[string]any{"name": "b", "config": map[string]any{"dim": 4}}, nil)
	rc.ok("POST", "/v1/collections/a/tenants", map[string]any{"tenant": "t1"}, nil)
	rc.ok("POST", "/v1/collections/a/tenants", map[string]any{"tenant": "t2"}, nil)
	var tenants struct {
		Tenants []string `json:"tenants"`
	}
	rc.ok("GET", "/v1/collections/a/tenants", nil, &tenants)
	if !slices.Equal(tenants.Tenants, []string{"t1", "t2"}) {
		t.Fatalf("tenants %v, want [t1 t2]", tenants.Tenants)
	}
	var key struct {
		Key struct {
			ID string `json:"id"`
		} `json:"key"`
		Secret string `json:"secret"`
	}
	rc.ok("POST", "/v1/keys", map[string]any{"collection": "a", "tenant": "t1"}, &key)
	if key.Secret == "" || key.Key.ID == "" {
		t.Fatalf("CreateAPIKey: %+v, want a secret and an id", key)
	}

	tc := ts.rest(key.Secret)
	tc.ok("POST", "/v1/collections/a/vectors:upsert", map[string]any{"vectors": restVectors(4)}, nil)
	var res restSearch
	tc.ok("POST", "/v1/collections/a/vectors:search", map[string]any{"query": []float32{1, 0.5, 0, 0}, "top_k": 10}, &res)
	if len(res.Hits) != 4 {
		t.Fatalf("tenant search: %d hits, want its 4 vectors", len(res.Hits))
	}
	// The admin's search as t2 sees none of t1's vectors; after a grant
	// it sees the granted one.
	rc.ok("POST", "/v1/collections/a/vectors:search", map[string]any{"query": []float32{1, 0.5, 0, 0}, "top_k": 10, "tenant": "t2"}, &res)
	if len(res.Hits) != 0 {
		t.Fatalf("t2 search: %+v, want no hits", res.Hits)
	}
	rc.ok("POST", "/v1/collections/a/tenants/t2:grant", map[string]any{"ids": []uint64{1}}, nil)
	rc.ok("POST", "/v1/collections/a/vectors:search", map[string]any{"query": []float32{1, 0.5, 0, 0}, "top_k": 10, "tenant": "t2"}, &res)
	if len(res.Hits) != 1 || res.Hits[0].ID != "1" {
		t.Fatalf("t2 search after grant of 1: %+v, want [1]", res.Hits)
	}
	rc.ok("POST", "/v1/collections/a/tenants/t2:revoke", map[string]any{"ids": []uint64{1}}, nil)

	wantError(t, "tenant key acting for another tenant",
		tc.do("POST", "/v1/collections/a/vectors:search", map[string]any{"query": []float32{1, 0, 0, 0}, "top_k": 1, "tenant": "t2"}),
		http.StatusForbidden, codes.PermissionDenied, "PERMISSION_DENIED")
	wantError(t, "tenant key on another collection",
		tc.do("POST", "/v1/collections/b/vectors:search", map[string]any{"query": []float32{1, 0, 0, 0}, "top_k": 1}),
		http.StatusForbidden, codes.PermissionDenied, "PERMISSION_DENIED")
	wantError(t, "tenant key creating a collection",
		tc.do("POST", "/v1/collections", map[string]any{"name": "c", "config": map[string]any{"dim": 4}}),
		http.StatusForbidden, codes.PermissionDenied, "PERMISSION_DENIED")

	var keys struct {
		Keys []struct {
			ID string `json:"id"`
		} `json:"keys"`
	}
	rc.ok("GET", "/v1/keys", nil, &keys)
	if len(keys.Keys) != 1 || keys.Keys[0].ID != key.Key.ID {
		t.Fatalf("keys %+v, want [%s]", keys.Keys, key.Key.ID)
	}
	rc.ok("DELETE", "/v1/keys/"+key.Key.ID, nil, nil)
	wantError(t, "revoked key", tc.do("GET", "/v1/collections", nil), http.StatusUnauthorized, codes.Unauthenticated, "UNAUTHENTICATED")
	rc.ok("DELETE", "/v1/collections/a/tenants/t1", nil, nil)
}

// TestRESTAuth: calls without a key or with a wrong one are 401 with a
// JSON error and a WWW-Authenticate challenge; /healthz needs no key.
func TestRESTAuth(t *testing.T) {
	ts := start(t, "", nil)
	for _, tc := range []struct {
		what, key string
	}{
		{"no key", ""},
		{"unknown key", "not-the-admin-key-0123456789"},
	} {
		rep := ts.rest(tc.key).do("GET", "/v1/collections", nil)
		wantError(t, tc.what, rep, http.StatusUnauthorized, codes.Unauthenticated, "UNAUTHENTICATED")
		if !strings.HasPrefix(rep.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s: WWW-Authenticate %q, want a Bearer challenge", tc.what, rep.header.Get("WWW-Authenticate"))
		}
	}
	// A malformed header (not "Bearer <key>") is refused too.
	req, _ := http.NewRequest("GET", "http://"+ts.addr+"/v1/collections", nil)
	req.Header.Set("Authorization", "Basic "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Basic authorization: HTTP %d, want 401", resp.StatusCode)
	}
	// A body without any key is refused before it is read: a client
	// that declares 1 MB and sends none gets 401 at once.
	raw, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(raw, "POST /v1/collections HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
	rresp, err := http.ReadResponse(bufio.NewReader(raw), nil)
	if err != nil {
		t.Fatalf("a keyless POST whose body never comes: %v, want a 401 at once", err)
	}
	rresp.Body.Close()
	if rresp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a keyless POST whose body never comes: HTTP %d, want 401", rresp.StatusCode)
	}
	var health struct {
		Status string `json:"status"`
	}
	ts.rest("").ok("GET", "/healthz", nil, &health)
	if health.Status != "SERVING" {
		t.Fatalf("healthz %+v, want SERVING", health)
	}
}

// TestRESTBadInput: requests the server refuses come back as HTTP 4xx
// with the gRPC code in the JSON body.
func TestRESTBadInput(t *testing.T) {
	ts := start(t, "", nil)
	rc := ts.rest("admin")
	rc.ok("POST", "/v1/collections", map[string]any{"name": "docs", "config": map[string]any{"dim": 4}}, nil)
	for _, tc := range []struct {
		what, method, path string
		body               any
		http               int
		code               codes.Code
		status             string
	}{
		{"wrong dimension", "POST", "/v1/collections/docs/vectors:upsert",
			map[string]any{"vectors": []any{map[string]any{"id": 1, "values": []float32{1, 2}}}},
			400, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"top_k 0", "POST", "/v1/collections/docs/vectors:search",
			map[string]any{"query": []float32{1, 2, 3, 4}},
			400, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"malformed filter", "POST", "/v1/collections/docs/vectors:search",
			map[string]any{"query": []float32{1, 2, 3, 4}, "top_k": 1, "filter_expr": "7 AND ("},
			400, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"malformed JSON", "POST", "/v1/collections/docs/vectors:upsert", `{"vectors": [`,
			400, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"unknown field", "POST", "/v1/collections/docs/vectors:search", `{"query": [1,2,3,4], "top_k": 1, "topk": 2}`,
			400, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"wrong type", "POST", "/v1/collections/docs/vectors:search", `{"query": "near", "top_k": 1}`,
			400, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"bad collection name", "POST", "/v1/collections", map[string]any{"name": "no spaces", "config": map[string]any{"dim": 4}},
			400, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"unknown collection", "POST", "/v1/collections/nope/vectors:search",
			map[string]any{"query": []float32{1, 2, 3, 4}, "top_k": 1},
			404, codes.NotFound, "NOT_FOUND"},
		{"existing collection", "POST", "/v1/collections", map[string]any{"name": "docs", "config": map[string]any{"dim": 4}},
			409, codes.AlreadyExists, "ALREADY_EXISTS"},
		{"unknown route", "GET", "/v1/nothing", nil,
			404, codes.NotFound, "NOT_FOUND"},
		{"wrong method", "GET", "/v1/collections/docs/vectors:search", nil,
			501, codes.Unimplemented, "UNIMPLEMENTED"},
	} {
		wantError(t, tc.what, rc.do(tc.method, tc.path, tc.body), tc.http, tc.code, tc.status)
	}
}

// TestRESTBodyLimit: a body over the server's max message size is 413
// RESOURCE_EXHAUSTED, whether it declares its length or not; one under
// it goes through.
func TestRESTBodyLimit(t *testing.T) {
	const limit = 8 << 10
	ts := start(t, "", &server.Options{MaxRecvMsgBytes: limit})
	rc := ts.rest("admin")
	rc.ok("POST", "/v1/collections", map[string]any{"name": "docs", "config": map[string]any{"dim": 4}}, nil)
	big, err := json.Marshal(map[string]any{"vectors": restVectors(400)})
	if err != nil {
		t.Fatal(err)
	}
	if len(big) <= limit {
		t.Fatalf("test body of %d bytes is not over the limit", len(big))
	}
	wantError(t, "body with Content-Length over the limit", rc.do("POST", "/v1/collections/docs/vectors:upsert", string(big)),
		http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "RESOURCE_EXHAUSTED")

	// Chunked: the length is unknown until the body has been read.
	req, _ := http.NewRequest("POST", rc.base+"/v1/collections/docs/vectors:upsert", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := rc.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, "chunked body over the limit", restReply{status: resp.StatusCode, body: body},
		http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "RESOURCE_EXHAUSTED")

	rc.ok("POST", "/v1/collections/docs/vectors:upsert", map[string]any{"vectors": restVectors(10)}, nil)
}

// restRoutes are the REST routes of shoal.http.yaml: the OpenAPI
// document must list each.
var restRoutes = map[string][]string{
	"/v1/collections":                                      {"get", "post"},
	"/v1/collections/{name}":                               {"get", "delete"},
	"/v1/collections/{collection}/stats":                   {"get"},
	"/v1/collections/{collection}/vectors:upsert":          {"post"},
	"/v1/collections/{collection}/vectors:get":             {"post"},
	"/v1/collections/{collection}/vectors:delete":          {"post"},
	"/v1/collections/{collection}/vectors:search":          {"post"},
	"/v1/collections/{collection}/vectors:searchBatch":     {"post"},
	"/v1/collections/{collection}/labels":                  {"get", "post"},
	"/v1/collections/{collection}/payloads":                {"post"},
	"/v1/collections/{collection}/tenants":                 {"get", "post"},
	"/v1/collections/{collection}/tenants/{tenant}":        {"delete"},
	"/v1/collections/{collection}/tenants/{tenant}:grant":  {"post"},
	"/v1/collections/{collection}/tenants/{tenant}:revoke": {"post"},
	"/v1/keys":                {"get", "post"},
	"/v1/keys/{id}":           {"delete"},
	"/v1/imports":             {"get", "post"},
	"/v1/imports/{id}":        {"get"},
	"/v1/imports/{id}:cancel": {"post"},
	"/v1/snapshots":           {"post"},
	"/v1/snapshots:restore":   {"post"},
	"/v1/stats":               {"get"},
}

// TestOpenAPI: GET /openapi.json (no key needed) is the OpenAPI
// document, listing every route and no streaming RPC.
func TestOpenAPI(t *testing.T) {
	ts := start(t, "", nil)
	var doc struct {
		Swagger             string                               `json:"swagger"`
		Paths               map[string]map[string]map[string]any `json:"paths"`
		SecurityDefinitions map[string]struct {
			Type, In, Name string
		} `json:"securityDefinitions"`
	}
	rep := ts.rest("").do("GET", "/openapi.json", nil)
	if rep.status != http.StatusOK || !strings.HasPrefix(rep.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: HTTP %d, Content-Type %q", rep.status, rep.header.Get("Content-Type"))
	}
	if err := json.Unmarshal(rep.body, &doc); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	if doc.Swagger != "2.0" {
		t.Fatalf("swagger %q, want 2.0", doc.Swagger)
	}
	if b := doc.SecurityDefinitions["bearer"]; b.Type != "apiKey" || b.In != "header" || b.Name != "Authorization" {
		t.Fatalf("securityDefinitions.bearer %+v, want an apiKey in the Authorization header", b)
	}
	for path, methods := range restRoutes {
		for _, m := range methods {
			if doc.Paths[path][m] == nil {
				t.Errorf("OpenAPI document lacks %s %s", strings.ToUpper(m), path)
			}
		}
	}
	for path, ops := range doc.Paths {
		if len(ops) != len(restRoutes[path]) {
			t.Errorf("OpenAPI document has %d operations on %s, want %v", len(ops), path, restRoutes[path])
		}
		for _, op := range ops {
			if id, _ := op["operationId"].(string); strings.Contains(id, "Stream") || strings.HasSuffix(id, "_Import") {
				t.Errorf("streaming RPC %s has a REST route", id)
			}
		}
	}
}

// TestRESTAndGRPCShareThePort: one listener serves both protocols, with
// connections of each kind open at once.
func TestRESTAndGRPCShareThePort(t *testing.T) {
	ts := start(t, "", nil)
	gc := ts.dial("admin")
	rc := ts.rest("admin")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := gc.CreateCollection(ctx, "g", &shoalv1.CollectionConfig{Dim: 4}); err != nil {
		t.Fatal(err)
	}
	rc.ok("POST", "/v1/collections/g/vectors:upsert", map[string]any{"vectors": restVectors(8)}, nil)
	hits, err := gc.Search(ctx, "g", []float32{0, 0, 7, 0.5}, 1, nil)
	if err != nil || len(hits) != 1 || hits[0].GetId() != 7 {
		t.Fatalf("gRPC search after REST upsert: %v, %v; want [7]", hits, err)
	}
	var stats struct {
		Collections string `json:"collections"`
	}
	rc.ok("GET", "/v1/stats", nil, &stats)
	if stats.Collections != "1" {
		t.Fatalf("server stats: %+v, want 1 collection", stats)
	}
}

// TestRESTTLS: with TLS, an HTTPS client that offers h2 and http/1.1
// gets REST over HTTP/1.1 and a gRPC client gets gRPC, on one port.
func TestRESTTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ts := start(t, "", &server.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
	defer hc.CloseIdleConnections()
	rc := &restClient{t: t, base: "https://" + ts.addr, key: adminKey, hc: hc}
	rc.ok("POST", "/v1/collections", map[string]any{"name": "docs", "config": map[string]any{"dim": 4}}, nil)
	req, _ := http.NewRequest("GET", rc.base+"/v1/collections/docs", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.Proto != "HTTP/1.1" {
		t.Fatalf("HTTPS GET: HTTP %d over %s (TLS %v), want 200 over HTTP/1.1 with TLS", resp.StatusCode, resp.Proto, resp.TLS != nil)
	}
	// Plain HTTP to the TLS port fails.
	if _, err := http.Get("http://" + ts.addr + "/v1/collections"); err == nil {
		t.Fatal("plaintext HTTP to a TLS server succeeded")
	}
	c, err := client.Dial(ts.addr, &client.Options{APIKey: adminKey, TLS: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"}); err != nil {
		t.Fatalf("gRPC over TLS beside REST: %v", err)
	}
}

// TestRESTShutdown: Shutdown stops REST with gRPC: an idle keep-alive
// REST connection does not hold it up, Serve returns nil, and the port
// is closed afterwards.
func TestRESTShutdown(t *testing.T) {
	ts := start(t, "", nil)
	rc := ts.rest("admin")
	rc.ok("GET", "/v1/collections", nil, nil) // leaves an idle connection
	start := time.Now()
	ts.stop()
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Shutdown took %v with an idle REST connection", took)
	}
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the port still accepts connections after Shutdown")
	}
}

// TestRESTPayloadsAndLabelNames: payloads and label
// names round-trip through REST: upsert with a payload and a label
// name, search with include_payload and a filter on the name, get,
// SetPayloads, ListLabels.
func TestRESTPayloadsAndLabelNames(t *testing.T) {
	ts := start(t, "", nil)
	rc := ts.rest("admin")
	rc.ok("POST", "/v1/collections", map[string]any{"name": "docs", "config": map[string]any{"dim": 4}}, nil)
	vecs := restVectors(4)
	vecs[0]["payload"] = map[string]any{"title": "first", "n": 1.5, "tags": []any{"a", "b"}}
	vecs[0]["labels"] = []string{"color=red"}
	vecs[1]["labels"] = []string{"color=blue"}
	rc.ok("POST", "/v1/collections/docs/vectors:upsert", map[string]any{"vectors": vecs}, nil)

	var res restSearch
	rc.ok("POST", "/v1/collections/docs/vectors:search", map[string]any{
		"query": vecs[1]["values"], "top_k": 4, "include_payload": true, "filter_expr": "color=red",
	}, &res)
	if len(res.Hits) != 1 || res.Hits[0].ID != "1" {
		t.Fatalf("search filtered on color=red: %+v, want [1]", res.Hits)
	}
	var p map[string]any
	if err := json.Unmarshal(res.Hits[0].Payload, &p); err != nil || p["title"] != "first" || p["n"] != 1.5 {
		t.Fatalf("hit payload %s, want the upserted one", res.Hits[0].Payload)
	}

	rc.ok("POST", "/v1/collections/docs/payloads", map[string]any{"vectors": []any{
		map[string]any{"id": 2, "payload": map[string]any{"title": "second"}},
	}}, nil)
	var got restGet
	rc.ok("POST", "/v1/collections/docs/vectors:get", map[string]any{"ids": []uint64{2}}, &got)
	if len(got.Vectors) != 1 || !strings.Contains(string(got.Vectors[0].Payload), `"second"`) || !slices.Equal(got.Vectors[0].Labels, []string{"color=blue"}) {
		t.Fatalf("get 2 after SetPayloads: %+v, want payload title second and label color=blue", got)
	}
	var labels struct {
		Labels []struct {
			Name string `json:"name"`
		} `json:"labels"`
	}
	rc.ok("GET", "/v1/collections/docs/labels", nil, &labels)
	if len(labels.Labels) != 2 || labels.Labels[0].Name != "color=blue" || labels.Labels[1].Name != "color=red" {
		t.Fatalf("labels %+v, want color=blue and color=red", labels.Labels)
	}
	wantError(t, "unknown label name in a filter", rc.do("POST", "/v1/collections/docs/vectors:search", map[string]any{
		"query": vecs[0]["values"], "top_k": 1, "filter_expr": "color=green",
	}), http.StatusBadRequest, codes.InvalidArgument, "INVALID_ARGUMENT")

	// Bad payloads are 400 INVALID_ARGUMENT and store nothing: not JSON,
	// not an object, larger than the limit (64 KiB). Id 99 is new and id
	// 2 keeps its payload.
	for what, body := range map[string]string{
		"invalid JSON":  `{"vectors": [{"id": "99", "values": [1, 2, 3, 4], "payload": {"title": }}]}`,
		"not an object": `{"vectors": [{"id": "99", "values": [1, 2, 3, 4], "payload": [1, 2]}]}`,
		"oversize":      `{"vectors": [{"id": "99", "values": [1, 2, 3, 4]}, {"id": "2", "values": [1, 2, 3, 4], "payload": {"big": "` + strings.Repeat("x", 65<<10) + `"}}]}`,
	} {
		wantError(t, what+" payload", rc.do("POST", "/v1/collections/docs/vectors:upsert", body), http.StatusBadRequest, codes.InvalidArgument, "INVALID_ARGUMENT")
	}
	wantError(t, "oversize SetPayloads", rc.do("POST", "/v1/collections/docs/payloads", `{"vectors": [{"id": "2", "payload": {"big": "`+strings.Repeat("x", 65<<10)+`"}}]}`),
		http.StatusBadRequest, codes.InvalidArgument, "INVALID_ARGUMENT")
	var after restGet
	rc.ok("POST", "/v1/collections/docs/vectors:get", map[string]any{"ids": []string{"2", "99"}}, &after)
	if len(after.Vectors) != 1 || !strings.Contains(string(after.Vectors[0].Payload), `"second"`) || len(after.Missing) != 1 || after.Missing[0] != "99" {
		t.Fatalf("after bad payloads: %+v, want id 2 with its payload unchanged and 99 missing", after)
	}
}

// TestRESTStalledBody: a client that sends a request's headers and then
// stops sending its body (before any key is checked) does not hold its
// connection and a goroutine forever: after restBodyIdle without a byte
// the request fails and the connection is closed; a body that keeps
// coming is read whole.
func TestRESTStalledBody(t *testing.T) {
	server.SetRESTBodyIdle(t, 500*time.Millisecond)
	ts := start(t, "", nil)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "POST /v1/collections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not-checked-before-the-body\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\":"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("stalled body: %v after %v (%q); want the server to answer and close", err, time.Since(start), reply)
	}
	if !strings.HasPrefix(string(reply), "HTTP/1.1 400") && !strings.HasPrefix(string(reply), "HTTP/1.1 408") {
		t.Fatalf("stalled body: reply %q, want 400 or 408", reply)
	}

	// A slow body that keeps coming is fine.
	rc := ts.rest("admin")
	pr, pw := io.Pipe()
	go func() {
		body := `{"name":"slow","config":{"dim":4}}`
		for i := range body {
			pw.Write([]byte{body[i]})
			time.Sleep(20 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", rc.base+"/v1/collections", pr)
	req.Header.Set("Authorization", "Bearer "+rc.key)
	resp, err := rc.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK {
		t.Fatalf("slow body: HTTP %d %s, want 200", resp.StatusCode, b)
	}
}
