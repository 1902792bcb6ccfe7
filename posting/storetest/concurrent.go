package storetest

import (
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shoaldb/shoal/posting"
)

// startReaders starts n goroutines that read ids with ReadBatch until the
// returned function is called, which waits for them. Every posting read
// must be a whole Payload; with monotonic set, no posting may go back to
// an older version than a reader saw before.
func startReaders(t *testing.T, s posting.Store, ids []uint32, n int, monotonic bool) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			seen := make([]uint32, len(ids))
			for {
				select {
				case <-done:
					return
				default:
				}
				err := s.ReadBatch(ids, func(i int, b []byte) error {
					ver, err := PayloadVersion(ids[i], b)
					if err != nil {
						return err
					}
					if monotonic && ver < seen[i] {
						return fmt.Errorf("posting %d went back from version %d to %d", ids[i], seen[i], ver)
					}
					seen[i] = ver
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// writeConcurrently runs writers goroutines that each commit a batch per
// round, rounds at most, and returns once all are done. stage(w, ver, b)
// stages writer w's batch of round ver (from 1) in b; it returns false to
// stop the writer without committing b.
func writeConcurrently(t *testing.T, s posting.Store, writers, rounds int, stage func(w int, ver uint32, b posting.Batch) (bool, error)) {
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for ver := uint32(1); ver <= uint32(rounds); ver++ {
				b := s.NewBatch()
				more, err := stage(w, ver, b)
				if err == nil && more {
					err = b.Commit(false)
				}
				b.Close()
				if err != nil {
					t.Error(err)
				}
				if err != nil || !more {
					return
				}
			}
		})
	}
	wg.Wait()
}

// testConcurrentBatchesRewriteDistinctPostings: writers each rewrite and
// delete postings of their own and set a record of their own, while
// readers read every posting. Readers see whole postings and never an
// older version than they saw; in the end, and after a reopen, the store
// holds each writer's last changes.
func testConcurrentBatchesRewriteDistinctPostings(t *testing.T, open Opener) {
	const (
		writers = 4
		perW    = 6
		rounds  = 10
	)
	s, reopen := open(t)
	ids := seq(0, writers*perW)
	Load(t, s, ids...)
	stop := startReaders(t, s, ids, 2, true)
	wants := make([]map[uint32][]byte, writers) // each writer's postings at the end
	for w := range wants {
		wants[w] = map[uint32][]byte{}
	}
	writeConcurrently(t, s, writers, rounds, func(w int, ver uint32, b posting.Batch) (bool, error) {
		for i := range uint32(perW) {
			id := uint32(w*perW) + i
			if (i+ver)%4 == 0 {
				b.DeletePosting(id)
				delete(wants[w], id)
				continue
			}
			p := Payload(id, ver)
			if err := b.PutPosting(id, p); err != nil {
				return false, err
			}
			wants[w][id] = p
		}
		b.Set([]byte(fmt.Sprintf("w%d", w)), []byte(strconv.Itoa(int(ver))))
		return true, nil
	})
	stop()
	if t.Failed() {
		return
	}
	want := state{map[uint32][]byte{}, map[string]string{}}
	for w, m := range wants {
		maps.Copy(want.postings, m)
		want.keys[fmt.Sprintf("w%d", w)] = strconv.Itoa(rounds)
	}
	want.expect(t, s)
	if reopen != nil {
		want.expect(t, reopen())
	}
}

// testConcurrentBatchesRewriteSamePostings: writers commit batches that
// each rewrite the same postings to a version of their own and record
// that version, while readers read them. Whatever order the commits take,
// the last one wins whole: every posting is at the recorded version, in
// the end and after a reopen.
func testConcurrentBatchesRewriteSamePostings(t *testing.T, open Opener) {
	const (
		writers = 4
		rounds  = 8
	)
	s, reopen := open(t)
	ids := seq(0, 3)
	Load(t, s, ids...)
	stop := startReaders(t, s, ids, 2, false)
	writeConcurrently(t, s, writers, rounds, func(w int, round uint32, b posting.Batch) (bool, error) {
		ver := uint32(w*rounds) + round
		for _, id := range ids {
			if err := b.PutPosting(id, Payload(id, ver)); err != nil {
				return false, err
			}
		}
		b.Set([]byte("last"), []byte(strconv.Itoa(int(ver))))
		return true, nil
	})
	stop()
	if t.Failed() {
		return
	}
	check := func(s posting.Store) {
		t.Helper()
		v, err := s.Get([]byte("last"))
		if err != nil {
			t.Fatal(err)
		}
		last, err := strconv.Atoi(string(v))
		if err != nil {
			t.Fatalf("record last = %q: %v", v, err)
		}
		want := map[uint32][]byte{}
		for _, id := range ids {
			want[id] = Payload(id, uint32(last))
		}
		ExpectPostings(t, s, want)
	}
	check(s)
	if reopen != nil {
		check(reopen())
	}
}

// testCompactSegmentLosesToConcurrentRewrites leaves the postings of a
// bulk load mostly dead, then compacts while writers rewrite half of the
// postings that are still live there and readers read them all. The
// rewrites win: no posting ever goes back to an older version, and in the
// end, after a reopen too, each holds its last write. A store that finds
// nothing to compact passes trivially.
func testCompactSegmentLosesToConcurrentRewrites(t *testing.T, open Opener) {
	const (
		writers   = 2
		perW      = 3
		minRounds = 3
		maxRounds = 40
	)
	s, reopen := open(t)
	ids := seq(0, 40)
	want := Load(t, s, ids...)
	b := s.NewBatch()
	for id := range uint32(30) {
		Put(t, b, want, id, 1)
	}
	commit(t, b, false)
	// Postings 30..39 are what is live of the bulk load; writers rewrite
	// 30..35, compaction moves them all.
	stop := startReaders(t, s, ids, 1, true)
	var compacted atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer compacted.Store(true)
		var total int64
		for step := range 100 {
			moved, found, err := s.CompactSegment(0.5, 4<<10)
			if err != nil {
				t.Errorf("CompactSegment: %v", err)
				return
			}
			if !found {
				if moved != 0 {
					t.Errorf("CompactSegment moved %d bytes without finding a segment", moved)
				}
				t.Logf("%d compaction steps moved %d bytes", step, total)
				return
			}
			total += moved
		}
		t.Error("CompactSegment still finds work after 100 steps")
	})
	last := make([]map[uint32][]byte, writers)
	for w := range last {
		last[w] = map[uint32][]byte{}
	}
	writeConcurrently(t, s, writers, maxRounds, func(w int, round uint32, b posting.Batch) (bool, error) {
		if round > minRounds && compacted.Load() {
			return false, nil
		}
		for i := range uint32(perW) {
			id := 30 + uint32(w*perW) + i
			p := Payload(id, round)
			if err := b.PutPosting(id, p); err != nil {
				return false, err
			}
			last[w][id] = p
		}
		return true, nil
	})
	wg.Wait()
	stop()
	if t.Failed() {
		return
	}
	for _, m := range last {
		maps.Copy(want, m)
	}
	ExpectPostings(t, s, want)
	if _, found, err := s.CompactSegment(0.5, 1<<30); err != nil {
		t.Fatal(err)
	} else if found {
		ExpectPostings(t, s, want)
	}
	if reopen != nil {
		ExpectPostings(t, reopen(), want)
	}
}
