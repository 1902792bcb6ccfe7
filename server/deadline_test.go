package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// TestDeadlinePassedInServer: a call whose deadline passes after it
// reached the server (the client refuses to send one already past) is
// DeadlineExceeded and changes nothing. The handlers are called directly
// with a context already past its deadline.
func TestDeadlinePassedInServer(t *testing.T) {
	s, err := Open(&Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// As the interceptor would set it: a context without a principal
	// is a tenant key bound to nothing.
	ctx := context.WithValue(context.Background(), principalKey{}, principal{admin: true})
	if _, err := (collectionsAPI{Server: s}).CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "c", Config: &shoalv1.CollectionConfig{Dim: 2}}); err != nil {
		t.Fatal(err)
	}
	past, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Millisecond))
	defer cancel()
	v := vectorsAPI{Server: s}
	_, err = v.Upsert(past, &shoalv1.UpsertRequest{Collection: "c", Vectors: []*shoalv1.Vector{{Id: 1, Values: []float32{1, 2}}}})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Upsert past its deadline: %v, want DeadlineExceeded", err)
	}
	qs := []*shoalv1.Query{{Values: []float32{1, 2}}}
	_, err = v.SearchBatch(past, &shoalv1.SearchBatchRequest{Collection: "c", Queries: qs, TopK: 1})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("SearchBatch past its deadline: %v, want DeadlineExceeded", err)
	}
	_, err = (collectionsAPI{Server: s}).CreateCollection(past, &shoalv1.CreateCollectionRequest{Name: "d", Config: &shoalv1.CollectionConfig{Dim: 2}})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("CreateCollection past its deadline: %v, want DeadlineExceeded", err)
	}
	got, err := v.Get(ctx, &shoalv1.GetRequest{Collection: "c", Ids: []uint64{1}})
	if err != nil || len(got.GetVectors()) != 0 {
		t.Errorf("the refused upsert stored a vector: %v, %v", got, err)
	}
	if names := s.names(); len(names) != 1 {
		t.Errorf("collections %v after a refused create, want [c]", names)
	}
}
