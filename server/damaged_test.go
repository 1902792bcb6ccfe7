package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// TestDamagedCollectionAtStart: a collection whose files fail their
// checks when the server starts does not stop the server: the others are
// served, calls to it are DataLoss without server paths, and it can be
// dropped and made again.
func TestDamagedCollectionAtStart(t *testing.T) {
	ts := start(t, "", nil)
	admin := ts.dial("admin")
	ctx := context.Background()
	good := ingest(t, admin, "good", 200, 8, 1)
	ingest(t, admin, "bad", 200, 8, 2)
	ts.stop()

	// Damage a tree file of "bad" (the second collection made).
	trees, err := filepath.Glob(filepath.Join(ts.dir, "collections", "2", "*.shct"))
	if err != nil || len(trees) == 0 {
		t.Fatalf("no tree file of the second collection: %v %v", trees, err)
	}
	b, err := os.ReadFile(trees[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x5a
	if err := os.WriteFile(trees[0], b, 0o644); err != nil {
		t.Fatal(err)
	}

	ts.restart()
	admin = ts.dial("admin")
	hits, err := admin.Search(ctx, "good", good.vecs[0], 1, nil)
	if err != nil || len(hits) != 1 || hits[0].GetId() != good.ids[0] {
		t.Fatalf("search of the intact collection: %v, %v", hits, err)
	}
	_, err = admin.Search(ctx, "bad", good.vecs[0], 1, nil)
	wantCode(t, "search of the damaged collection", err, codes.DataLoss)
	if err != nil && (strings.Contains(err.Error(), ts.dir) || strings.Contains(err.Error(), "collections/")) {
		t.Errorf("the DataLoss message names server paths: %v", err)
	}
	list, err := admin.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
	if err != nil || len(list.GetCollections()) != 1 || list.GetCollections()[0].GetName() != "good" {
		t.Fatalf("ListCollections = %v, %v; want only the intact one", list, err)
	}
	if _, err := admin.Admin.GetServerStats(ctx, &shoalv1.GetServerStatsRequest{}); err != nil {
		t.Fatalf("GetServerStats: %v", err)
	}
	if err := admin.DropCollection(ctx, "bad"); err != nil {
		t.Fatalf("DropCollection of the damaged collection: %v", err)
	}
	ingest(t, admin, "bad", 50, 8, 3)
	ts.stop()
	ts.restart()
	admin = ts.dial("admin")
	if _, err := admin.Search(ctx, "bad", good.vecs[0], 1, nil); err != nil {
		t.Fatalf("the collection made again: %v", err)
	}
}
