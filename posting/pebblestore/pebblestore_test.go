package pebblestore_test

import (
	"testing"

	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/posting/storetest"
)

func TestStore(t *testing.T) {
	t.Run("Cache", func(t *testing.T) { run(t, 1<<20) })
	t.Run("NoCache", func(t *testing.T) { run(t, -1) })
}

func run(t *testing.T, cache int64) {
	storetest.Run(t, func(t *testing.T) (posting.Store, func() posting.Store) {
		dir := t.TempDir()
		opts := &pebblestore.Options{CacheBytes: cache}
		s, err := pebblestore.Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		cur := posting.Store(s)
		t.Cleanup(func() { cur.Close() })
		reopen := func() posting.Store {
			if err := cur.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := pebblestore.Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			cur = s
			return s
		}
		return s, reopen
	})
}
