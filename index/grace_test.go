package index

import (
	"math/rand/v2"
	"testing"

	"github.com/shoaldb/shoal/posting"
)

// TestWritesDuringReinsertGrace: a re-insert waits out its grace period
// without the writer lock, so an upsert or a delete of a re-inserted id
// may commit between its publish (new copies at the pending version) and
// its finish. The write must win: the upserted vector is current and the
// re-insert's copies (of the old vector) are stale, the deleted id stays
// deleted, and a later upsert of it does not revive the re-insert's copies.
func TestWritesDuringReinsertGrace(t *testing.T) {
	const dim, n = 8, 400
	data := clustered(n, dim, 4, 5, 5)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05, PostingCap: 128})
	ix.PauseMaintenance()
	rng := rand.New(rand.NewPCG(5, 6))
	const up, del, keep = uint64(3), uint64(4), uint64(5)
	newVec := randVec(rng, dim)

	// Re-insert the current copies of up, del and keep, as a merge or a
	// reassign would.
	var m posting.Posting
	for _, id := range []uint64{up, del, keep} {
		row, err := ix.storedRow(id)
		if err != nil {
			t.Fatal(err)
		}
		m.Add(id, ix.vers.get(id)&versionMask, row)
	}
	var hookErr error
	testHookGrace = func() {
		testHookGrace = nil
		if err := ix.Upsert([]uint64{up}, [][]float32{newVec}); err != nil {
			hookErr = err
		}
		if _, err := ix.Delete([]uint64{del}); err != nil {
			hookErr = err
		}
	}
	defer func() { testHookGrace = nil }()
	ix.wmu.Lock()
	b := ix.store.NewBatch()
	re, err := ix.stageReinsert(b, &m, noPosting, nil)
	if err == nil {
		err = b.Commit(true)
	}
	b.Close()
	if err != nil {
		ix.wmu.Unlock()
		t.Fatal(err)
	}
	ix.placeReinsert(re)
	ix.wmu.Unlock()
	if hookErr != nil {
		t.Fatal(hookErr)
	}

	got, err := ix.Get(up)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != newVec[i] {
			t.Fatalf("Get(%d) = %v, want the upserted %v", up, got, newVec)
		}
	}
	res, err := ix.Search(data[up*dim:(up+1)*dim], 1, &SearchParams{NProbe: 64})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) > 0 && res[0].ID == up && res[0].Distance == 0 {
		t.Fatalf("search for the old vector of %d found it: a re-inserted copy of the old vector is current", up)
	}
	if ix.Contains(del) {
		t.Fatalf("id %d deleted during the grace period is live", del)
	}
	if !ix.Contains(keep) {
		t.Fatalf("id %d, re-inserted and untouched, is gone", keep)
	}
	// Upsert the deleted id again: the re-insert's copies of its old vector
	// must stay stale.
	if err := ix.Upsert([]uint64{del}, [][]float32{randVec(rng, dim)}); err != nil {
		t.Fatal(err)
	}
	res, err = ix.Search(data[del*dim:(del+1)*dim], 1, &SearchParams{NProbe: 64})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) > 0 && res[0].ID == del && res[0].Distance == 0 {
		t.Fatalf("search for the old vector of %d found it after its delete and re-upsert", del)
	}
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}
