package index

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoaldb/shoal/posting/memstore"
)

// TestWriteStall: while maintenance is held back and the posting tails
// are over twice UpdateBuffer, a write with WriteStall set fails with
// ErrBusy before it writes anything; without WriteStall it waits, and
// both go through once maintenance catches up.
func TestWriteStall(t *testing.T) {
	for _, stall := range []time.Duration{20 * time.Millisecond, 0} {
		t.Run(stall.String(), func(t *testing.T) {
			gate := make(chan struct{})
			// Set before the maintainer starts: it reads the hook unlocked.
			testHookStep = func() { <-gate }
			defer func() { testHookStep = nil }()
			release := func() {
				select {
				case <-gate:
				default:
					close(gate)
				}
			}
			dir := filepath.Join(t.TempDir(), "ix")
			opts := &Options{PostingCap: 64, Workers: 1, UpdateBuffer: 4 << 10, WriteStall: stall, store: memstore.New()}
			if _, err := Create(dir, 16, opts); err != nil {
				t.Fatal(err)
			}
			ix, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				release()
				ix.Close()
			}()
			vec := func(id uint64) []float32 {
				v := make([]float32, 16)
				for d := range v {
					v[d] = float32(id%7) + float32(d)
				}
				return v
			}
			id := uint64(0)
			for ix.Stats().TailBytes <= 2*opts.UpdateBuffer {
				if err := ix.Upsert([]uint64{id}, [][]float32{vec(id)}); err != nil {
					t.Fatalf("upsert %d under the limit: %v", id, err)
				}
				id++
			}
			over := id
			done := make(chan error, 1)
			go func() { done <- ix.Upsert([]uint64{over}, [][]float32{vec(over)}) }()
			if stall > 0 {
				select {
				case err := <-done:
					if !errors.Is(err, ErrBusy) {
						t.Fatalf("upsert over the limit = %v, want ErrBusy", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("upsert over the limit still waiting after 10 s with WriteStall 20ms")
				}
				if _, err := ix.Get(over); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get of the refused id = %v, want ErrNotFound (nothing written)", err)
				}
				if got := ix.Stats().Busy; got != 1 {
					t.Fatalf("Stats.Busy = %d, want 1", got)
				}
			} else {
				select {
				case err := <-done:
					t.Fatalf("upsert over the limit returned %v while maintenance was held back; want it to wait", err)
				case <-time.After(50 * time.Millisecond):
				}
			}
			release()
			if stall == 0 {
				if err := <-done; err != nil {
					t.Fatalf("waiting upsert: %v", err)
				}
			} else {
				deadline := time.Now().Add(10 * time.Second)
				for {
					err := ix.Upsert([]uint64{over}, [][]float32{vec(over)})
					if err == nil {
						break
					}
					if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
						t.Fatalf("upsert after maintenance resumed: %v", err)
					}
				}
			}
			if _, err := ix.Get(over); err != nil {
				t.Fatalf("Get(%d) after the write went through: %v", over, err)
			}
		})
	}
}
