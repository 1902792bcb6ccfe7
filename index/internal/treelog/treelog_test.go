package treelog

import (
	"testing"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/posting/memstore"
)

// TestCheckpointKeepsTheSequence: after a checkpoint drops the records it
// covers, Load still reports the checkpoint's sequence, so the index's
// next tree record gets a higher one and is replayed, not skipped as
// covered (a reopened index once lost its later splits this way).
func TestCheckpointKeepsTheSequence(t *testing.T) {
	dir := t.TempDir()
	store := memstore.New()
	tree, err := cluster.Build([]float32{0, 0, 1, 1, 9, 9, 10, 10}, 2, cluster.Options{K: 2, Leaves: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, tree); err != nil {
		t.Fatal(err)
	}
	_, l, top, err := Load(store, dir)
	if err != nil || top != 0 {
		t.Fatalf("fresh Load: top %d, %v", top, err)
	}
	// A split at sequence 7, committed.
	b := store.NewBatch()
	l.Stage(b, 7, cluster.EncodeSplit(0, 1, []float32{0.5, 0.5}, []float32{9.5, 9.5}))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	got, l, top, err := Load(store, dir)
	if err != nil || top != 7 || got.LiveLeaves() != 2 {
		t.Fatalf("Load after a split: %d leaves, top %d, %v; want 2, 7", got.LiveLeaves(), top, err)
	}
	if err := l.Checkpoint(store, got.Compact(), 7); err != nil {
		t.Fatal(err)
	}
	got, _, top, err = Load(store, dir)
	if err != nil || top != 7 || got.LiveLeaves() != 2 {
		t.Fatalf("Load after the checkpoint: %d leaves, top %d, %v; want 2, 7", got.LiveLeaves(), top, err)
	}
	// A record at or below the checkpoint is covered; one above is replayed.
	b = store.NewBatch()
	l.Stage(b, 8, cluster.EncodeRemove(1))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if got, _, top, err = Load(store, dir); err != nil || top != 8 || got.LiveLeaves() != 1 {
		t.Fatalf("Load after a merge past the checkpoint: %d leaves, top %d, %v; want 1, 8", got.LiveLeaves(), top, err)
	}
}
