package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// TestConcurrentCalls: searches and upserts on one collection run while
// another is dropped and created again; nothing fails but calls to the
// collection being dropped (NotFound), and the data of the first is whole.
func TestConcurrentCalls(t *testing.T) {
	const dim = 8
	ts := start(t, "", nil)
	c := ts.dial("admin")
	ctx := context.Background()
	f := ingest(t, c, "stay", 500, dim, 4)
	ingest(t, c, "churn", 100, dim, 5)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range 40 {
				var err error
				switch i % 3 {
				case 0:
					id := uint64(10_000 + w*100 + i)
					err = c.Upsert(ctx, "stay", []uint64{id}, [][]float32{f.vecs[rng.IntN(len(f.vecs))]})
				case 1:
					_, err = c.Search(ctx, "stay", f.vecs[rng.IntN(len(f.vecs))], 5, nil)
				case 2:
					_, err = c.Search(ctx, "churn", f.vecs[0], 5, nil)
					if status.Code(err) == codes.NotFound {
						err = nil
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d call %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	for range 3 {
		if err := c.DropCollection(ctx, "churn"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateCollection(ctx, "churn", &shoalv1.CollectionConfig{Dim: dim}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	col, err := c.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "stay"})
	if err != nil || col.GetVectorCount() < 500 {
		t.Errorf("stay: %v, %v", col, err)
	}
}

// TestShutdownCancelsAtDeadline: Shutdown lets calls finish for
// ShutdownGrace, then cancels the rest (a client stream left open) and
// returns; the data written before stays.
func TestShutdownCancelsAtDeadline(t *testing.T) {
	ts := start(t, "", &server.Options{ShutdownGrace: 200 * time.Millisecond})
	c := ts.dial("admin")
	ctx := context.Background()
	if _, err := c.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: 2}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Vectors.UpsertStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&shoalv1.UpsertRequest{Collection: "docs", Vectors: []*shoalv1.Vector{{Id: 1, Values: []float32{1, 1}}}}); err != nil {
		t.Fatal(err)
	}
	// Let the message arrive and be applied before shutting down.
	deadline := time.Now().Add(5 * time.Second)
	for {
		col, err := c.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: "docs"})
		if err == nil && col.GetVectorCount() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the streamed vector never arrived: %v, %v", col, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	began := time.Now()
	ts.stop() // the stream stays open: GracefulStop cannot finish
	if took := time.Since(began); took < 150*time.Millisecond || took > 3*time.Second {
		t.Errorf("Shutdown took %v, want about the 200ms grace", took)
	}
	if _, err := st.CloseAndRecv(); err == nil {
		t.Error("the stream cut by Shutdown ended without an error")
	}
	ts.restart()
	c = ts.dial("admin")
	vs, err := c.Get(ctx, "docs", []uint64{1})
	if err != nil || len(vs) != 1 {
		t.Errorf("after the restart: %v, %v; want the streamed vector", vs, err)
	}
}
