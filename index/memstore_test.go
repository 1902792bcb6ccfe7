package index

import (
	"path/filepath"
	"testing"

	"github.com/shoaldb/shoal/posting/memstore"
)

// TestOnMemstore runs an index whose postings and records live in a
// memstore (the index knows its store only as a posting.Store): build,
// search recall, upserts, deletes, maintenance, tenants, Check, and a
// reopen on the same store.
func TestOnMemstore(t *testing.T) {
	const dim, n = 16, 4000
	data := clustered(n, dim, 20, 3, 1)
	dir := filepath.Join(t.TempDir(), "ix")
	opts := &Options{Ratio: 0.05, store: memstore.New()}
	if _, err := Build(dir, SliceSource(data, dim), opts); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ix.Close() }()
	qs := clustered(50, dim, 20, 3, 9)
	var sum float64
	for i := range 50 {
		q := qs[i*dim : (i+1)*dim]
		res, err := ix.Search(q, 10, &SearchParams{NProbe: 16})
		if err != nil {
			t.Fatal(err)
		}
		sum += recall(res, exact(data, dim, q, 10, L2))
	}
	if r := sum / 50; r < 0.9 {
		t.Fatalf("recall@10 %.3f on a memstore, want >= 0.9", r)
	}

	// Upsert new vectors and move old ones, delete some, then maintain.
	var ids []uint64
	var vs [][]float32
	more := clustered(600, dim, 20, 3, 5)
	for i := range 600 {
		ids = append(ids, uint64(n+i))
		vs = append(vs, more[i*dim:(i+1)*dim])
	}
	if err := ix.Upsert(ids, vs); err != nil {
		t.Fatal(err)
	}
	if got, err := ix.Delete([]uint64{0, 1, 2, uint64(n)}); err != nil || got != 4 {
		t.Fatalf("Delete = %d, %v; want 4, nil", got, err)
	}
	if err := ix.CreateTenant(7); err != nil {
		t.Fatal(err)
	}
	if err := ix.Grant(7, []uint64{10, 11, 12, uint64(n + 5)}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
	q := more[5*dim : 6*dim]
	res, err := ix.Search(q, 1, &SearchParams{Tenant: 7})
	if err != nil || len(res) != 1 || res[0].ID != uint64(n+5) {
		t.Fatalf("tenant search = %v, %v; want id %d", res, err, n+5)
	}

	// Reopen on the same store: everything is still there.
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if ix, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
	if got, want := ix.Len(), n+600-4; got != want {
		t.Fatalf("Len after reopen = %d, want %d", got, want)
	}
	if _, err := ix.Get(1); err == nil {
		t.Fatal("a deleted vector came back after reopen")
	}
}
