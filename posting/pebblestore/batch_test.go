package pebblestore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// payload returns the bytes of version ver of posting id: id and ver,
// then a filler derived from both, n bytes in all (n ≥ 8). The store does
// not parse postings, so these need not be valid encodings.
func payload(id, ver uint32, n int) []byte {
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b, id)
	binary.LittleEndian.PutUint32(b[4:], ver)
	for i := 8; i < n; i++ {
		b[i] = byte(id*31 + ver*7 + uint32(i))
	}
	return b
}

// payloadLen is the length of version ver of posting id in the tests:
// varied, and crossing 4 KiB pages.
func payloadLen(id, ver uint32) int { return 8 + int(id*977+ver*1499)%9000 }

// checkPayload reports whether b is a well-formed payload of posting id
// and returns its version.
func checkPayload(id uint32, b []byte) (uint32, error) {
	if len(b) < 8 || binary.LittleEndian.Uint32(b) != id {
		return 0, fmt.Errorf("posting %d: read %d bytes of another posting", id, len(b))
	}
	ver := binary.LittleEndian.Uint32(b[4:])
	if !bytes.Equal(b, payload(id, ver, payloadLen(id, ver))) {
		return 0, fmt.Errorf("posting %d version %d: %d bytes, torn or wrong", id, ver, len(b))
	}
	return ver, nil
}

// bulk loads version 0 of ids and returns them as the wanted state.
func bulk(t *testing.T, s *pebblestore.Store, ids ...uint32) map[uint32][]byte {
	t.Helper()
	w, err := s.NewBulkWriter()
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32][]byte{}
	for _, id := range ids {
		b := payload(id, 0, payloadLen(id, 0))
		if err := w.Add(id, b); err != nil {
			t.Fatal(err)
		}
		want[id] = b
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("bulk Commit: %v", err)
	}
	return want
}

// expect checks that s holds exactly the postings of want, by Read, by
// ReadBatch and by Scan.
func expect(t *testing.T, s *pebblestore.Store, want map[uint32][]byte) {
	t.Helper()
	var ids []uint32
	for id, b := range want {
		ids = append(ids, id)
		err := s.Read(id, func(got []byte) error {
			if !bytes.Equal(got, b) {
				return fmt.Errorf("Read(%d): %d bytes, want the %d bytes last written", id, len(got), len(b))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	err := s.ReadBatch(ids, func(i int, got []byte) error {
		n++
		if !bytes.Equal(got, want[ids[i]]) {
			return fmt.Errorf("ReadBatch: posting %d differs", ids[i])
		}
		return nil
	})
	if err != nil || n != len(ids) {
		t.Fatalf("ReadBatch delivered %d of %d postings: %v", n, len(ids), err)
	}
	var scanned []uint32
	err = s.Scan(func(id uint32, got []byte) error {
		scanned = append(scanned, id)
		if !bytes.Equal(got, want[id]) {
			return fmt.Errorf("Scan: posting %d differs (or should not exist)", id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if !slices.Equal(scanned, ids) {
		t.Fatalf("Scan saw postings %v, want %v", scanned, ids)
	}
}

func expectMissing(t *testing.T, s *pebblestore.Store, id uint32) {
	t.Helper()
	if err := s.Read(id, func([]byte) error { return nil }); !errors.Is(err, posting.ErrNotFound) {
		t.Fatalf("Read(%d) = %v, want ErrNotFound", id, err)
	}
}

func expectKey(t *testing.T, s *pebblestore.Store, key, value string) {
	t.Helper()
	got, err := s.Get([]byte(key))
	if value == "" {
		if !errors.Is(err, posting.ErrNotFound) {
			t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
		}
		return
	}
	if err != nil || string(got) != value {
		t.Fatalf("Get(%q) = %q, %v; want %q", key, got, err, value)
	}
}

func put(t *testing.T, b *pebblestore.Batch, want map[uint32][]byte, id, ver uint32) {
	t.Helper()
	p := payload(id, ver, payloadLen(id, ver))
	if err := b.PutPosting(id, p); err != nil {
		t.Fatalf("PutPosting(%d): %v", id, err)
	}
	want[id] = p
}

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

func TestBatchVisibleAtCommit(t *testing.T) { forEachKind(t, testBatchVisibleAtCommit) }

func testBatchVisibleAtCommit(t *testing.T, k kind) {
	for _, buffered := range []bool{false, true} {
		t.Run(fmt.Sprintf("BufferedIO=%v", buffered), func(t *testing.T) {
			s := k.open(t, k.dir(t), &pebblestore.Options{BufferedIO: buffered})
			defer s.Close()
			want := bulk(t, s, 1, 2, 3)
			old := maps(want)

			b := s.NewBatch()
			put(t, b, want, 2, 1)
			put(t, b, want, 500, 1) // beyond the bulk directory: it grows
			b.Set([]byte("k"), []byte("v"))
			if b.Len() == 0 {
				t.Fatal("Len of a batch with a caller record is 0")
			}
			expect(t, s, old) // nothing visible before Commit
			expectKey(t, s, "k", "")
			if err := b.Commit(false); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			expect(t, s, want)
			expectKey(t, s, "k", "v")
			if err := b.Commit(false); err == nil {
				t.Fatal("second Commit succeeded, want an error")
			}

			b = s.NewBatch()
			put(t, b, maps(want), 1, 7)
			b.DeletePosting(3)
			b.Set([]byte("k"), []byte("discarded"))
			b.Close()
			expect(t, s, want) // a closed batch changes nothing
			expectKey(t, s, "k", "v")
		})
	}
}

func maps(m map[uint32][]byte) map[uint32][]byte {
	out := make(map[uint32][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestBatchReopen(t *testing.T) { forEachKind(t, testBatchReopen) }

func testBatchReopen(t *testing.T, k kind) {
	dir := k.dir(t)
	s := k.open(t, dir, nil)
	want := bulk(t, s, 0, 1, 2, 3, 4)
	for ver := uint32(1); ver <= 3; ver++ {
		b := s.NewBatch()
		put(t, b, want, 1, ver)
		put(t, b, want, 9+ver, ver)
		b.Set([]byte(fmt.Sprintf("rec%d", ver)), []byte("x"))
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = k.open(t, dir, nil)
	defer s.Close()
	expect(t, s, want) // overrides applied over the bulk blob
	for ver := 1; ver <= 3; ver++ {
		expectKey(t, s, fmt.Sprintf("rec%d", ver), "x")
	}
}

func TestBulkCommitClearsOverrides(t *testing.T) { forEachKind(t, testBulkCommitClearsOverrides) }

func testBulkCommitClearsOverrides(t *testing.T, k kind) {
	dir := k.dir(t)
	s := k.open(t, dir, nil)
	want := bulk(t, s, 0, 1, 2)
	b := s.NewBatch()
	put(t, b, want, 1, 1)
	put(t, b, want, 7, 1)
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
		p := payload(id, 9, payloadLen(id, 9))
		if err := w.Add(id, p); err != nil {
			t.Fatal(err)
		}
		want[id] = p
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	expect(t, s, want)
	if n, err := pebblestore.OverrideKeys(s); err != nil || n != 0 {
		t.Fatalf("%d override keys after a bulk commit (%v), want 0", n, err)
	}
	s.Close()
	s = k.open(t, dir, nil)
	defer s.Close()
	expect(t, s, want)
}

func TestDeletePostingReopen(t *testing.T) { forEachKind(t, testDeletePostingReopen) }

func testDeletePostingReopen(t *testing.T, k kind) {
	dir := k.dir(t)
	s := k.open(t, dir, nil)
	want := bulk(t, s, 0, 1, 2)
	b := s.NewBatch()
	put(t, b, want, 5, 1)
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()
	b.DeletePosting(1) // from the bulk blob
	b.DeletePosting(5) // from an override
	b.DeletePosting(6) // never existed
	delete(want, 1)
	delete(want, 5)
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	expect(t, s, want)
	expectMissing(t, s, 1)
	expectMissing(t, s, 5)
	s.Close()
	s = k.open(t, dir, nil)
	defer s.Close()
	expect(t, s, want)
	expectMissing(t, s, 1)
	expectMissing(t, s, 5)
}

// TestConcurrentBatches rewrites disjoint postings from several writers
// while readers read them in batches. Small segments make the writers
// rotate and dead segments get deleted under the readers' feet. Readers
// must always see a whole version, never an older one than they saw.
func TestConcurrentBatches(t *testing.T) { forEachKind(t, testConcurrentBatches) }

func testConcurrentBatches(t *testing.T, k kind) {
	const (
		writers = 4
		perW    = 8
		rounds  = 15
		readers = 3
	)
	dir := k.dir(t)
	opts := &pebblestore.Options{CacheBytes: 256 << 10, SegmentBytes: 64 << 10}
	s := k.open(t, dir, opts)
	var ids []uint32
	for id := uint32(0); id < writers*perW; id++ {
		ids = append(ids, id)
	}
	bulk(t, s, ids...)

	stop := make(chan struct{})
	errs := make(chan error, writers+readers)
	var rwg, wwg sync.WaitGroup
	for r := 0; r < readers; r++ {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			seen := make([]uint32, len(ids))
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := s.ReadBatch(ids, func(i int, b []byte) error {
					ver, err := checkPayload(ids[i], b)
					if err != nil {
						return err
					}
					if ver < seen[i] {
						return fmt.Errorf("posting %d went back from version %d to %d", ids[i], seen[i], ver)
					}
					seen[i] = ver
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for w := 0; w < writers; w++ {
		wwg.Add(1)
		go func(w int) {
			defer wwg.Done()
			for ver := uint32(1); ver <= rounds; ver++ {
				b := s.NewBatch()
				for i := 0; i < perW; i += 1 + int(ver)%2 {
					id := uint32(w*perW + i)
					if err := b.PutPosting(id, payload(id, ver, payloadLen(id, ver))); err != nil {
						errs <- err
						b.Close()
						return
					}
				}
				b.Set([]byte(fmt.Sprintf("w%d", w)), []byte{byte(ver)})
				if err := b.Commit(false); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wwg.Wait()
	close(stop)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := map[uint32][]byte{}
	for _, id := range ids {
		i := id % perW
		ver := uint32(rounds)
		if i%2 == 1 { // odd slots are written in even rounds only
			ver = rounds - 1
		}
		want[id] = payload(id, ver, payloadLen(id, ver))
	}
	expect(t, s, want)
	// Every segment but the active one holds a live posting.
	files, live, total := s.SegmentStats()
	var wantLive int64
	for _, b := range want {
		wantLive += int64(len(b))
	}
	if files > len(want)+1 || files != len(segmentFiles(t, dir)) || live != wantLive {
		t.Errorf("SegmentStats = %d files, %d live of %d bytes; want at most %d files, %d live bytes",
			files, live, total, len(want)+1, wantLive)
	}
	s.Close()
	s = k.open(t, dir, opts)
	defer s.Close()
	expect(t, s, want)
}

// TestConcurrentSameID commits batches that rewrite the same postings
// from several goroutines: whatever order they commit in, memory and the
// reopened store must agree.
func TestConcurrentSameID(t *testing.T) { forEachKind(t, testConcurrentSameID) }

func testConcurrentSameID(t *testing.T, k kind) {
	dir := k.dir(t)
	s := k.open(t, dir, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := uint32(0); g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint32(0); i < 10; i++ {
				b := s.NewBatch()
				ver := g*100 + i
				for id := uint32(0); id < 3; id++ {
					if err := b.PutPosting(id, payload(id, ver, payloadLen(id, ver))); err != nil {
						errs <- err
					}
				}
				if i%3 == 0 {
					b.DeletePosting(3)
				} else if err := b.PutPosting(3, payload(3, ver, payloadLen(3, ver))); err != nil {
					errs <- err
				}
				if err := b.Commit(false); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := map[uint32][]byte{}
	if err := s.Scan(func(id uint32, b []byte) error {
		got[id] = append([]byte(nil), b...)
		_, err := checkPayload(id, b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = k.open(t, dir, nil)
	defer s.Close()
	expect(t, s, got)
}

func TestDeadSegmentsDeleted(t *testing.T) { forEachKind(t, testDeadSegmentsDeleted) }

func testDeadSegmentsDeleted(t *testing.T, k kind) {
	dir := k.dir(t)
	opts := &pebblestore.Options{SegmentBytes: 16 << 10}
	s := k.open(t, dir, opts)
	want := bulk(t, s, 0, 1, 2, 3)
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{"postings-000001.seg"}) {
		t.Fatalf("segment files after a bulk load: %v", got)
	}
	for ver := uint32(1); ver <= 6; ver++ {
		b := s.NewBatch()
		for id := uint32(0); id < 4; id++ {
			put(t, b, want, id, ver)
		}
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, s, want)
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
	put(t, b, want, 1, 1)
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{"postings-000100.seg"}) {
		t.Errorf("segment files after a commit: %v, want postings-000100.seg", got)
	}
	s.Close()
	s = k.open(t, dir, opts)
	defer s.Close()
	expect(t, s, want)
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
	put(t, a, want, 1, 1) // segment 1, now full
	b := s.NewBatch()
	put(t, b, want, 2, 1) // segment 2
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()
	put(t, b, want, 2, 2) // segment 3
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(false); err != nil {
		t.Fatal(err)
	}
	expect(t, s, want)
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{"postings-000001.seg", "postings-000003.seg"}) {
		t.Errorf("segment files: %v, want segment 1 (posting 1) and 3 (posting 2, active)", got)
	}
	// A retired segment holding only postings of a batch closed without
	// commit is deleted when that batch is closed.
	c := s.NewBatch()
	put(t, c, maps(want), 5, 1) // segment 4
	d := s.NewBatch()
	put(t, d, maps(want), 6, 1) // segment 5; 4 is retired
	if got := segmentFiles(t, dir); !slices.Contains(got, "postings-000004.seg") {
		t.Errorf("segment files: %v; segment 4 is gone while a batch that wrote to it is open", got)
	}
	c.Close()
	d.Close()
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{"postings-000001.seg", "postings-000003.seg", "postings-000005.seg"}) {
		t.Errorf("segment files: %v, want 1 and 3 (live) and 5 (active)", got)
	}
	expect(t, s, want)
}

func TestCacheInvalidatedOnRewrite(t *testing.T) { forEachKind(t, testCacheInvalidatedOnRewrite) }

func testCacheInvalidatedOnRewrite(t *testing.T, k kind) {
	s := k.open(t, k.dir(t), &pebblestore.Options{CacheBytes: 1 << 20})
	defer s.Close()
	want := bulk(t, s, 4)
	for range 2 {
		expect(t, s, want) // the second round is served from the cache
	}
	if st := s.Stats(); st.CacheHits == 0 {
		t.Fatalf("no cache hits after reading a posting twice: %+v", st)
	}
	b := s.NewBatch()
	put(t, b, want, 4, 1)
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	expect(t, s, want)
	b = s.NewBatch()
	b.DeletePosting(4)
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	expectMissing(t, s, 4)
}

func TestCallerKeys(t *testing.T) { forEachKind(t, testCallerKeys) }

func testCallerKeys(t *testing.T, k kind) {
	dir := k.dir(t)
	s := k.open(t, dir, nil)
	bulk(t, s, 0)
	if err := s.SetMeta("a1", []byte("meta")); err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	for _, k := range []string{"a1", "a2", "a3", "b", "ab", "a", "\xff\xff", "\xff\xff\x01"} {
		b.Set([]byte(k), []byte("v"+k))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	scan := func(prefix string) []string {
		t.Helper()
		var out []string
		err := s.ScanPrefix([]byte(prefix), func(k, v []byte) error {
			if string(v) != "v"+string(k) {
				return fmt.Errorf("ScanPrefix: %q = %q", k, v)
			}
			out = append(out, string(k))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"a", []string{"a", "a1", "a2", "a3", "ab"}},
		{"a2", []string{"a2"}},
		{"c", nil},
		{"\xff\xff", []string{"\xff\xff", "\xff\xff\x01"}},
		{"", []string{"a", "a1", "a2", "a3", "ab", "b", "\xff\xff", "\xff\xff\x01"}}, // no store keys
	} {
		if got := scan(c.prefix); !slices.Equal(got, c.want) {
			t.Errorf("ScanPrefix(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := s.ScanPrefix([]byte("a"), func(k, v []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("ScanPrefix returned %v after %d calls, want fn's error after 1", err, n)
	}
	// Get returns a copy; meta and caller keys are distinct.
	v, err := s.Get([]byte("a1"))
	if err != nil || string(v) != "va1" {
		t.Fatalf("Get(a1) = %q, %v", v, err)
	}
	if m, err := s.GetMeta("a1"); err != nil || string(m) != "meta" {
		t.Fatalf("GetMeta(a1) = %q, %v; caller keys must not touch metadata", m, err)
	}

	b = s.NewBatch()
	b.DeleteRange([]byte("a1"), []byte("a3")) // a1, a2
	b.Delete([]byte("b"))
	b.DeleteRange([]byte("z"), []byte("a")) // empty
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if got, want := scan(""), []string{"a", "a3", "ab", "\xff\xff", "\xff\xff\x01"}; !slices.Equal(got, want) {
		t.Errorf("after DeleteRange(a1, a3) and Delete(b): %q, want %q", got, want)
	}
	b = s.NewBatch()
	b.DeleteRange([]byte("ab"), nil) // to the end of the caller keys
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if got, want := scan(""), []string{"a", "a3"}; !slices.Equal(got, want) {
		t.Errorf("after DeleteRange(ab, nil): %q, want %q", got, want)
	}
	s.Close()
	s = k.open(t, dir, nil)
	defer s.Close()
	if got, want := scan(""), []string{"a", "a3"}; !slices.Equal(got, want) {
		t.Errorf("after reopen: %q, want %q", got, want)
	}
	expectKey(t, s, "a1", "")
	if m, err := s.GetMeta("a1"); err != nil || string(m) != "meta" {
		t.Fatalf("GetMeta(a1) = %q, %v after deleting caller keys", m, err)
	}
	if err := s.Read(0, func([]byte) error { return nil }); err != nil {
		t.Fatalf("posting 0 after deleting every caller key: %v", err)
	}
}

// TestCrashBeforeCommit simulates a crash between PutPosting and Commit:
// the store is closed with the batch still open, as a crash would leave
// it. The reopened store has the old state and no trace of the batch.
func TestCrashBeforeCommit(t *testing.T) { forEachKind(t, testCrashBeforeCommit) }

func testCrashBeforeCommit(t *testing.T, k kind) {
	dir := k.dir(t)
	s := k.open(t, dir, nil)
	want := bulk(t, s, 0, 1)
	b := s.NewBatch()
	put(t, b, maps(want), 1, 1)
	put(t, b, maps(want), 2, 1)
	b.Set([]byte("k"), []byte("v"))
	if got := segmentFiles(t, dir); len(got) != 2 {
		t.Fatalf("segment files with posting bytes written: %v, want the bulk one and the active one", got)
	}
	s.Close()
	s = k.open(t, dir, nil)
	defer s.Close()
	b.Close() // releases the file the crashed batch held
	expect(t, s, want)
	expectKey(t, s, "k", "")
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
	want := bulk(t, s, 0, 2, 4, 6, 8)
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
				p := payload(id, ver, payloadLen(id, ver))
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
			next := maps(want)
			for range 1 + rng.IntN(4) {
				id := uint32(rng.IntN(20))
				ver++
				if rng.IntN(4) == 0 {
					b.DeletePosting(id)
					delete(next, id)
				} else {
					put(t, b, next, id, ver)
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
		expect(t, s, want)
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
				put(t, b, map[uint32][]byte{}, id, 1)
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
