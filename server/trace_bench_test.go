package server_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// BenchmarkServerSearch times one Search of 2,000 32-dimensional vectors
// through a loopback gRPC server and client, with the server's default
// observability (metrics on, tracing off unless the OTEL_ environment
// says otherwise).
func BenchmarkServerSearch(b *testing.B) { benchServerSearch(b, nil) }

// BenchmarkServerSearchTraced is BenchmarkServerSearch with every call
// traced (always sampled) into an exporter that drops the spans: the
// cost of tracing on, less the export.
func BenchmarkServerSearchTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	benchServerSearch(b, tp)
}

func benchServerSearch(b *testing.B, tp trace.TracerProvider) {
	const n, dim = 2000, 32
	s, err := server.Open(&server.Options{DataDir: b.TempDir(), AdminKey: adminKey, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(lis)
	defer s.Close()
	c, err := client.Dial(lis.Addr().String(), &client.Options{APIKey: adminKey})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.CreateCollection(ctx, "bench", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
		b.Fatal(err)
	}
	vecs := clustered(rand.New(rand.NewPCG(1, 7)), n, dim)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	if _, err := c.UpsertStream(ctx, "bench", ids, vecs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.Search(ctx, "bench", vecs[i%n], 10, nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
