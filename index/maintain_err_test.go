package index

import (
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoaldb/shoal/posting/memstore"
)

// TestMaintenanceStopsOnCorruption: a unit of maintenance that meets a
// corrupt posting stops background maintenance for good (it does not
// re-step on every wake-up), MaintenanceErr reports it, and upserts fail
// with an error wrapping ErrCorrupt while deletes still work.
func TestMaintenanceStopsOnCorruption(t *testing.T) {
	// Set before the maintainer starts: it reads the hook unlocked.
	var steps atomic.Int64
	testHookStep = func() { steps.Add(1) }
	defer func() { testHookStep = nil }()
	dir := filepath.Join(t.TempDir(), "ix")
	store := memstore.New()
	opts := &Options{PostingCap: 4, Workers: 1, store: store}
	if _, err := Create(dir, 2, opts); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ix.Close() // before the deferred hook reset
	}()
	if err := ix.Upsert([]uint64{1, 2}, [][]float32{{0, 0}, {1, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	// Posting 0 now holds 1 and 2; damage its bytes, then give
	// maintenance a tail to fold into it.
	b := store.NewBatch()
	if err := b.PutPosting(0, []byte("not a posting")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	// Enough copies for a fold to be due (half the cap).
	if err := ix.Upsert([]uint64{3, 4, 5, 7, 8}, [][]float32{{2, 2}, {3, 3}, {4, 4}, {5, 4}, {4, 5}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ix.MaintenanceErr() == nil && time.Now().Before(deadline) {
		ix.maint.poke()
		time.Sleep(time.Millisecond)
	}
	if err := ix.MaintenanceErr(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("MaintenanceErr = %v, want an error wrapping ErrCorrupt", err)
	}
	ix.PauseMaintenance() // waits for a unit in progress
	ix.ResumeMaintenance()
	before := steps.Load()
	for range 20 {
		ix.maint.poke()
		time.Sleep(time.Millisecond)
	}
	ix.PauseMaintenance()
	if n := steps.Load() - before; n != 0 {
		t.Fatalf("maintenance ran %d more units after its error, want none", n)
	}
	if err := ix.Upsert([]uint64{6}, [][]float32{{5, 5}}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Upsert after the maintenance error = %v, want an error wrapping ErrCorrupt", err)
	}
	if err := ix.Drain(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Drain after the maintenance error = %v, want it", err)
	}
	if n, err := ix.Delete([]uint64{3}); err != nil || n != 1 {
		t.Fatalf("Delete after the maintenance error = %d, %v; want 1, nil", n, err)
	}
}
