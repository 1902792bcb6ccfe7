package index

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestFoldDuringUpsertKeepsNewCopies: a fold runs without the writer
// lock, so it may take its snapshot of a tail while an upsert is
// publishing. The new copies it sees there must already be current: a fold
// that judged them stale would drop them and delete their log records,
// leaving the vector live with no current copy anywhere (Check: "live id
// … has no current copy in any posting"), found by Get and by its
// tenant's searches (shortlists) but by no search of the index.
func TestFoldDuringUpsertKeepsNewCopies(t *testing.T) {
	const dim, n = 8, 600
	data := clustered(n, dim, 6, 5, 5)
	// Postings of 12 to 78 copies: between the merge and split sizes, so
	// that the fold needs no writer lock.
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05, PostingCap: 128})
	ix.PauseMaintenance() // the test runs the fold itself
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	if err := ix.CreateTenant(1); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	ids := []uint64{7, 8, n + 1}
	vecs := [][]float32{randVec(rng, dim), randVec(rng, dim), randVec(rng, dim)}

	// The maintainer folds every tail the moment the upsert's copies are
	// in them (the writer lock is held: the fold takes none).
	folded := make(chan error, 1)
	var foldErr error
	testHookUpsertPublished = func() {
		go func() {
			_, err := ix.foldMany(ix.pickFolds(true, foldBatch))
			folded <- err
		}()
		select {
		case foldErr = <-folded:
		case <-time.After(10 * time.Second):
			t.Error("the fold waited for the writer lock (a split or merge?)")
		}
	}
	err := ix.UpsertOwned(1, ids, vecs)
	testHookUpsertPublished = nil
	if err != nil {
		t.Fatal(err)
	}
	if foldErr != nil {
		t.Fatal(foldErr)
	}
	if ix.Stats().TailBytes != 0 {
		t.Fatalf("the fold left %d tail bytes; want every tail folded", ix.Stats().TailBytes)
	}
	for i, id := range ids {
		if got, err := ix.Get(id); err != nil || !slices.Equal(got, vecs[i]) {
			t.Fatalf("Get(%d) = %v, %v; want %v", id, got, err, vecs[i])
		}
		if !findsExactly(t, ix, id, vecs[i]) {
			t.Errorf("id %d, upserted while a fold ran, is not found by an exhaustive search", id)
		}
		res, err := ix.Search(vecs[i], 1, tenantExhaustive(1, TenantShortlists))
		if err != nil || len(res) == 0 || res[0].ID != id {
			t.Errorf("tenant 1's search for id %d = %v, %v", id, res, err)
		}
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}
