package pebblestore_test

import (
	"testing"

	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
	"github.com/shoaldb/shoal/posting/storetest"
)

func TestStore(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		t.Run("Cache", func(t *testing.T) { run(t, k, 1<<20) })
		t.Run("NoCache", func(t *testing.T) { run(t, k, -1) })
	})
}

func run(t *testing.T, k kind, cache int64) {
	storetest.Run(t, func(t *testing.T) (posting.Store, func() posting.Store) {
		dir := k.dir(t)
		opts := &pebblestore.Options{CacheBytes: cache}
		cur := k.open(t, dir, opts).PostingStore()
		t.Cleanup(func() { cur.Close() })
		reopen := func() posting.Store {
			if err := cur.Close(); err != nil {
				t.Fatal(err)
			}
			cur = k.open(t, dir, opts).PostingStore()
			return cur
		}
		return cur, reopen
	})
}
