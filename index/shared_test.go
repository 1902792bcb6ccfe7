package index

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestSharedIndexes: a built and a created index share one Pebble
// database; each searches, updates and reopens as an index of its own
// would, and dropping one leaves the other whole.
func TestSharedIndexes(t *testing.T) {
	const dim, n = 16, 3000
	root := t.TempDir()
	db, err := OpenSharedDB(root)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	data := clustered(n, dim, 20, 1, 1)
	built, created := filepath.Join(root, "c", "built"), filepath.Join(root, "c", "created")
	if _, err := Build(built, SliceSource(data, dim), &Options{Shared: db, Ratio: 0.05}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	if _, err := Create(created, dim, &Options{Shared: db}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := Create(created, dim, &Options{Shared: db}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	if _, err := os.Stat(filepath.Join(root, "c", "built", "CURRENT")); err == nil {
		t.Error("the shared index has a Pebble database of its own")
	}
	opts := &Options{Shared: db}
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]uint64, 300)
	vecs := make([][]float32, len(ids))
	for i := range ids {
		ids[i], vecs[i] = uint64(i), randVec(rng, dim)
	}
	check := func() {
		t.Helper()
		b, err := Open(built, opts)
		if err != nil {
			t.Fatalf("Open(built): %v", err)
		}
		defer b.Close()
		c, err := Open(created, opts)
		if err != nil {
			t.Fatalf("Open(created): %v", err)
		}
		defer c.Close()
		if b.Len() != n || c.Len() != len(ids) {
			t.Fatalf("Len = %d and %d, want %d and %d", b.Len(), c.Len(), n, len(ids))
		}
		q := data[7*dim : 8*dim]
		if got := recall(must(b.Search(q, 10, nil)), exact(data, dim, q, 10, L2)); got < 0.9 {
			t.Errorf("built index recall@10 = %.2f", got)
		}
		for _, i := range []int{0, 150, 299} {
			if !findsExactly(t, c, ids[i], vecs[i]) {
				t.Errorf("created index does not find vector %d", ids[i])
			}
		}
	}
	c, err := Open(created, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upsert(ids, vecs); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	check()
	// Restart: close the database, reopen it.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = OpenSharedDB(root); err != nil {
		t.Fatal(err)
	}
	opts.Shared = db
	check()
	if err := Drop(built, opts); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if _, err := Open(built, opts); !errors.Is(err, ErrNoIndex) {
		t.Errorf("Open of a dropped index = %v, want ErrNoIndex", err)
	}
	if err := Drop(built, opts); !errors.Is(err, ErrNoIndex) {
		t.Errorf("second Drop = %v, want ErrNoIndex", err)
	}
	c, err = Open(created, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !findsExactly(t, c, ids[42], vecs[42]) {
		t.Error("the other index lost a vector in the drop")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
