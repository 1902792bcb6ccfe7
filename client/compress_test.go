package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// countingListener counts the bytes read and written on its connections
// (the server's side of the wire, gRPC and HTTP/2 framing included).
type countingListener struct {
	net.Listener
	in, out atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.l.out.Add(int64(n))
	return n, err
}

// gloveLike returns n vectors of dim floats shaped like GloVe's: 64
// clusters, centre N(0, 0.4), spread N(0, 0.15), rounded to 5 decimals
// as GloVe's text files are.
func gloveLike(seed uint64, n, dim int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, 64)
	for i := range centres {
		centres[i] = make([]float64, dim)
		for j := range centres[i] {
			centres[i][j] = r.NormFloat64() * 0.4
		}
	}
	out := make([][]float32, n)
	for i := range out {
		c := centres[r.IntN(len(centres))]
		out[i] = make([]float32, dim)
		for j := range out[i] {
			out[i][j] = float32(math.Round((c[j]+r.NormFloat64()*0.15)*1e5) / 1e5)
		}
	}
	return out
}

// TestCompression upserts 2000 GloVe-like 100-d vectors in one batch and
// searches them (top 100 with their vectors) through an uncompressed, a
// zstd and an s2 client, counting the bytes on the wire each way; the
// results must be the same, and the numbers are logged (docs/server.md,
// Compression).
func TestCompression(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	s, err := server.Open(&server.Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &countingListener{Listener: inner}
	go s.Serve(lis)
	defer s.Shutdown(context.Background())

	const n, dim, k = 2000, 100, 100
	vecs := gloveLike(1, n, dim)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)*7919 + 1
	}
	ctx := context.Background()
	var want []uint64
	for _, comp := range []string{"", "zstd", "s2"} {
		c, err := client.Dial(inner.Addr().String(), &client.Options{Compression: comp})
		if err != nil {
			t.Fatal(err)
		}
		name := "c" + comp
		if _, err := c.CreateCollection(ctx, name, &shoalv1.CollectionConfig{Dim: dim}); err != nil {
			t.Fatalf("%q: create: %v", comp, err)
		}
		measure := func(op string, f func() error) {
			t.Helper()
			in0, out0 := lis.in.Load(), lis.out.Load()
			start := time.Now()
			if err := f(); err != nil {
				t.Fatalf("compression %q: %s: %v", comp, op, err)
			}
			t.Logf("compression %-4q %-26s request %8d bytes, response %8d bytes (%v)",
				comp, op, lis.in.Load()-in0, lis.out.Load()-out0, time.Since(start).Round(time.Millisecond))
		}
		measure("upsert 2000×100", func() error { return c.Upsert(ctx, name, ids, vecs) })
		var hits []*shoalv1.Hit
		measure("search top 100 +vectors", func() error {
			resp, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: name, Query: vecs[17], TopK: k, IncludeVectors: true})
			hits = resp.GetHits()
			return err
		})
		if len(hits) != k || len(hits[0].GetValues()) != dim {
			t.Fatalf("compression %q: %d hits, first with %d values; want %d with %d", comp, len(hits), len(hits[0].GetValues()), k, dim)
		}
		var got []uint64
		for _, h := range hits {
			got = append(got, h.GetId())
		}
		if want == nil {
			want = got
		} else if !equalIDs(got, want) {
			t.Errorf("compression %q: hits %v, want those of the uncompressed client %v", comp, got[:5], want[:5])
		}
		measure("delete 2000 ids", func() error {
			deleted, err := c.Delete(ctx, name, ids)
			if err == nil && deleted != n {
				t.Errorf("compression %q: deleted %d, want %d", comp, deleted, n)
			}
			return err
		})
		c.Close()
	}
}

func equalIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUnknownCompression(t *testing.T) {
	_, err := client.Dial("127.0.0.1:1", &client.Options{Compression: "gzip"})
	if !errors.Is(err, client.ErrUnknownCompression) {
		t.Errorf("Dial with compression gzip: got %v, want ErrUnknownCompression", err)
	}
}
