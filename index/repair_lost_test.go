package index

import (
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// TestLostWritesPayloads: a dropped batch that only sets or removes
// payloads (SetPayloads without indexed fields) is a lost write of those
// ids, not maintenance; an upsert's own payload record is part of the
// upsert.
func TestLostWritesPayloads(t *testing.T) {
	user := func(k []byte) []byte { return append([]byte{keys.StoreUser}, k...) }
	dropped := []pebblestore.DroppedBatch{
		{Seq: 10, Count: 2, Synced: true, Ops: []pebblestore.WALOp{
			{Kind: pebble.InternalKeyKindSet, Key: user(keys.ID(keys.Payload, 7)), Value: []byte("\x01{}")},
			{Kind: pebble.InternalKeyKindDelete, Key: user(keys.ID(keys.Payload, 8))},
		}},
		{Seq: 12, Count: 2, Synced: true, Ops: []pebblestore.WALOp{
			{Kind: pebble.InternalKeyKindSet, Key: user(keys.ID(keys.Vector, 9)), Value: []byte{0}},
			{Kind: pebble.InternalKeyKindSet, Key: user(keys.ID(keys.Payload, 9)), Value: []byte("\x01{}")},
		}},
	}
	lw := lostWrites(dropped)[""]
	if lw == nil {
		t.Fatal("no lost writes reported")
	}
	if !slices.Equal(lw.Payloads, []uint64{7, 8}) || !slices.Equal(lw.Upserts, []uint64{9}) {
		t.Errorf("payloads lost %v, upserts lost %v; want [7 8] and [9]", lw.Payloads, lw.Upserts)
	}
	if lw.Batches != 2 || lw.Maintenance != 0 {
		t.Errorf("%d batches, %d maintenance only; want 2 and 0", lw.Batches, lw.Maintenance)
	}
}
