package pebblestore_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/posting/storetest"
)

// verifyClean runs Verify on s and fails on any damage it reports.
func verifyClean(t *testing.T, s *pebblestore.Store) {
	t.Helper()
	var problems []string
	if _, err := s.Verify(func(p string) bool { problems = append(problems, p); return true }); err != nil || len(problems) > 0 {
		t.Fatalf("Verify of the checkpoint: %v, problems %q", err, problems)
	}
}

// TestCheckpointKeepsSegmentsDeadAfterCut: a segment that compaction
// empties (and would delete) after the cut is still linked into the
// checkpoint, whose directory names it; the store deletes it once the
// checkpoint is done.
func TestCheckpointKeepsSegmentsDeadAfterCut(t *testing.T) {
	forEachKind(t, testCheckpointKeepsSegmentsDeadAfterCut)
}

func testCheckpointKeepsSegmentsDeadAfterCut(t *testing.T, k kind) {
	dir := k.dir(t)
	opts := &pebblestore.Options{SegmentBytes: 1 << 20}
	s := k.open(t, dir, opts)
	defer s.Close()
	want := mostlyDead(t, s)
	atCut := maps.Clone(want)
	dst := filepath.Join(t.TempDir(), "ck")
	_, err := s.Checkpoint(dst, &pebblestore.CheckpointOptions{Cut: func(take func() error) error {
		if err := take(); err != nil {
			return err
		}
		// After the cut: move every live posting out of the bulk segment
		// and rewrite one more posting.
		for {
			_, found, err := s.CompactSegment(0.5, 1<<30)
			if err != nil {
				return err
			}
			if !found {
				break
			}
		}
		b := s.NewBatch()
		storetest.Put(t, b, want, 39, 7)
		if err := b.Commit(true); err != nil {
			return err
		}
		if !slices.Contains(segmentFiles(t, dir), "postings-000001.seg") {
			return errors.New("the emptied bulk segment was deleted during the checkpoint")
		}
		return nil
	}})
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	if slices.Contains(segmentFiles(t, dir), "postings-000001.seg") {
		t.Errorf("the emptied bulk segment is still in the store after the checkpoint")
	}
	storetest.ExpectPostings(t, s, want)
	c, err := pebblestore.Open(dst, opts)
	if err != nil {
		t.Fatalf("Open(checkpoint): %v", err)
	}
	defer c.Close()
	storetest.ExpectPostings(t, c, atCut)
	verifyClean(t, c)
}

// TestCheckpointConcurrentWriters: writers rewrite their postings and a
// caller key in one batch each while compaction moves postings and a
// checkpoint is taken. The checkpoint holds, for each writer, a version
// at least as new as the last one acknowledged before it began, with the
// postings and the key of that same batch.
func TestCheckpointConcurrentWriters(t *testing.T) { forEachKind(t, testCheckpointConcurrentWriters) }

func testCheckpointConcurrentWriters(t *testing.T, k kind) {
	const writers, per = 3, 8
	dir := k.dir(t)
	opts := &pebblestore.Options{SegmentBytes: 256 << 10}
	s := k.open(t, dir, opts)
	defer s.Close()
	var ids []uint32
	for id := range uint32(writers * per) {
		ids = append(ids, id)
	}
	storetest.Load(t, s, ids...)
	var acked [writers]atomic.Uint32
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, writers+1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ver := uint32(1); ; ver++ {
				select {
				case <-stop:
					return
				default:
				}
				b := s.NewBatch()
				for i := range per {
					id := uint32(w*per + i)
					if err := b.PutPosting(id, storetest.Payload(id, ver)); err != nil {
						errc <- err
						return
					}
				}
				b.Set([]byte("w"+strconv.Itoa(w)), []byte(strconv.Itoa(int(ver))))
				if err := b.Commit(ver%2 == 0); err != nil {
					errc <- err
					return
				}
				acked[w].Store(ver)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := s.CompactSegment(0.6, 64<<10); err != nil {
				errc <- err
				return
			}
		}
	}()
	for acked[writers-1].Load() < 20 {
		select {
		case err := <-errc:
			t.Fatal(err)
		default:
		}
	}
	var before [writers]uint32
	for w := range before {
		before[w] = acked[w].Load()
	}
	dst := filepath.Join(t.TempDir(), "ck")
	_, err := s.Checkpoint(dst, nil)
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	c, err := pebblestore.Open(dst, opts)
	if err != nil {
		t.Fatalf("Open(checkpoint): %v", err)
	}
	defer c.Close()
	for w := range writers {
		v, err := c.Get([]byte("w" + strconv.Itoa(w)))
		if err != nil {
			t.Fatalf("writer %d's key: %v", w, err)
		}
		ver, _ := strconv.Atoi(string(v))
		if uint32(ver) < before[w] {
			t.Errorf("writer %d: the checkpoint holds version %d, %d was acknowledged before it began", w, ver, before[w])
		}
		for i := range per {
			id := uint32(w*per + i)
			err := c.Read(id, func(b []byte) error {
				got, err := storetest.PayloadVersion(id, b)
				if err == nil && got != uint32(ver) {
					err = fmt.Errorf("posting %d at version %d, its writer's key at %d: not one batch", id, got, ver)
				}
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}
	}
	verifyClean(t, c)
}

// TestImportNamespace: a checkpoint of a store imported into a namespace
// of a shared DB holds the same records (its segment files copied by the
// caller); a namespace with records, and a shared DB as the source, are
// refused.
func TestImportNamespace(t *testing.T) {
	src := t.TempDir()
	s, err := pebblestore.Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := storetest.Load(t, s, 0, 1, 2, 3)
	b := s.NewBatch()
	storetest.Put(t, b, want, 2, 5)
	b.Set([]byte("k"), []byte("v"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(t.TempDir(), "ck")
	if _, err := s.Checkpoint(ck, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()

	root := t.TempDir()
	db, err := pebblestore.OpenDB(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ns := filepath.Join(root, "c", "1")
	if err := os.MkdirAll(ns, 0o755); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(ck, "postings-*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("checkpoint segments %v, %v", segs, err)
	}
	for _, p := range segs {
		if err := os.Link(p, filepath.Join(ns, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.ImportNamespace(ns, ck); err != nil {
		t.Fatalf("ImportNamespace: %v", err)
	}
	n, err := db.OpenNamespace(ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	storetest.ExpectPostings(t, n, want)
	storetest.ExpectKey(t, n, "k", "v")
	verifyClean(t, n)
	n.Close()
	if err := db.ImportNamespace(ns, ck); !errors.Is(err, pebblestore.ErrNamespaceNotEmpty) {
		t.Errorf("ImportNamespace into a namespace with records: %v, want ErrNamespaceNotEmpty", err)
	}
	other := t.TempDir()
	odb, err := pebblestore.OpenDB(other, nil)
	if err != nil {
		t.Fatal(err)
	}
	odb.Close()
	if err := db.ImportNamespace(filepath.Join(root, "c", "2"), other); !errors.Is(err, pebblestore.ErrWrongLayout) {
		t.Errorf("ImportNamespace of a shared DB: %v, want ErrWrongLayout", err)
	}
}

// TestSplitRange: the bounds cut a range into increasing parts, and
// midKey finds a key strictly between two keys when there is one.
func TestSplitRange(t *testing.T) {
	for _, tc := range []struct {
		lo, hi string
		some   bool
	}{
		{"a", "b", true},
		{"a", "a\x00", false},
		{"a\xff", "b", true},
		{"", "\x01", true},
		{"n\x00\x00\x00\x01", "n\x00\x00\x00\x02", true},
	} {
		m := pebblestore.MidKey([]byte(tc.lo), []byte(tc.hi))
		if (m != nil) != tc.some {
			t.Errorf("midKey(%q, %q) = %q, want one: %v", tc.lo, tc.hi, m, tc.some)
		}
		if m != nil && (string(m) <= tc.lo || string(m) >= tc.hi) {
			t.Errorf("midKey(%q, %q) = %q: not between them", tc.lo, tc.hi, m)
		}
	}
}

// TestCheckpointManyRecords: a store with megabytes of records in
// sstables and more in the memtable (a namespace's are exported in
// parts read at once) checkpoints to a store holding each of them.
func TestCheckpointManyRecords(t *testing.T) { forEachKind(t, testCheckpointManyRecords) }

func testCheckpointManyRecords(t *testing.T, k kind) {
	s := k.open(t, k.dir(t), nil)
	defer s.Close()
	const n = 6000
	val := func(i int) []byte { return []byte(fmt.Sprintf("%0900d", i)) }
	for lo := 0; lo < n; lo += 500 {
		b := s.NewBatch()
		for i := lo; i < lo+500; i++ {
			b.Set([]byte(fmt.Sprintf("r%08d", i*7919%n)), val(i*7919%n))
		}
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
		if lo == n/2 {
			if err := pebblestore.FlushPebble(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	dst := filepath.Join(t.TempDir(), "ck")
	if _, err := s.Checkpoint(dst, nil); err != nil {
		t.Fatal(err)
	}
	if ssts, _ := filepath.Glob(filepath.Join(dst, "*.sst")); k.name == "Shared" && len(ssts) < 2 {
		t.Errorf("the namespace's records were exported to %d table(s), want several (parts read at once)", len(ssts))
	}
	c, err := pebblestore.Open(dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := 0
	err = c.ScanPrefix([]byte("r"), func(key, v []byte) error {
		var i int
		if _, err := fmt.Sscanf(string(key), "r%08d", &i); err != nil || i != got || string(v) != string(val(i)) {
			return fmt.Errorf("record %d: key %q (%v), value of %d bytes", got, key, err, len(v))
		}
		got++
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("checkpoint holds %d records (%v), want %d", got, err, n)
	}
}
