package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// f32Rows returns vecs as raw little-endian float32 rows.
func f32Rows(vecs [][]float32) []byte {
	var b []byte
	for _, v := range vecs {
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	return b
}

// TestImportStream: rows streamed by a client (AdminService.Import) are
// loaded as a file on the server would be: built into an empty
// collection, upserted into one with vectors; uint8 rows are widened;
// the server's copy is removed when the job ends.
func TestImportStream(t *testing.T) {
	const n, dim = 2000, 8
	ts := start(t, "", buildOpts)
	admin := ts.dial("admin")
	ctx := context.Background()
	vecs := clustered(rand.New(rand.NewPCG(6, 6)), n, dim)
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		t.Fatal(err)
	}
	var sent int64
	j, err := admin.Import(ctx, &shoalv1.ImportRequest{Collection: "docs", Dim: dim}, bytes.NewReader(f32Rows(vecs)), func(rows int64) { sent = rows })
	if err != nil {
		t.Fatal(err)
	}
	if sent != n || j.GetTotal() != n || j.GetMethod() != shoalv1.ImportMethod_IMPORT_METHOD_BUILD {
		t.Fatalf("Import = %v after %d rows sent; want a BUILD job of %d rows", j, sent, n)
	}
	if j = waitImport(t, admin, j.GetId()); j.GetState() != shoalv1.ImportJob_STATE_DONE || j.GetDone() != n {
		t.Fatalf("job = %v, want DONE", j)
	}
	// Again, into the collection now full: upserted, under other ids.
	j, err = admin.Import(ctx, &shoalv1.ImportRequest{Collection: "docs", Dim: dim, FirstId: n}, bytes.NewReader(f32Rows(vecs[:10])), nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.GetMethod() != shoalv1.ImportMethod_IMPORT_METHOD_UPSERT {
		t.Errorf("Import into a full collection: method %v, want UPSERT", j.GetMethod())
	}
	if j = waitImport(t, admin, j.GetId()); j.GetState() != shoalv1.ImportJob_STATE_DONE {
		t.Fatalf("job = %v, want DONE", j)
	}
	got, err := admin.Get(ctx, "docs", []uint64{0, n - 1, n, n + 9})
	if err != nil {
		t.Fatal(err)
	}
	for id, row := range map[uint64]int{0: 0, n - 1: n - 1, n: 0, n + 9: 9} {
		if !slices.Equal(got[id], vecs[row]) {
			t.Errorf("Get(%d) = %v, want row %d", id, got[id], row)
		}
	}

	// uint8 rows into a uint8 collection.
	if _, err := admin.CreateCollection(ctx, "u8", &shoalv1.CollectionConfig{Dim: 4, ElementType: shoalv1.ElementType_ELEMENT_TYPE_UINT8}); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 4*600)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	j, err = admin.Import(ctx, &shoalv1.ImportRequest{Collection: "u8", Dim: 4, ElementType: shoalv1.ElementType_ELEMENT_TYPE_UINT8}, bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if j = waitImport(t, admin, j.GetId()); j.GetState() != shoalv1.ImportJob_STATE_DONE || j.GetDone() != 600 {
		t.Fatalf("uint8 job = %v, want DONE with 600 rows", j)
	}
	got, err = admin.Get(ctx, "u8", []uint64{5})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{float32(raw[20]), float32(raw[21]), float32(raw[22]), float32(raw[23])}; !slices.Equal(got[5], want) {
		t.Errorf("u8 Get(5) = %v, want %v", got[5], want)
	}
	if ents, err := os.ReadDir(filepath.Join(ts.dir, "import-spool")); err != nil || len(ents) != 0 {
		t.Errorf("the spool directory holds %d files (%v), want none once the jobs ended", len(ents), err)
	}
}

// TestImportStreamRefused: a stream that cannot start a job is refused,
// and leaves no file in the spool directory.
func TestImportStreamRefused(t *testing.T) {
	const dim = 4
	ts := start(t, "", buildOpts)
	admin := ts.dial("admin")
	ctx := context.Background()
	if _, err := admin.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		t.Fatal(err)
	}
	row := f32Rows([][]float32{{1, 2, 3, 4}})
	for _, tc := range []struct {
		name string
		req  *shoalv1.ImportRequest
		rows []byte
		code codes.Code
	}{
		{"unknown collection", &shoalv1.ImportRequest{Collection: "nope", Dim: dim}, row, codes.NotFound},
		{"no collection", &shoalv1.ImportRequest{Dim: dim}, row, codes.InvalidArgument},
		{"wrong dim", &shoalv1.ImportRequest{Collection: "docs", Dim: dim + 1}, f32Rows([][]float32{{1, 2, 3, 4, 5}}), codes.InvalidArgument},
		{"unknown tenant", &shoalv1.ImportRequest{Collection: "docs", Dim: dim, Tenant: "ghost"}, row, codes.NotFound},
		{"float16 rows", &shoalv1.ImportRequest{Collection: "docs", Dim: dim, ElementType: shoalv1.ElementType_ELEMENT_TYPE_FLOAT16}, row, codes.InvalidArgument},
		{"no rows", &shoalv1.ImportRequest{Collection: "docs", Dim: dim}, nil, codes.InvalidArgument},
		{"bad method", &shoalv1.ImportRequest{Collection: "docs", Dim: dim, Method: 9}, row, codes.InvalidArgument},
		{"build with first_id", &shoalv1.ImportRequest{Collection: "docs", Dim: dim, FirstId: 3, Method: shoalv1.ImportMethod_IMPORT_METHOD_BUILD}, row, codes.FailedPrecondition},
	} {
		_, err := admin.Import(ctx, tc.req, bytes.NewReader(tc.rows), nil)
		wantCode(t, tc.name, err, tc.code)
	}
	// A partial row, and a later message naming a job, sent raw.
	st, err := admin.Admin.Import(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&shoalv1.ImportRequest{Collection: "docs", Dim: dim, Rows: row[:7]}); err != nil {
		t.Fatal(err)
	}
	_, err = st.CloseAndRecv()
	wantCode(t, "partial row", err, codes.InvalidArgument)
	st, err = admin.Admin.Import(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&shoalv1.ImportRequest{Collection: "docs", Dim: dim, Rows: row})
	st.Send(&shoalv1.ImportRequest{Collection: "other", Rows: row})
	_, err = st.CloseAndRecv()
	wantCode(t, "second header", err, codes.InvalidArgument)
	if ents, err := os.ReadDir(filepath.Join(ts.dir, "import-spool")); err != nil || len(ents) != 0 {
		t.Errorf("the spool directory holds %d files (%v), want none", len(ents), err)
	}
	// A tenant key may not import.
	if _, err := admin.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "docs", Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: "docs", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.dial(k.GetSecret()).Import(ctx, &shoalv1.ImportRequest{Collection: "docs", Dim: dim}, bytes.NewReader(row), nil)
	wantCode(t, "Import with a tenant key", err, codes.PermissionDenied)
}
