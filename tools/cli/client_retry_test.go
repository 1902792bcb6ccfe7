package cli

import (
	"context"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/client"
	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// busyVectors refuses every other upsert with RESOURCE_EXHAUSTED, as a
// server whose maintenance is behind does, and records what it stored.
type busyVectors struct {
	shoalv1.UnimplementedVectorServiceServer
	mu     sync.Mutex
	calls  int
	stored map[uint64]bool
}

func (b *busyVectors) Upsert(_ context.Context, req *shoalv1.UpsertRequest) (*shoalv1.UpsertResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.calls%2 == 1 {
		return nil, status.Error(codes.ResourceExhausted, "shoal: busy: background maintenance is behind")
	}
	for _, v := range req.GetVectors() {
		b.stored[v.GetId()] = true
	}
	return &shoalv1.UpsertResponse{Upserted: uint64(len(req.GetVectors()))}, nil
}

// TestSendRowsRetriesBusy: shoal client upsert sends a pushed-back batch
// again after a back-off, and every row ends up stored; any other error
// ends it at once.
func TestSendRowsRetriesBusy(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	busy := &busyVectors{stored: map[uint64]bool{}}
	shoalv1.RegisterVectorServiceServer(srv, busy)
	go srv.Serve(lis)
	defer srv.Stop()
	c, err := client.Dial(lis.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n, dim = 2500, 4
	data := make([]float32, n*dim)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(100 + i)
	}
	got, err := sendRows(context.Background(), c, "docs", "", index.SliceSource(data, dim), ids)
	if err != nil || got != n {
		t.Fatalf("sendRows = %d, %v; want %d, nil", got, err, n)
	}
	if len(busy.stored) != n || busy.calls != 6 {
		t.Fatalf("stored %d rows in %d calls, want %d in 6 (3 batches, each refused once)", len(busy.stored), busy.calls, n)
	}
	// A collection that does not exist is no reason to retry.
	srv2 := grpc.NewServer()
	shoalv1.RegisterVectorServiceServer(srv2, &shoalv1.UnimplementedVectorServiceServer{})
	lis2, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv2.Serve(lis2)
	defer srv2.Stop()
	c2, err := client.Dial(lis2.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := sendRows(context.Background(), c2, "docs", "", index.SliceSource(data, dim), ids); status.Code(err) != codes.Unimplemented {
		t.Fatalf("sendRows to a server without Upsert: %v, want Unimplemented at once", err)
	}
}
