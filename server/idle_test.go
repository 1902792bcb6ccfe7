package server_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shoaldb/shoal/server"
)

// TestIdleConnectionClosed: a gRPC connection with no call in flight for
// IdleTimeout is closed by the server (the client sees it leave READY),
// and the client redials on its next call; REST keeps working through
// the gateway's own connections, which the server closes the same way.
func TestIdleConnectionClosed(t *testing.T) {
	ts := start(t, "", &server.Options{IdleTimeout: time.Second}) // long enough that a loaded machine (CI under -race) sees READY after the call
	conn, err := grpc.NewClient(ts.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := healthpb.NewHealthClient(conn)
	if _, err := h.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if s := conn.GetState(); s != connectivity.Ready {
		t.Fatalf("after a call: %v, want READY", s)
	}
	// Wait for the server's GOAWAY to move the connection out of READY.
	for conn.GetState() == connectivity.Ready {
		if !conn.WaitForStateChange(ctx, connectivity.Ready) {
			t.Fatal("the idle connection stayed READY for 10 s with IdleTimeout 1s")
		}
	}
	if _, err := h.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("a call after the server closed the idle connection: %v", err)
	}
	// REST goes through gateway connections that went idle too.
	rc := ts.rest("admin")
	rc.ok("GET", "/v1/collections", nil, nil)
	time.Sleep(500 * time.Millisecond)
	rc.ok("GET", "/v1/collections", nil, nil)
}
