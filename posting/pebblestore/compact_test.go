package pebblestore_test

import (
	"slices"
	"testing"

	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/posting/storetest"
)

// mostlyDead bulk-loads postings 0..39 into one segment and rewrites
// 0..29, so that the segment is a quarter live; it returns the contents.
func mostlyDead(t *testing.T, s *pebblestore.Store) map[uint32][]byte {
	t.Helper()
	var ids []uint32
	for id := uint32(0); id < 40; id++ {
		ids = append(ids, id)
	}
	want := storetest.Load(t, s, ids...)
	b := s.NewBatch()
	for id := uint32(0); id < 30; id++ {
		storetest.Put(t, b, want, id, 1)
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestCompactSegment rewrites most postings of a bulk segment, so that it
// stays mostly dead; CompactSegment must move the rest out, delete it, and
// leave every posting readable, also after a reopen.
func TestCompactSegment(t *testing.T) { forEachKind(t, testCompactSegment) }

func testCompactSegment(t *testing.T, k kind) {
	dir := k.dir(t)
	opts := &pebblestore.Options{SegmentBytes: 1 << 20}
	s := k.open(t, dir, opts)
	want := mostlyDead(t, s)
	if got := segmentFiles(t, dir); !slices.Contains(got, "postings-000001.seg") {
		t.Fatalf("segment files %v: the bulk segment, a quarter live, should still be there", got)
	}
	_, live0, total0 := s.SegmentStats()

	// Nothing is below a 10 % live share: nothing to do.
	if moved, found, err := s.CompactSegment(0.1, 1<<30); err != nil || found || moved != 0 {
		t.Fatalf("CompactSegment(0.1) = %d, %v, %v; want nothing found", moved, found, err)
	}
	// In steps of at most 8 KiB (postings are up to 9 KiB: one at a time).
	steps := 0
	for {
		moved, found, err := s.CompactSegment(0.5, 8<<10)
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			break
		}
		if steps++; steps > 20 || moved == 0 {
			t.Fatalf("step %d moved %d bytes", steps, moved)
		}
	}
	if steps < 2 {
		t.Errorf("%d compaction steps, want several (8 KiB each)", steps)
	}
	if got := segmentFiles(t, dir); slices.Contains(got, "postings-000001.seg") {
		t.Fatalf("segment files %v: the bulk segment should be gone", got)
	}
	_, live1, total1 := s.SegmentStats()
	if live1 != live0 || total1 >= total0 {
		t.Errorf("live/total bytes %d/%d → %d/%d; want live unchanged, total smaller", live0, total0, live1, total1)
	}
	storetest.ExpectPostings(t, s, want)
	s.Close()
	s = k.open(t, dir, opts)
	defer s.Close()
	storetest.ExpectPostings(t, s, want)
}

// TestCompactSegmentLosesToRewrite rewrites and deletes postings while
// CompactSegment is between copying them and committing the move: the
// writes must win, the other postings move.
func TestCompactSegmentLosesToRewrite(t *testing.T) { forEachKind(t, testCompactSegmentLosesToRewrite) }

func testCompactSegmentLosesToRewrite(t *testing.T, k kind) {
	dir := k.dir(t)
	opts := &pebblestore.Options{SegmentBytes: 1 << 20}
	s := k.open(t, dir, opts)
	defer s.Close()
	want := mostlyDead(t, s)
	pebblestore.SetCompactReadHook(func() {
		pebblestore.SetCompactReadHook(nil)
		b := s.NewBatch()
		storetest.Put(t, b, want, 35, 2) // rewritten during the move
		b.DeletePosting(36)              // deleted during the move
		delete(want, 36)
		if err := b.Commit(false); err != nil {
			t.Error(err)
		}
	})
	defer pebblestore.SetCompactReadHook(nil)
	if _, found, err := s.CompactSegment(0.5, 1<<30); err != nil || !found {
		t.Fatalf("CompactSegment = %v, %v; want a segment found", found, err)
	}
	storetest.ExpectPostings(t, s, want)
	storetest.ExpectMissing(t, s, 36)
}
