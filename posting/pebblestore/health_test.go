package pebblestore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// writeRecords commits n caller records key<prefix><i> of 100 bytes in
// batches and flushes them to an sstable.
func writeRecords(t *testing.T, s *pebblestore.Store, prefix string, n int) {
	t.Helper()
	b := s.NewBatch()
	for i := range n {
		b.Set(fmt.Appendf(nil, "key%s%06d", prefix, i), []byte(strings.Repeat("v", 100)))
		if b.Len() > 64<<10 {
			if err := b.Commit(false); err != nil {
				t.Fatal(err)
			}
			b = s.NewBatch()
		}
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := pebblestore.FlushPebble(s); err != nil {
		t.Fatal(err)
	}
}

// newTables returns the sstables in dir that are not in old.
func newTables(t *testing.T, dir string, old []string) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range all {
		if !slices.Contains(old, p) {
			out = append(out, p)
		}
	}
	return out
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantCorrupt fails t unless err wraps posting.ErrCorrupt and, through
// it, the index's errs.Corrupt.
func wantCorrupt(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, posting.ErrCorrupt) || !errors.Is(err, errs.Corrupt) {
		t.Errorf("%s: %v, want an error wrapping posting.ErrCorrupt and errs.Corrupt", what, err)
	}
}

// TestCorruptTableCompaction: a background compaction that meets a
// damaged block does not end the process (Pebble's default hands it to
// Logger.Fatalf), and does not keep retrying at once either; the store
// then refuses its calls, Close included, with an error wrapping
// ErrCorrupt, and Verify names the damage.
func TestCorruptTableCompaction(t *testing.T) {
	dir := t.TempDir()
	s, err := pebblestore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeRecords(t, s, "a", 2000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tables := newTables(t, dir, nil)
	if len(tables) != 1 {
		t.Fatalf("%d sstables written, want 1", len(tables))
	}
	flip(t, tables[0], 100) // in the first data block

	s, err = pebblestore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if problems := verifyProblems(t, s); len(problems) == 0 {
		t.Error("Verify found no damage")
	}
	// Tables over the same keys, enough for Pebble to compact them
	// with the damaged one. Writes fail once a compaction met it.
	for range 4 {
		b := s.NewBatch()
		for i := range 500 {
			b.Set(fmt.Appendf(nil, "keya%06d", i), []byte("w"))
		}
		if err := b.Commit(true); err != nil {
			wantCorrupt(t, "Commit", err)
			break
		}
		if err := pebblestore.FlushPebble(s); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for pebblestore.CorruptionReports(s) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if pebblestore.CorruptionReports(s) == 0 {
		t.Fatal("no compaction met the damaged block")
	}
	time.Sleep(time.Second)
	if n := pebblestore.CorruptionReports(s); n > 5 {
		t.Errorf("%d corruption reports within a second: compactions retried without a pause", n)
	}
	_, err = s.Get([]byte("keya000001"))
	wantCorrupt(t, "Get after a compaction met the damage", err)
	wantCorrupt(t, "ScanPrefix", s.ScanPrefix(nil, func(_, _ []byte) error { return nil }))
	b := s.NewBatch()
	b.Set([]byte("x"), []byte("y"))
	wantCorrupt(t, "Commit", b.Commit(true))
	wantCorrupt(t, "ReadBatch", s.ReadBatch([]uint32{0}, func(int, []byte) error { return nil }))
	wantCorrupt(t, "Close", s.Close())
}

func verifyProblems(t *testing.T, s *pebblestore.Store) []string {
	t.Helper()
	var problems []string
	if _, err := s.Verify(func(p string) bool { problems = append(problems, p); return true }); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return problems
}

// TestCorruptTableOfOtherNamespace: in a shared DB a damaged table stops
// the namespaces whose keys it holds, not the others.
func TestCorruptTableOfOtherNamespace(t *testing.T) {
	dir := t.TempDir()
	db, err := pebblestore.OpenDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.OpenNamespace(filepath.Join(dir, "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.OpenNamespace(filepath.Join(dir, "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first table holds the marker and the registry, whose keys
	// bound every namespace's; then one table of a's keys, one of b's.
	writeRecords(t, a, "", 0)
	before := newTables(t, dir, nil)
	writeRecords(t, a, "", 2000)
	tablesA := newTables(t, dir, before)
	writeRecords(t, b, "", 2000)
	for _, s := range []*pebblestore.Store{a, b} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(tablesA) != 1 {
		t.Fatalf("namespace a wrote %d tables, want 1", len(tablesA))
	}
	fi, err := os.Stat(tablesA[0])
	if err != nil {
		t.Fatal(err)
	}
	flip(t, tablesA[0], fi.Size()/2) // a data block in the middle: Open does not read it

	db, err = pebblestore.OpenDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err = db.OpenNamespace(filepath.Join(dir, "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err = db.OpenNamespace(filepath.Join(dir, "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	met := -1
	for i := range 2000 {
		if _, err := a.Get(fmt.Appendf(nil, "key%06d", i)); err != nil {
			wantCorrupt(t, fmt.Sprintf("Get of key %d", i), err)
			met = i
			break
		}
	}
	if met < 0 {
		t.Fatal("no Get met the damaged block")
	}
	_, err = a.Get([]byte("key000000"))
	wantCorrupt(t, "Get of namespace a after the damage was met", err)
	if _, err := b.Get([]byte("key000000")); err != nil {
		t.Errorf("Get of namespace b: %v, want its value", err)
	}
	if problems := verifyProblems(t, b); len(problems) != 0 {
		t.Errorf("Verify of namespace b found %q, want nothing (the damaged table holds no key of b)", problems)
	}
	if problems := verifyProblems(t, a); len(problems) == 0 {
		t.Error("Verify of namespace a found no damage")
	}
	wantCorrupt(t, "Close of namespace a", a.Close())
	if err := b.Close(); err != nil {
		t.Errorf("Close of namespace b: %v", err)
	}
}

// TestFatalWriteFailure: a write of Pebble's log that fails reaches
// Logger.Fatalf, which must not end the process: the commit fails, and
// every later call fails with ErrFatal instead of relying on the
// database.
func TestFatalWriteFailure(t *testing.T) {
	walFails := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return errorfs.ErrInjected
		}
		return nil
	})}
	pebblestore.SetFSHook(func(fs vfs.FS) vfs.FS { return errorfs.Wrap(fs, walFails) })
	defer pebblestore.SetFSHook(nil)
	dir := t.TempDir()
	s, err := pebblestore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(i int) error {
		b := s.NewBatch()
		b.Set(fmt.Appendf(nil, "key%d", i), []byte("value"))
		return b.Commit(true)
	}
	if err := commit(0); err != nil {
		t.Fatal(err)
	}
	walFails.On()
	fatal := false
	for i := 1; i <= 10 && !fatal; i++ {
		err := commit(i)
		if err == nil {
			t.Fatalf("commit %d succeeded while the log cannot be written", i)
		}
		fatal = errors.Is(err, pebblestore.ErrFatal)
	}
	if !fatal {
		t.Fatal("no commit reported ErrFatal")
	}
	if _, err := s.Get([]byte("key0")); !errors.Is(err, pebblestore.ErrFatal) {
		t.Errorf("Get after the fatal error: %v, want ErrFatal", err)
	}
	if err := s.SyncWAL(); !errors.Is(err, pebblestore.ErrFatal) {
		t.Errorf("SyncWAL after the fatal error: %v, want ErrFatal", err)
	}
	if err := s.Close(); !errors.Is(err, pebblestore.ErrFatal) {
		t.Errorf("Close after the fatal error: %v, want ErrFatal", err)
	}
}
