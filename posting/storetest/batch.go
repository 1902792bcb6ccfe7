package storetest

import (
	"fmt"
	"maps"
	"testing"

	"github.com/shoaldb/shoal/posting"
)

// state is what a store holds: postings, and caller keys with their
// values ("" for a key that must be missing).
type state struct {
	postings map[uint32][]byte
	keys     map[string]string
}

// expect checks that s holds st.
func (st state) expect(t *testing.T, s posting.Store) {
	t.Helper()
	ExpectPostings(t, s, st.postings)
	for k, v := range st.keys {
		ExpectKey(t, s, k, v)
	}
}

// stageEverything fills s with postings 1, 2, 3 and keys a, b, c1, c2,
// and stages in a new batch one change of each kind: it rewrites posting
// 2, adds 500 (beyond the ids loaded), deletes 3, sets a and d, deletes b
// and the range [c, d). It returns the batch and what s must hold before
// and after the batch commits.
func stageEverything(t *testing.T, s posting.Store) (b posting.Batch, before, after state) {
	t.Helper()
	postings := Load(t, s, 1, 2, 3)
	setKeys(t, s, "a", "b", "c1", "c2")
	before = state{postings, map[string]string{"a": "va", "b": "vb", "c1": "vc1", "c2": "vc2", "d": ""}}
	after = state{maps.Clone(postings), map[string]string{"a": "new", "b": "", "c1": "", "c2": "", "d": "vd"}}
	b = s.NewBatch()
	Put(t, b, after.postings, 2, 1)
	Put(t, b, after.postings, 500, 1)
	b.DeletePosting(3)
	delete(after.postings, 3)
	b.Set([]byte("a"), []byte("new"))
	b.Set([]byte("d"), []byte("vd"))
	b.Delete([]byte("b"))
	b.DeleteRange([]byte("c"), []byte("d"))
	return b, before, after
}

func testBatchInvisibleBeforeCommit(t *testing.T, open Opener) {
	s, _ := open(t)
	b, before, _ := stageEverything(t, s)
	defer b.Close()
	before.expect(t, s)
}

func testBatchVisibleAfterCommit(t *testing.T, open Opener) {
	s, _ := open(t)
	b, _, after := stageEverything(t, s)
	commit(t, b, false)
	after.expect(t, s)
}

func testBatchCloseDiscards(t *testing.T, open Opener) {
	s, _ := open(t)
	b, before, _ := stageEverything(t, s)
	b.Close()
	before.expect(t, s)
	b.Close() // a second Close does nothing
	before.expect(t, s)
}

// testBatchLaterChangeWins: within a batch, the later of two changes of
// one key or posting stands.
func testBatchLaterChangeWins(t *testing.T, open Opener) {
	s, _ := open(t)
	want := Load(t, s, 1, 2)
	setKeys(t, s, "delete-set", "range1")
	b := s.NewBatch()
	b.Set([]byte("set-set"), []byte("1"))
	b.Set([]byte("set-set"), []byte("2"))
	b.Set([]byte("set-delete"), []byte("1"))
	b.Delete([]byte("set-delete"))
	b.Delete([]byte("delete-set"))
	b.Set([]byte("delete-set"), []byte("after delete"))
	b.Set([]byte("range0"), []byte("before range"))
	b.Set([]byte("range2"), []byte("before range"))
	b.DeleteRange([]byte("range"), []byte("range3"))
	b.Set([]byte("range2"), []byte("after range"))
	Put(t, b, want, 1, 1)
	Put(t, b, want, 1, 2)
	Put(t, b, want, 2, 1)
	b.DeletePosting(2)
	delete(want, 2)
	b.DeletePosting(3)
	Put(t, b, want, 3, 1)
	commit(t, b, false)
	ExpectPostings(t, s, want)
	for k, v := range map[string]string{
		"set-set": "2", "set-delete": "", "delete-set": "after delete", "range0": "", "range1": "", "range2": "after range",
	} {
		ExpectKey(t, s, k, v)
	}
}

// testBatchesApplyInCommitOrder: of two batches that change the same key
// and posting, the one committed later wins, whichever was started first.
func testBatchesApplyInCommitOrder(t *testing.T, open Opener) {
	s, _ := open(t)
	want := Load(t, s, 1)
	first, second := s.NewBatch(), s.NewBatch()
	second.Set([]byte("k"), []byte("committed first"))
	Put(t, second, map[uint32][]byte{}, 1, 1)
	first.Set([]byte("k"), []byte("committed last"))
	Put(t, first, want, 1, 2)
	commit(t, second, false)
	commit(t, first, false)
	ExpectPostings(t, s, want)
	ExpectKey(t, s, "k", "committed last")
}

// testBatchCopiesArguments: a caller may reuse what it passed to Set,
// Delete, DeleteRange and PutPosting as soon as the call returns.
func testBatchCopiesArguments(t *testing.T, open Opener) {
	s, _ := open(t)
	setKeys(t, s, "gone", "range1", "range2")
	b := s.NewBatch()
	key, value := []byte("key"), []byte("value")
	b.Set(key, value)
	copy(key, "XXX")
	copy(value, "XXXXX")
	del := []byte("gone")
	b.Delete(del)
	copy(del, "kept")
	start, end := []byte("range1"), []byte("range3")
	b.DeleteRange(start, end)
	copy(start, "range0")
	copy(end, "range1")
	p := Payload(7, 1)
	if err := b.PutPosting(7, p); err != nil {
		t.Fatal(err)
	}
	want := map[uint32][]byte{7: Payload(7, 1)}
	clear(p)
	commit(t, b, false)
	ExpectKey(t, s, "key", "value")
	ExpectKey(t, s, "XXX", "")
	ExpectKey(t, s, "gone", "")
	ExpectKey(t, s, "range1", "")
	ExpectKey(t, s, "range2", "")
	ExpectPostings(t, s, want)
}

func testBatchDeletesOfMissingAreNoErrors(t *testing.T, open Opener) {
	s, _ := open(t)
	want := Load(t, s, 1)
	b := s.NewBatch()
	b.DeletePosting(2)
	b.Delete([]byte("missing"))
	b.DeleteRange([]byte("m"), []byte("n"))
	commit(t, b, false)
	ExpectPostings(t, s, want)
}

// testBatchDeleteOnce deletes keys set once, in the same batch as the set,
// in a later one, and after a reopen (a disk store may have flushed the set
// by then), and sets a deleted key again.
func testBatchDeleteOnce(t *testing.T, open Opener) {
	s, reopen := open(t)
	b := s.NewBatch()
	b.Set([]byte("same"), []byte("1"))
	b.DeleteOnce([]byte("same"))
	b.Set([]byte("later"), []byte("2"))
	b.Set([]byte("reopened"), []byte("3"))
	b.Set([]byte("again"), []byte("4"))
	commit(t, b, true)
	b = s.NewBatch()
	b.DeleteOnce([]byte("later"))
	b.DeleteOnce([]byte("again"))
	commit(t, b, true)
	ExpectKey(t, s, "same", "")
	ExpectKey(t, s, "later", "")
	ExpectKey(t, s, "reopened", "3")
	b = s.NewBatch()
	b.Set([]byte("again"), []byte("5"))
	commit(t, b, true)
	if reopen != nil {
		s = reopen()
	}
	b = s.NewBatch()
	b.DeleteOnce([]byte("reopened"))
	commit(t, b, true)
	ExpectKey(t, s, "reopened", "")
	ExpectKey(t, s, "again", "5")
}

func testBatchRejectsEmptyPosting(t *testing.T, open Opener) {
	s, _ := open(t)
	b := s.NewBatch()
	defer b.Close()
	if err := b.PutPosting(1, nil); err == nil {
		t.Error("PutPosting of an empty posting succeeded, want an error")
	}
}

func testBatchLenCountsRecords(t *testing.T, open Opener) {
	s, _ := open(t)
	b := s.NewBatch()
	defer b.Close()
	if n := b.Len(); n != 0 {
		t.Errorf("Len of a new batch = %d, want 0", n)
	}
	Put(t, b, map[uint32][]byte{}, 1, 1)
	b.DeletePosting(2)
	if n := b.Len(); n != 0 {
		t.Errorf("Len of a batch of postings only = %d, want 0 (postings do not count)", n)
	}
	last := 0
	staged := 0
	for i, stage := range []func(){
		func() { b.Set([]byte("key"), []byte("value")); staged += len("key") + len("value") },
		func() { b.Delete([]byte("key2")); staged += len("key2") },
		func() { b.DeleteRange([]byte("a"), []byte("b")); staged += 2 },
	} {
		stage()
		n := b.Len()
		if n <= last || n < staged {
			t.Errorf("Len after record %d = %d, want above %d and at least the %d bytes staged", i, n, last, staged)
		}
		last = n
	}
	commit(t, b, false)
	if n := b.Len(); n != 0 {
		t.Errorf("Len of a committed batch = %d, want 0", n)
	}
}

// testBatchDoneRejectsUse: once committed or closed, a batch returns
// errors from PutPosting and Commit, and panics on the other changes.
func testBatchDoneRejectsUse(t *testing.T, open Opener) {
	for _, how := range []string{"Commit", "Close"} {
		t.Run(how, func(t *testing.T) {
			s, _ := open(t)
			b := s.NewBatch()
			b.Set([]byte("k"), []byte("v"))
			if how == "Commit" {
				commit(t, b, false)
			} else {
				b.Close()
			}
			if err := b.Commit(false); err == nil {
				t.Errorf("Commit after %s succeeded, want an error", how)
			}
			if err := b.PutPosting(1, Payload(1, 1)); err == nil {
				t.Errorf("PutPosting after %s succeeded, want an error", how)
			}
			if n := b.Len(); n != 0 {
				t.Errorf("Len after %s = %d, want 0", how, n)
			}
			for name, use := range map[string]func(){
				"Set":           func() { b.Set([]byte("k2"), []byte("v")) },
				"Delete":        func() { b.Delete([]byte("k")) },
				"DeleteOnce":    func() { b.DeleteOnce([]byte("k")) },
				"DeleteRange":   func() { b.DeleteRange(nil, nil) },
				"DeletePosting": func() { b.DeletePosting(1) },
			} {
				if !panics(use) {
					t.Errorf("%s after %s did not panic", name, how)
				}
			}
			b.Close()
			ExpectMissing(t, s, 1)
			ExpectKey(t, s, "k2", "")
		})
	}
}

// panics reports whether fn panics.
func panics(fn func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	fn()
	return false
}

// testSyncWAL: SyncWAL succeeds with and without batches committed since
// the last sync.
func testSyncWAL(t *testing.T, open Opener) {
	s, _ := open(t)
	if err := s.SyncWAL(); err != nil {
		t.Fatalf("SyncWAL with nothing to sync: %v", err)
	}
	for i := range 3 {
		setKeys(t, s, fmt.Sprint(i))
	}
	if err := s.SyncWAL(); err != nil {
		t.Fatalf("SyncWAL after unsynced commits: %v", err)
	}
	ExpectKey(t, s, "2", "v2")
}
