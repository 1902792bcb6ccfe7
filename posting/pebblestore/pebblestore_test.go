package pebblestore_test

import (
	"testing"

	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/posting/storetest"
)

// TestStore runs the conformance suite on both kinds of store: with a
// posting cache and direct I/O, and with neither and small segments, so
// that the suite's concurrent batches rotate segments and delete dead ones
// under the readers' feet. After each test the segment accounting must
// match the store's contents.
func TestStore(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		t.Run("Cache", func(t *testing.T) { run(t, k, &pebblestore.Options{CacheBytes: 1 << 20}) })
		t.Run("NoCacheBufferedIOSmallSegments", func(t *testing.T) {
			run(t, k, &pebblestore.Options{CacheBytes: -1, BufferedIO: true, SegmentBytes: 64 << 10})
		})
	})
}

func run(t *testing.T, k kind, opts *pebblestore.Options) {
	storetest.Run(t, func(t *testing.T) (posting.Store, func() posting.Store) {
		dir := k.dir(t)
		cur := k.open(t, dir, opts)
		t.Cleanup(func() {
			expectSegmentStats(t, cur, dir)
			if err := cur.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		reopen := func() posting.Store {
			if err := cur.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			cur = k.open(t, dir, opts)
			return cur
		}
		return cur, reopen
	})
}

// expectSegmentStats checks the segment accounting of s against its
// contents: SegmentStats counts the segment files on disk and, as live
// bytes, the lengths of the postings.
func expectSegmentStats(t *testing.T, s *pebblestore.Store, dir string) {
	t.Helper()
	var live int64
	if err := s.Scan(func(_ uint32, b []byte) error { live += int64(len(b)); return nil }); err != nil {
		t.Fatal(err)
	}
	files, gotLive, total := s.SegmentStats()
	if onDisk := segmentFiles(t, dir); files != len(onDisk) || gotLive != live {
		t.Errorf("SegmentStats = %d files, %d live of %d bytes; want the %d files on disk, %d live bytes",
			files, gotLive, total, len(onDisk), live)
	}
}
