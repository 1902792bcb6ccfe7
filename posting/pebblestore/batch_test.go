package pebblestore_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/posting/storetest"
)

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "postings-*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func TestBulkCommitClearsOverrides(t *testing.T) { forEachKind(t, testBulkCommitClearsOverrides) }

func testBulkCommitClearsOverrides(t *testing.T, k kind) {
	dir := k.dir(t)
	s := k.open(t, dir, nil)
	want := storetest.Load(t, s, 0, 1, 2)
	b := s.NewBatch()
	storetest.Put(t, b, want, 1, 1)
	storetest.Put(t, b, want, 7, 1)
	b.DeletePosting(2)
	delete(want, 2)
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if n, err := pebblestore.OverrideKeys(s); err != nil || n != 3 {
		t.Fatalf("%d override keys after a batch of 3 postings (%v), want 3", n, err)
	}
	// A bulk load over ids both rewritten and not.
	w, err := s.NewBulkWriter()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint32{1, 3} {
		p := storetest.Payload(id, 9)
		if err := w.Add(id, p); err != nil {
			t.Fatal(err)
		}
		want[id] = p
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	storetest.ExpectPostings(t, s, want)
	if n, err := pebblestore.OverrideKeys(s); err != nil || n != 0 {
		t.Fatalf("%d override keys after a bulk commit (%v), want 0", n, err)
	}
	s.Close()
	s = k.open(t, dir, nil)
	defer s.Close()
	storetest.ExpectPostings(t, s, want)
}

func TestDeadSegmentsDeleted(t *testing.T) { forEachKind(t, testDeadSegmentsDeleted) }

func testDeadSegmentsDeleted(t *testing.T, k kind) {
	dir := k.dir(t)
	opts := &pebblestore.Options{SegmentBytes: 16 << 10}
	s := k.open(t, dir, opts)
	want := storetest.Load(t, s, 0, 1, 2, 3)
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{"postings-000001.seg"}) {
		t.Fatalf("segment files after a bulk load: %v", got)
	}
	for ver := uint32(1); ver <= 6; ver++ {
		b := s.NewBatch()
		for id := uint32(0); id < 4; id++ {
			storetest.Put(t, b, want, id, ver)
		}
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
	}
	storetest.ExpectPostings(t, s, want)
	files, live, total := s.SegmentStats()
	var wantLive int64
	for _, b := range want {
		wantLive += int64(len(b))
	}
	if live != wantLive {
		t.Errorf("SegmentStats live bytes = %d, want %d", live, wantLive)
	}
	// Every posting was rewritten since the first segments were written:
	// only segments of the last rounds can be left (16 KiB each, postings
	// up to 9 KiB), plus the active one.
	onDisk := segmentFiles(t, dir)
	if slices.Contains(onDisk, "postings-000001.seg") || files != len(onDisk) || len(onDisk) > 4 {
		t.Errorf("segment files %v (SegmentStats: %d files, %d of %d bytes live); the bulk segment and dead ones should be gone",
			onDisk, files, live, total)
	}

	// Deleting every posting leaves only the active segment.
	b := s.NewBatch()
	for id := range want {
		b.DeletePosting(id)
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if files, live, _ := s.SegmentStats(); files != 1 || live != 0 {
		t.Errorf("SegmentStats after deleting every posting: %d files, %d live bytes; want the active one, empty", files, live)
	}
	s.Close()
	if got := segmentFiles(t, dir); len(got) != 1 {
		t.Errorf("segment files after deleting everything: %v, want only the last active one", got)
	}
	// At Open, files the directory does not refer to are orphans.
	if err := os.WriteFile(filepath.Join(dir, "postings-000099.seg"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = k.open(t, dir, opts)
	if got := segmentFiles(t, dir); len(got) != 0 {
		t.Errorf("segment files after Open: %v, want none (all orphans)", got)
	}
	// New segments are numbered above every file that was on disk.
	want = map[uint32][]byte{}
	b = s.NewBatch()
	storetest.Put(t, b, want, 1, 1)
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{"postings-000100.seg"}) {
		t.Errorf("segment files after a commit: %v, want postings-000100.seg", got)
	}
	s.Close()
	s = k.open(t, dir, opts)
	defer s.Close()
	storetest.ExpectPostings(t, s, want)
}

// TestRetiredSegmentKeptForOpenBatch: a segment that the active one
// replaced is not deleted while a batch that wrote to it is open, even
// when no committed posting lives there.
func TestRetiredSegmentKeptForOpenBatch(t *testing.T) {
	forEachKind(t, testRetiredSegmentKeptForOpenBatch)
}

func testRetiredSegmentKeptForOpenBatch(t *testing.T, k kind) {
	dir := k.dir(t)
	s := k.open(t, dir, &pebblestore.Options{SegmentBytes: 4096})
	defer s.Close()
	want := map[uint32][]byte{}
	a := s.NewBatch()
	storetest.Put(t, a, want, 1, 1) // segment 1, now full
	b := s.NewBatch()
	storetest.Put(t, b, want, 2, 1) // segment 2
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()
	storetest.Put(t, b, want, 2, 2) // segment 3
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(false); err != nil {
		t.Fatal(err)
	}
	storetest.ExpectPostings(t, s, want)
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{"postings-000001.seg", "postings-000003.seg"}) {
		t.Errorf("segment files: %v, want segment 1 (posting 1) and 3 (posting 2, active)", got)
	}
	// A retired segment holding only postings of a batch closed without
	// commit is deleted when that batch is closed.
	c := s.NewBatch()
	storetest.Put(t, c, maps.Clone(want), 5, 1) // segment 4
	d := s.NewBatch()
	storetest.Put(t, d, maps.Clone(want), 6, 1) // segment 5; 4 is retired
	if got := segmentFiles(t, dir); !slices.Contains(got, "postings-000004.seg") {
		t.Errorf("segment files: %v; segment 4 is gone while a batch that wrote to it is open", got)
	}
	c.Close()
	d.Close()
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{"postings-000001.seg", "postings-000003.seg", "postings-000005.seg"}) {
		t.Errorf("segment files: %v, want 1 and 3 (live) and 5 (active)", got)
	}
	storetest.ExpectPostings(t, s, want)
}

func TestCacheInvalidatedOnRewrite(t *testing.T) { forEachKind(t, testCacheInvalidatedOnRewrite) }

func testCacheInvalidatedOnRewrite(t *testing.T, k kind) {
	s := k.open(t, k.dir(t), &pebblestore.Options{CacheBytes: 1 << 20})
	defer s.Close()
	want := storetest.Load(t, s, 4)
	for range 2 {
		storetest.ExpectPostings(t, s, want) // the second round is served from the cache
	}
	if st := s.Stats(); st.CacheHits == 0 {
		t.Fatalf("no cache hits after reading a posting twice: %+v", st)
	}
	b := s.NewBatch()
	storetest.Put(t, b, want, 4, 1)
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	storetest.ExpectPostings(t, s, want)
	b = s.NewBatch()
	b.DeletePosting(4)
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	storetest.ExpectMissing(t, s, 4)
}

// TestCrashBeforeCommit simulates a crash between PutPosting and Commit:
// the store is closed with the batch still open, as a crash would leave
// it. The reopened store has the old state and no trace of the batch.
func TestCrashBeforeCommit(t *testing.T) { forEachKind(t, testCrashBeforeCommit) }

func testCrashBeforeCommit(t *testing.T, k kind) {
	dir := k.dir(t)
	s := k.open(t, dir, nil)
	want := storetest.Load(t, s, 0, 1)
	b := s.NewBatch()
	storetest.Put(t, b, maps.Clone(want), 1, 1)
	storetest.Put(t, b, maps.Clone(want), 2, 1)
	b.Set([]byte("k"), []byte("v"))
	if got := segmentFiles(t, dir); len(got) != 2 {
		t.Fatalf("segment files with posting bytes written: %v, want the bulk one and the active one", got)
	}
	s.Close()
	s = k.open(t, dir, nil)
	defer s.Close()
	b.Close() // releases the file the crashed batch held
	storetest.ExpectPostings(t, s, want)
	storetest.ExpectKey(t, s, "k", "")
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{"postings-000001.seg"}) {
		t.Errorf("segment files after reopen: %v, want only the bulk one", got)
	}
}

func TestPutPostingErrors(t *testing.T) { forEachKind(t, testPutPostingErrors) }

func testPutPostingErrors(t *testing.T, k kind) {
	s := k.open(t, k.dir(t), nil)
	defer s.Close()
	b := s.NewBatch()
	defer b.Close()
	if err := b.PutPosting(pebblestore.MaxPostingID+1, []byte("x")); err == nil {
		t.Error("PutPosting above MaxPostingID succeeded")
	}
	if err := b.PutPosting(1, nil); err == nil {
		t.Error("PutPosting of an empty posting succeeded")
	}
}

// TestBatchRandom applies random batches to the store and to a model, and
// compares them after every batch and after reopening.
func TestBatchRandom(t *testing.T) { forEachKind(t, testBatchRandom) }

func testBatchRandom(t *testing.T, k kind) {
	dir := k.dir(t)
	opts := &pebblestore.Options{CacheBytes: 64 << 10, SegmentBytes: 32 << 10}
	s := k.open(t, dir, opts)
	defer func() { s.Close() }()
	rng := rand.New(rand.NewPCG(1, 2))
	want := storetest.Load(t, s, 0, 2, 4, 6, 8)
	ver := uint32(0)
	for step := 0; step < 60; step++ {
		switch rng.IntN(10) {
		case 0:
			s.Close()
			s = k.open(t, dir, opts)
		case 1:
			w, err := s.NewBulkWriter()
			if err != nil {
				t.Fatal(err)
			}
			ver++
			for id := uint32(rng.IntN(3)); id < 20; id += 1 + uint32(rng.IntN(5)) {
				p := storetest.Payload(id, ver)
				if err := w.Add(id, p); err != nil {
					t.Fatal(err)
				}
				want[id] = p
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
		default:
			b := s.NewBatch()
			next := maps.Clone(want)
			for range 1 + rng.IntN(4) {
				id := uint32(rng.IntN(20))
				ver++
				if rng.IntN(4) == 0 {
					b.DeletePosting(id)
					delete(next, id)
				} else {
					storetest.Put(t, b, next, id, ver)
				}
			}
			if rng.IntN(5) == 0 {
				b.Close()
				break
			}
			if err := b.Commit(false); err != nil {
				t.Fatal(err)
			}
			want = next
		}
		storetest.ExpectPostings(t, s, want)
		var wantLive int64
		for _, p := range want {
			wantLive += int64(len(p))
		}
		if _, live, _ := s.SegmentStats(); live != wantLive {
			t.Fatalf("step %d: SegmentStats live bytes %d, want %d", step, live, wantLive)
		}
	}
}

// TestWritesBypassPageCache: posting bytes written by batches do not stay
// in the OS page cache, whether written with O_DIRECT or through the
// cache and dropped after the sync.
func TestWritesBypassPageCache(t *testing.T) { forEachKind(t, testWritesBypassPageCache) }

func testWritesBypassPageCache(t *testing.T, k kind) {
	for _, buffered := range []bool{false, true} {
		t.Run(fmt.Sprintf("BufferedIO=%v", buffered), func(t *testing.T) {
			dir := k.dir(t)
			s := k.open(t, dir, &pebblestore.Options{BufferedIO: buffered})
			defer s.Close()
			b := s.NewBatch()
			for id := uint32(0); id < 20; id++ {
				storetest.Put(t, b, map[uint32][]byte{}, id, 1)
			}
			if err := b.Commit(false); err != nil {
				t.Fatal(err)
			}
			files := s.DataFiles()
			if len(files) != 1 {
				t.Fatalf("DataFiles = %v, want the active segment", files)
			}
			resident, total, err := directio.Mincore(files[0])
			if err != nil {
				t.Skipf("cannot observe the page cache: %v", err)
			}
			if resident != 0 {
				t.Errorf("%d of %d pages of the segment are in the page cache after Commit, want 0", resident, total)
			}
		})
	}
}
