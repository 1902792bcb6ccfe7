package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// Start a server on a loopback port, create a collection, upsert three
// vectors and find the nearest to a query.
func Example() {
	dir, err := os.MkdirTemp("", "shoal-client-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	const key = "example-admin-key-123"
	s, err := server.Open(&server.Options{DataDir: dir, AdminKey: key, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		log.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(lis)
	defer s.Shutdown(context.Background())

	ctx := context.Background()
	c, err := client.Dial(lis.Addr().String(), &client.Options{APIKey: key})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateCollection(ctx, "points", &shoalv1.CollectionConfig{Dim: 2}); err != nil {
		log.Fatal(err)
	}
	err = c.Upsert(ctx, "points", []uint64{1, 2, 3}, [][]float32{{0, 0}, {1, 1}, {5, 5}})
	if err != nil {
		log.Fatal(err)
	}
	hits, err := c.Search(ctx, "points", []float32{0.9, 1.2}, 2, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		fmt.Printf("id %d at distance %.2f\n", h.GetId(), h.GetDistance())
	}
	// Output:
	// id 2 at distance 0.05
	// id 1 at distance 2.25
}

// Store vectors with payloads and labels, find the nearest red one with
// its payload, and read a record back.
func ExampleClient_UpsertRecords() {
	dir, err := os.MkdirTemp("", "shoal-client-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	const key = "example-admin-key-123"
	s, err := server.Open(&server.Options{DataDir: dir, AdminKey: key, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		log.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(lis)
	defer s.Shutdown(context.Background())

	ctx := context.Background()
	c, err := client.Dial(lis.Addr().String(), &client.Options{APIKey: key})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Payload field "color" is indexed: it labels each vector color=….
	cfg := &shoalv1.CollectionConfig{Dim: 2, IndexedPayloadFields: []string{"color"}}
	if _, err := c.CreateCollection(ctx, "points", cfg); err != nil {
		log.Fatal(err)
	}
	err = c.UpsertRecords(ctx, "points", []client.Record{
		{ID: 1, Values: []float32{0, 0}, Payload: map[string]any{"color": "red", "name": "origin"}},
		{ID: 2, Values: []float32{1, 1}, Payload: map[string]any{"color": "blue", "name": "one"}, Labels: []string{"featured"}},
		{ID: 3, Values: []float32{5, 5}, Payload: map[string]any{"color": "red", "name": "far"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	hits, err := c.SearchWith(ctx, "points", []float32{0.9, 1.2}, 1, &client.SearchOptions{Filter: "color=red", IncludePayload: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		fmt.Printf("id %d: %v\n", h.GetId(), h.GetPayload().AsMap()["name"])
	}
	recs, err := c.GetRecords(ctx, "points", []uint64{2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(recs[2].Payload["name"], recs[2].Labels)
	// Output:
	// id 1: origin
	// one [featured color=blue]
}
