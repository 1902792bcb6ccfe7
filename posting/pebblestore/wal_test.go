package pebblestore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// walKey is the caller key of write i of the WAL tests.
func walKey(i int) []byte { return fmt.Appendf(nil, "k%05d", i) }

// walCrashed writes n synced batches of one key each through a store
// (of its own, or a namespace of a shared DB), then copies the directory
// without closing the store (a crash after every write was
// acknowledged), and returns the copy and its newest log.
func walCrashed(t *testing.T, shared bool, n int) (dir, newest string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "db")
	var s *pebblestore.Store
	var db *pebblestore.DB
	var err error
	if shared {
		if db, err = pebblestore.OpenDB(src, nil); err == nil {
			s, err = db.OpenNamespace(filepath.Join(src, "a"), nil)
		}
	} else {
		s, err = pebblestore.Open(src, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		b := s.NewBatch()
		b.Set(walKey(i), make([]byte, 100))
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
		if err := s.SyncWAL(); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join(t.TempDir(), "db")
	copyDir(t, src, dir)
	s.Close()
	if db != nil {
		db.Close()
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) == 0 {
		t.Fatal("no log")
	}
	slices.Sort(logs)
	return dir, logs[len(logs)-1]
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if d.Name() == "LOCK" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil {
			err = os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func openKind(dir string, shared bool) (*pebblestore.Store, func(), error) {
	if !shared {
		s, err := pebblestore.Open(dir, nil)
		return s, func() { s.Close() }, err
	}
	db, err := pebblestore.OpenDB(dir, nil)
	if err != nil {
		return nil, nil, err
	}
	s, err := db.OpenNamespace(filepath.Join(dir, "a"), nil)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, func() { s.Close(); db.Close() }, nil
}

// TestWALDamageRefusedAndSalvaged: a byte flipped a third into the
// newest log, before writes that were synced, makes Open (and OpenDB)
// fail with a WALDamageError that wraps posting.ErrCorrupt and names the
// log; SalvageWAL without apply reports the cut and the dropped batches
// and changes nothing; with apply, the store opens holding exactly the
// writes before the damage.
func TestWALDamageRefusedAndSalvaged(t *testing.T) {
	const n = 400
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			dir, log := walCrashed(t, shared, n)
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/3] ^= 0x10
			if err := os.WriteFile(log, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err = openKind(dir, shared)
			var de *pebblestore.WALDamageError
			if !errors.As(err, &de) || !errors.Is(err, posting.ErrCorrupt) || de.File != log || de.Offset > int64(len(b)/3) || de.Offset < int64(len(b)/3)-2*1024 {
				t.Fatalf("Open after damage at offset %d of %s: %v; want a WALDamageError there", len(b)/3, log, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("offset %d", de.Offset)) || !strings.Contains(err.Error(), log) {
				t.Errorf("error %q names neither the file nor the offset", err)
			}

			ws, err := pebblestore.SalvageWAL(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			if !ws.Refused || ws.Cut == nil || ws.Cut.File != log || ws.Cut.Offset != de.Offset || ws.Applied || len(ws.Dropped) == 0 {
				t.Fatalf("SalvageWAL(report only) = refused %v, cut %+v, applied %v, %d dropped; want refused, cut at %d, not applied, batches dropped",
					ws.Refused, ws.Cut, ws.Applied, len(ws.Dropped), de.Offset)
			}
			if _, _, err := openKind(dir, shared); !errors.As(err, &de) {
				t.Fatalf("Open after a report-only salvage: %v; want the WALDamageError still", err)
			}
			if ws, err = pebblestore.SalvageWAL(dir, true); err != nil || !ws.Applied {
				t.Fatalf("SalvageWAL = %+v, %v", ws, err)
			}
			s, closeAll, err := openKind(dir, shared)
			if err != nil {
				t.Fatalf("Open after salvage: %v", err)
			}
			defer closeAll()
			// The dropped batches are the writes from the first dropped
			// key on, each whole; the damaged one is unreadable.
			first := ws.Dropped[0].Ops[0].Key
			firstIdx := -1
			for i := range n {
				if strings.HasSuffix(string(first), string(walKey(i))) {
					firstIdx = i
				}
			}
			if firstIdx < 2 || len(ws.Dropped) != n-firstIdx {
				t.Fatalf("first dropped key %q (write %d), %d dropped; want the last writes, all but the damaged one", first, firstIdx, len(ws.Dropped))
			}
			for i := range n {
				_, err := s.Get(walKey(i))
				// Write firstIdx-1 is in the damaged record, or the
				// damaged record only synced the log.
				if kept := i < firstIdx-1; i != firstIdx-1 && kept != (err == nil) {
					t.Fatalf("after salvage, write %d kept %v (Get: %v); want the writes before the damaged record only", i, err == nil, err)
				}
			}
		})
	}
}

// TestWALTornTailOpens: garbage past the last record of the newest log,
// and damage past the last synced batch, are a torn tail: Open succeeds
// and drops it, every synced write is there.
func TestWALTornTailOpens(t *testing.T) {
	dir, log := walCrashed(t, false, 200)
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("\x17\x00\xffgarbage that is not a chunk"))
	f.Close()
	s, err := pebblestore.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open with a torn tail: %v", err)
	}
	defer s.Close()
	for i := range 200 {
		if _, err := s.Get(walKey(i)); err != nil {
			t.Fatalf("synced write %d lost: %v", i, err)
		}
	}
}

// TestWALDeletedRefused: the newest log deleted with synced, unflushed
// batches in it makes Open fail with a WALDamageError.
func TestWALDeletedRefused(t *testing.T) {
	dir, log := walCrashed(t, false, 50)
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	_, err := pebblestore.Open(dir, nil)
	var de *pebblestore.WALDamageError
	if !errors.As(err, &de) {
		t.Fatalf("Open without its newest log: %v; want a WALDamageError", err)
	}
}
