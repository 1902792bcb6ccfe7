package pebblestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/posting/storetest"
)

func openDB(t *testing.T, dir string) *pebblestore.DB {
	t.Helper()
	db, err := pebblestore.OpenDB(dir, nil)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	return db
}

func openNS(t *testing.T, db *pebblestore.DB, dir string) *pebblestore.Store {
	t.Helper()
	s, err := db.OpenNamespace(dir, nil)
	if err != nil {
		t.Fatalf("OpenNamespace(%s): %v", dir, err)
	}
	return s
}

// TestSharedNamespacesIsolated: two namespaces that use the same posting
// ids and caller keys see only their own, before and after a reopen.
func TestSharedNamespacesIsolated(t *testing.T) {
	root := t.TempDir()
	db := openDB(t, root)
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	sa, sb := openNS(t, db, a), openNS(t, db, b)
	wantA := storetest.Load(t, sa, 0, 1, 2)
	wantB := map[uint32][]byte{}
	bt := sb.NewBatch()
	storetest.Put(t, bt, wantB, 1, 7)
	bt.Set([]byte("k"), []byte("b"))
	if err := bt.Commit(true); err != nil {
		t.Fatal(err)
	}
	at := sa.NewBatch()
	at.Set([]byte("k"), []byte("a"))
	at.Set([]byte("k2"), []byte("a2"))
	if err := at.Commit(true); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		storetest.ExpectPostings(t, sa, wantA)
		storetest.ExpectPostings(t, sb, wantB)
		storetest.ExpectKey(t, sa, "k", "a")
		storetest.ExpectKey(t, sb, "k", "b")
		storetest.ExpectKey(t, sb, "k2", "")
		var keys []string
		if err := sb.ScanPrefix(nil, func(k, _ []byte) error { keys = append(keys, string(k)); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys, []string{"k"}) {
			t.Errorf("namespace b scans keys %q, want only its own [k]", keys)
		}
	}
	check()
	// Deleting all of b's caller keys leaves a's.
	bt = sb.NewBatch()
	bt.DeleteRange(nil, nil)
	if err := bt.Commit(true); err != nil {
		t.Fatal(err)
	}
	storetest.ExpectKey(t, sa, "k", "a")
	bt = sb.NewBatch()
	bt.Set([]byte("k"), []byte("b"))
	if err := bt.Commit(true); err != nil {
		t.Fatal(err)
	}
	sa.Close()
	sb.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, root)
	defer db.Close()
	if got := db.Namespaces(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Namespaces() = %q, want [a b]", got)
	}
	sa, sb = openNS(t, db, a), openNS(t, db, b)
	defer sa.Close()
	defer sb.Close()
	check()
}

// TestSharedDrop: Drop deletes a namespace's keys and files and nothing
// of the others; a namespace made again in the same directory is empty.
func TestSharedDrop(t *testing.T) {
	root := t.TempDir()
	db := openDB(t, root)
	defer db.Close()
	a, b := filepath.Join(root, "c", "a"), filepath.Join(root, "c", "b")
	sa, sb := openNS(t, db, a), openNS(t, db, b)
	storetest.Load(t, sa, 0, 1)
	wantB := storetest.Load(t, sb, 0, 1)
	ta := sa.NewBatch()
	ta.Set([]byte("k"), []byte("a"))
	if err := ta.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := db.Drop(a); !errors.Is(err, pebblestore.ErrNamespaceOpen) {
		t.Fatalf("Drop of an open namespace = %v, want ErrNamespaceOpen", err)
	}
	sa.Close()
	if err := db.Drop(a); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if _, err := os.Stat(a); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dropped namespace's directory is still there: %v", err)
	}
	if err := db.Drop(a); !errors.Is(err, posting.ErrNotFound) {
		t.Errorf("second Drop = %v, want ErrNotFound", err)
	}
	if got := db.Namespaces(); !slices.Equal(got, []string{"c/b"}) {
		t.Errorf("Namespaces() = %q, want [c/b]", got)
	}
	storetest.ExpectPostings(t, sb, wantB)
	sa = openNS(t, db, a)
	defer sa.Close()
	storetest.ExpectPostings(t, sa, map[uint32][]byte{})
	storetest.ExpectKey(t, sa, "k", "")
	if _, err := sa.GetMeta("postings"); !errors.Is(err, posting.ErrNotFound) {
		t.Errorf("the recreated namespace has a posting directory: %v", err)
	}
	sb.Close()
}

// TestSharedDropInterrupted: a crash after Drop's first step (keys gone,
// namespace marked) leaves the directory; OpenDB finishes the drop.
func TestSharedDropInterrupted(t *testing.T) {
	root := t.TempDir()
	db := openDB(t, root)
	a := filepath.Join(root, "a")
	s := openNS(t, db, a)
	storetest.Load(t, s, 0, 1)
	s.Close()
	if err := pebblestore.BeginDrop(db, a); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a); err != nil {
		t.Fatalf("the interrupted drop should have left the directory: %v", err)
	}
	db = openDB(t, root)
	defer db.Close()
	if _, err := os.Stat(a); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenDB did not finish the drop: directory %v", err)
	}
	if got := db.Namespaces(); len(got) != 0 {
		t.Errorf("Namespaces() = %q after the drop, want none", got)
	}
}

// TestSharedLayoutRefused: a shared DB's directory is not opened as a
// single store, nor a single store's as a shared DB.
func TestSharedLayoutRefused(t *testing.T) {
	root := t.TempDir()
	db := openDB(t, root)
	db.Close()
	if _, err := pebblestore.Open(root, nil); !errors.Is(err, pebblestore.ErrWrongLayout) {
		t.Errorf("Open of a shared DB = %v, want ErrWrongLayout", err)
	}
	plain := t.TempDir()
	s, err := pebblestore.Open(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Load(t, s, 0)
	s.Close()
	if _, err := pebblestore.OpenDB(plain, nil); !errors.Is(err, pebblestore.ErrWrongLayout) {
		t.Errorf("OpenDB of a single store = %v, want ErrWrongLayout", err)
	}
}

// TestSharedNamespaceRules: a namespace is a directory strictly inside
// the DB's, not nested with another, open once at a time; the DB does
// not close under an open namespace.
func TestSharedNamespaceRules(t *testing.T) {
	root := t.TempDir()
	db := openDB(t, root)
	a := filepath.Join(root, "x", "a")
	s := openNS(t, db, a)
	for _, dir := range []string{root, t.TempDir(), filepath.Join(root, ".."), filepath.Join(a, "inner"), filepath.Join(root, "x")} {
		if _, err := db.OpenNamespace(dir, nil); !errors.Is(err, pebblestore.ErrBadNamespace) {
			t.Errorf("OpenNamespace(%s) = %v, want ErrBadNamespace", dir, err)
		}
	}
	if _, err := db.OpenNamespace(a, nil); !errors.Is(err, pebblestore.ErrNamespaceOpen) {
		t.Errorf("second OpenNamespace = %v, want ErrNamespaceOpen", err)
	}
	if err := db.Close(); !errors.Is(err, pebblestore.ErrNamespaceOpen) {
		t.Errorf("Close with a namespace open = %v, want ErrNamespaceOpen", err)
	}
	s.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSharedRecords: the DB's own caller records persist and stay apart
// from the namespaces' keys.
func TestSharedRecords(t *testing.T) {
	root := t.TempDir()
	db := openDB(t, root)
	s := openNS(t, db, filepath.Join(root, "a"))
	b := s.NewBatch()
	b.Set([]byte("c/1"), []byte("ns"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, kv := range [][2]string{{"c/1", "one"}, {"c/2", "two"}, {"d", "x"}} {
		if err := db.Set([]byte(kv[0]), []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Delete([]byte("c/2")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDB(t, root)
	defer db.Close()
	var got []string
	err := db.ScanPrefix([]byte("c/"), func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	})
	if err != nil || !slices.Equal(got, []string{"c/1=one"}) {
		t.Errorf("ScanPrefix(c/) = %q, %v; want [c/1=one]", got, err)
	}
	if _, err := db.Get([]byte("c/2")); !errors.Is(err, posting.ErrNotFound) {
		t.Errorf("Get of a deleted record = %v, want ErrNotFound", err)
	}
	s = openNS(t, db, filepath.Join(root, "a"))
	defer s.Close()
	storetest.ExpectKey(t, s, "c/1", "ns")
}
