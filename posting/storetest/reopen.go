package storetest

import (
	"testing"
)

func testReopenKeepsBulkLoadAndMeta(t *testing.T, open Opener) {
	s, reopen := open(t)
	if reopen == nil {
		t.Skip("the store does not persist")
	}
	want := Load(t, s, 1, 2, 3, 1000, 1<<20)
	if err := s.SetMeta("m", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	s = reopen()
	ExpectPostings(t, s, want)
	if got, err := s.GetMeta("m"); err != nil || string(got) != "kept" {
		t.Fatalf("GetMeta after reopen = %q, %v; want \"kept\"", got, err)
	}
}

// testReopenKeepsCommittedBatches commits batches of every kind of change,
// synced, made durable by SyncWAL, and durable because they hold
// postings, and closes one without commit; the reopened store holds the
// committed ones exactly, and takes batches again.
func testReopenKeepsCommittedBatches(t *testing.T, open Opener) {
	s, reopen := open(t)
	if reopen == nil {
		t.Skip("the store does not persist")
	}
	want := Load(t, s, 0, 1, 2, 3)
	b := s.NewBatch() // durable: it holds postings
	Put(t, b, want, 1, 1)
	Put(t, b, want, 10, 1)
	b.Set([]byte("rec1"), []byte("vrec1"))
	commit(t, b, false)
	b = s.NewBatch() // durable by SyncWAL
	b.Set([]byte("rec2"), []byte("vrec2"))
	b.Set([]byte("rec3"), []byte("vrec3"))
	b.DeletePosting(2) // from the bulk load
	delete(want, 2)
	commit(t, b, false)
	if err := s.SyncWAL(); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()    // synced
	b.DeletePosting(10) // written by a batch
	delete(want, 10)
	b.Delete([]byte("rec1"))
	b.DeleteRange([]byte("rec3"), nil)
	commit(t, b, true)
	b = s.NewBatch() // discarded
	Put(t, b, map[uint32][]byte{}, 0, 9)
	b.Set([]byte("rec4"), []byte("vrec4"))
	b.Close()

	s = reopen()
	st := state{want, map[string]string{"rec1": "", "rec2": "vrec2", "rec3": "", "rec4": ""}}
	st.expect(t, s)
	b = s.NewBatch()
	Put(t, b, want, 3, 2)
	b.Set([]byte("rec5"), []byte("vrec5"))
	commit(t, b, false)
	st.keys["rec5"] = "vrec5"
	st.expect(t, reopen())
}
