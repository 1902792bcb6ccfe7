package index_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/index"
)

// TestReadSorted: AppendIDs lists exactly the live ids in order, built
// and upserted alike; ReadSorted returns what Get returns, with each
// id's owner and grants.
func TestReadSorted(t *testing.T) {
	const n, dim = 300, 8
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	dir := t.TempDir()
	if _, err := index.Build(dir, index.SliceSource(data, dim), nil); err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	for _, tn := range []uint32{1, 2} {
		if err := ix.CreateTenant(tn); err != nil {
			t.Fatal(err)
		}
	}
	big := uint64(1) << 40
	v := func(x float32) []float32 { return slices.Repeat([]float32{x}, dim) }
	if err := ix.UpsertOwned(1, []uint64{big, big + 5}, [][]float32{v(1), v(2)}); err != nil {
		t.Fatal(err)
	}
	if err := ix.UpsertOwned(2, []uint64{7}, [][]float32{v(3)}); err != nil { // overwrites built id 7
		t.Fatal(err)
	}
	if err := ix.Grant(2, []uint64{big}); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Delete([]uint64{3, big + 5}); err != nil {
		t.Fatal(err)
	}
	ids, err := ix.AppendIDs(nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for i := range uint64(n) {
		if i != 3 {
			want = append(want, i)
		}
	}
	want = append(want, big)
	if !slices.Equal(ids, want) {
		t.Fatalf("AppendIDs = %d ids (%v ... %v), want 0..%d without 3, then %d", len(ids), ids[:3], ids[len(ids)-2:], n-1, big)
	}
	got := 0
	err = ix.ReadSorted(ids, func(i int, vec []float32, owner uint32, granted []uint32) error {
		id := ids[i]
		g, err := ix.Get(id)
		if err != nil || !slices.Equal(vec, g) {
			t.Errorf("id %d: ReadSorted %v, Get %v, %v", id, vec, g, err)
		}
		wantOwner, wantGranted := uint32(0), []uint32(nil)
		switch id {
		case 7:
			wantOwner = 2
		case big:
			wantOwner, wantGranted = 1, []uint32{2}
		}
		if owner != wantOwner || !slices.Equal(granted, wantGranted) {
			t.Errorf("id %d: owner %d granted %v, want %d %v", id, owner, granted, wantOwner, wantGranted)
		}
		got++
		return nil
	})
	if err != nil || got != len(ids) {
		t.Fatalf("ReadSorted: %d calls, %v; want %d", got, err, len(ids))
	}
	if err := ix.ReadSorted([]uint64{5, 4}, func(int, []float32, uint32, []uint32) error { return nil }); !errors.Is(err, index.ErrBadInput) {
		t.Errorf("ReadSorted of unsorted ids: %v, want ErrBadInput", err)
	}
	if err := ix.ReadSorted([]uint64{2, 3}, func(int, []float32, uint32, []uint32) error { return nil }); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("ReadSorted of a deleted id: %v, want ErrNotFound", err)
	}
}
