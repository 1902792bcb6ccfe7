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
