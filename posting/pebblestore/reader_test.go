package pebblestore_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/shoaldb/shoal/posting/pebblestore"
)

// TestIdleReadersHoldNoBuffers: after concurrent batched reads, the
// readers kept for reuse hold no posting buffers (they used to keep
// their largest ones, one per slot: gigabytes with 64 concurrent
// searches of large postings).
func TestIdleReadersHoldNoBuffers(t *testing.T) {
	s, err := pebblestore.Open(t.TempDir(), &pebblestore.Options{CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 32
	b := s.NewBatch()
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
		if err := b.PutPosting(ids[i], bytes.Repeat([]byte{byte(i)}, 100<<10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.ReadBatch(ids, func(i int, p []byte) error {
				if len(p) != 100<<10 || p[0] != byte(i) {
					t.Errorf("posting %d: %d bytes starting %d", i, len(p), p[0])
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := pebblestore.IdleReaderBuffers(s); got != 0 {
		t.Fatalf("idle readers hold %d buffers, want 0", got)
	}
}
