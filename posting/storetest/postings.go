package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

func testReadMissingPostingIsNotFound(t *testing.T, open Opener) {
	s, _ := open(t)
	ExpectMissing(t, s, 7)
	Load(t, s, 1, 3)
	ExpectMissing(t, s, 2)
}

func testBulkLoadRoundTrips(t *testing.T, open Opener) {
	s, _ := open(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var ids []uint32
	for id := uint32(0); id < 1500; id += 1 + uint32(rng.IntN(3)) {
		ids = append(ids, id)
	}
	ExpectPostings(t, s, Load(t, s, ids...))
}

func testBulkAddRejectsIDsNotIncreasing(t *testing.T, open Opener) {
	s, _ := open(t)
	w := bulkWriter(t, s)
	if err := w.Add(5, Payload(5, 0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(5, Payload(5, 1)); err == nil {
		t.Error("Add of a repeated id succeeded, want an error")
	}
	if err := w.Add(4, Payload(4, 0)); err == nil {
		t.Error("Add of a smaller id succeeded, want an error")
	}
}

func testBulkAddRejectsEmptyPosting(t *testing.T, open Opener) {
	s, _ := open(t)
	w := bulkWriter(t, s)
	if err := w.Add(1, nil); err == nil {
		t.Error("Add of an empty posting succeeded, want an error")
	}
}

func testBulkAbortDiscards(t *testing.T, open Opener) {
	s, _ := open(t)
	want := Load(t, s, 0)
	w := bulkWriter(t, s)
	for _, id := range []uint32{0, 1} {
		if err := w.Add(id, Payload(id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	w.Abort()
	ExpectPostings(t, s, want)
}

// testBulkCommitReplacesOnlyItsPostings loads over postings that were
// bulk-loaded, rewritten by a batch, or both: the new load replaces its
// own ids, and every other posting stays as it was.
func testBulkCommitReplacesOnlyItsPostings(t *testing.T, open Opener) {
	s, _ := open(t)
	want := Load(t, s, seq(0, 10)...)
	b := s.NewBatch()
	Put(t, b, want, 2, 1)
	Put(t, b, want, 3, 1)
	Put(t, b, want, 20, 1)
	b.DeletePosting(4)
	delete(want, 4)
	commit(t, b, false)
	w := bulkWriter(t, s)
	for _, id := range []uint32{3, 4, 5, 12} {
		p := Payload(id, 2)
		if err := w.Add(id, p); err != nil {
			t.Fatal(err)
		}
		want[id] = p
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	ExpectPostings(t, s, want)
}

func testReadBatchSkipsMissingPostings(t *testing.T, open Opener) {
	s, _ := open(t)
	rng := rand.New(rand.NewPCG(12, 13))
	var ids []uint32
	for id := uint32(0); id < 600; id += 2 {
		ids = append(ids, id)
	}
	want := Load(t, s, ids...)
	// Present and missing ids, repeats, and more than one submission's
	// worth (the disk store submits at most 256 reads at once).
	var ask []uint32
	for range 700 {
		ask = append(ask, uint32(rng.IntN(650)))
	}
	for round := range 2 { // the second round may be served from a cache
		seen := make([]int, len(ask))
		err := s.ReadBatch(ask, func(i int, b []byte) error {
			seen[i]++
			w, ok := want[ask[i]]
			if !ok {
				return fmt.Errorf("ReadBatch delivered missing posting %d", ask[i])
			}
			if !bytes.Equal(b, w) {
				return fmt.Errorf("ReadBatch: posting %d differs from the one written", ask[i])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ask {
			_, present := want[id]
			if present && seen[i] != 1 || !present && seen[i] != 0 {
				t.Fatalf("round %d: request %d (posting %d, present %v) delivered %d times", round, i, id, present, seen[i])
			}
		}
	}
}

func testReadBatchStopsAtCallbackError(t *testing.T, open Opener) {
	s, _ := open(t)
	want := Load(t, s, seq(0, 300)...)
	n := 0
	err := s.ReadBatch(seq(0, 300), func(int, []byte) error { n++; return errStop })
	if !errors.Is(err, errStop) || n != 1 {
		t.Fatalf("ReadBatch returned %v after %d calls, want the callback's error after 1", err, n)
	}
	// The store stays usable after a batch was abandoned.
	ExpectPostings(t, s, want)
}

func testScanStopsAtCallbackError(t *testing.T, open Opener) {
	s, _ := open(t)
	Load(t, s, 3, 4, 5)
	var ids []uint32
	err := s.Scan(func(id uint32, _ []byte) error {
		ids = append(ids, id)
		if id == 4 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || len(ids) != 2 {
		t.Fatalf("Scan returned %v after postings %v, want the callback's error after [3 4]", err, ids)
	}
}

func testConcurrentReads(t *testing.T, open Opener) {
	s, _ := open(t)
	ids := seq(0, 300)
	want := Load(t, s, ids...)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range 1000 {
				id := uint32(r.IntN(len(ids)))
				err := s.Read(id, func(got []byte) error {
					if !bytes.Equal(got, want[id]) {
						return fmt.Errorf("posting %d differs from the one written", id)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testDataFilesExist(t *testing.T, open Opener) {
	s, _ := open(t)
	Load(t, s, 0, 1)
	b := s.NewBatch()
	Put(t, b, map[uint32][]byte{}, 2, 1)
	commit(t, b, false)
	for _, p := range s.DataFiles() {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("DataFiles lists %s: %v", p, err)
		}
	}
}

func testStatsAreConsistent(t *testing.T, open Opener) {
	s, _ := open(t)
	want := Load(t, s, seq(0, 50)...)
	for range 2 {
		ExpectPostings(t, s, want)
	}
	st := s.Stats()
	if st.ReadOps < 0 || st.ReadBytes < 0 || st.CacheHits < 0 || st.CacheMisses < 0 || st.CacheBytes < 0 {
		t.Errorf("Stats has negative counters: %+v", st)
	}
	if st.CacheBytes > st.CacheCapacity {
		t.Errorf("Stats: cache holds %d bytes, above its capacity %d", st.CacheBytes, st.CacheCapacity)
	}
	if st.ReadOps == 0 && st.ReadBytes != 0 {
		t.Errorf("Stats: %d bytes read in no reads", st.ReadBytes)
	}
}

// testVerifyFindsNoDamage: Verify of a sound store reports no damage; a
// store with files counts every byte of its postings (which it leaves to
// the caller to check) in Verified.Postings, one without reports nothing.
func testVerifyFindsNoDamage(t *testing.T, open Opener) {
	s, _ := open(t)
	want := Load(t, s, 0, 1, 2)
	b := s.NewBatch()
	Put(t, b, want, 1, 1)
	Put(t, b, want, 3, 1)
	b.Set([]byte("key"), []byte("value"))
	commit(t, b, true)
	var problems []string
	verified, err := s.Verify(func(p string) bool { problems = append(problems, p); return true })
	if err != nil || len(problems) > 0 {
		t.Fatalf("Verify of a sound store: %v, problems %q", err, problems)
	}
	var postings, wantPostings int64
	for _, v := range verified {
		postings += v.Postings
	}
	if len(s.DataFiles()) > 0 {
		for _, p := range want {
			wantPostings += int64(len(p))
		}
	}
	if postings != wantPostings {
		t.Errorf("Verify counts %d bytes of postings, want %d", postings, wantPostings)
	}
}
