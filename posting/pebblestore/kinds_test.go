package pebblestore_test

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/posting/storetest"
)

// kind is one way to open a Store: with a Pebble database of its own, or
// as a namespace of a shared DB. Every test of the package runs with both
// (one shared test suite, STYLE rule 4).
type kind struct {
	name string
	// dir returns a new, empty store directory.
	dir func(t *testing.T) string
	// open opens the store of dir. Opening a namespace whose DB has no
	// other store open closes and reopens the DB first, so that a test's
	// reopen goes through Pebble's recovery as a plain reopen does.
	open func(t *testing.T, dir string, opts *pebblestore.Options) *pebblestore.Store
}

var kinds = []kind{
	{
		name: "Own",
		dir:  func(t *testing.T) string { return t.TempDir() },
		open: func(t *testing.T, dir string, opts *pebblestore.Options) *pebblestore.Store {
			t.Helper()
			s, err := pebblestore.Open(dir, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return s
		},
	},
	{name: "Shared", dir: sharedDir, open: openShared},
}

// forEachKind runs test once per kind, as subtests named after them.
func forEachKind(t *testing.T, test func(t *testing.T, k kind)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) { test(t, k) })
	}
}

// sharedEnv is the shared DB of a Shared test store, and a neighbour
// namespace in it whose contents must never change.
type sharedEnv struct {
	root string
	db   *pebblestore.DB
	open int // stores of the test namespace open
}

var shared struct {
	sync.Mutex
	envs map[string]*sharedEnv // by namespace directory
}

// sharedDir makes a shared DB with a neighbour namespace holding a
// posting and a caller key, and returns the directory of a fresh
// namespace beside it. At the end of the test the neighbour must be
// intact and the DB must close cleanly (no Store left open).
func sharedDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	db, err := pebblestore.OpenDB(root, nil)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	nb, err := db.OpenNamespace(filepath.Join(root, "c", "neighbour"), nil)
	if err != nil {
		t.Fatalf("OpenNamespace(neighbour): %v", err)
	}
	storetest.Load(t, nb, 0, 1)
	b := nb.NewBatch()
	b.Set([]byte("k"), []byte("neighbour"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := nb.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "c", "test")
	env := &sharedEnv{root: root, db: db}
	shared.Lock()
	if shared.envs == nil {
		shared.envs = map[string]*sharedEnv{}
	}
	shared.envs[dir] = env
	shared.Unlock()
	t.Cleanup(func() {
		shared.Lock()
		delete(shared.envs, dir)
		shared.Unlock()
		nb, err := env.db.OpenNamespace(filepath.Join(root, "c", "neighbour"), nil)
		if err != nil {
			t.Fatalf("reopen neighbour: %v", err)
		}
		want := map[uint32][]byte{0: storetest.Payload(0, 0), 1: storetest.Payload(1, 0)}
		storetest.ExpectPostings(t, nb, want)
		if v, err := nb.Get([]byte("k")); err != nil || !bytes.Equal(v, []byte("neighbour")) {
			t.Errorf("neighbour key = %q, %v; want it unchanged", v, err)
		}
		nb.Close()
		if err := env.db.Close(); err != nil {
			t.Errorf("closing the shared DB: %v", err)
		}
	})
	return dir
}

func openShared(t *testing.T, dir string, opts *pebblestore.Options) *pebblestore.Store {
	t.Helper()
	shared.Lock()
	env := shared.envs[dir]
	shared.Unlock()
	if env == nil {
		t.Fatalf("no shared DB for %s", dir)
	}
	if err := env.db.Close(); err == nil {
		// No store of the DB was open: reopen it, as a restart would.
		if env.db, err = pebblestore.OpenDB(env.root, nil); err != nil {
			t.Fatalf("OpenDB: %v", err)
		}
	}
	s, err := env.db.OpenNamespace(dir, opts)
	if err != nil {
		t.Fatalf("OpenNamespace: %v", err)
	}
	return s
}
