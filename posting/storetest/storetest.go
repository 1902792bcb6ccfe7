// Package storetest is the test suite every posting.Store implementation
// must pass.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

// Opener returns a fresh, empty store, and a function that closes and
// reopens it (returning the reopened store), or nil if the store does not
// persist.
type Opener func(t *testing.T) (s posting.Store, reopen func() posting.Store)

// Run runs the whole suite against stores made by open.
func Run(t *testing.T, open Opener) {
	t.Run("ReadMissing", func(t *testing.T) { testReadMissing(t, open) })
	t.Run("BulkRoundTrip", func(t *testing.T) { testBulkRoundTrip(t, open) })
	t.Run("BulkOrder", func(t *testing.T) { testBulkOrder(t, open) })
	t.Run("BulkAbort", func(t *testing.T) { testBulkAbort(t, open) })
	t.Run("Meta", func(t *testing.T) { testMeta(t, open) })
	t.Run("ConcurrentReads", func(t *testing.T) { testConcurrentReads(t, open) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
	t.Run("ReadBatch", func(t *testing.T) { testReadBatch(t, open) })
}

// makePosting returns an encoded posting with n random float32 vectors.
func makePosting(rng *rand.Rand, id uint32, n, dim int) []byte {
	p := posting.Posting{Elem: vec.Float32, Dim: dim}
	for i := 0; i < n; i++ {
		p.IDs = append(p.IDs, uint64(id)<<20|uint64(i))
		p.Versions = append(p.Versions, 0)
	}
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = rng.Float32()
	}
	p.Vectors = append([]byte(nil), vec.F32ToBytes(v)...)
	return posting.Encode(nil, &p)
}

func load(t *testing.T, s posting.Store, ids []uint32, rng *rand.Rand) map[uint32][]byte {
	t.Helper()
	w, err := s.NewBulkWriter()
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[uint32][]byte)
	for _, id := range ids {
		b := makePosting(rng, id, 1+rng.IntN(40), 16)
		if err := w.Add(id, b); err != nil {
			t.Fatalf("Add(%d): %v", id, err)
		}
		want[id] = b
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return want
}

func check(t *testing.T, s posting.Store, want map[uint32][]byte) {
	t.Helper()
	for id, b := range want {
		err := s.Read(id, func(got []byte) error {
			if !bytes.Equal(got, b) {
				return fmt.Errorf("posting %d: read %d bytes differing from the %d written", id, len(got), len(b))
			}
			var p posting.Posting
			return posting.Decode(got, &p)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	last := int64(-1)
	err := s.Scan(func(id uint32, got []byte) error {
		if int64(id) <= last {
			return fmt.Errorf("Scan: id %d after %d", id, last)
		}
		last = int64(id)
		if !bytes.Equal(got, want[id]) {
			return fmt.Errorf("Scan: posting %d differs", id)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Fatalf("Scan saw %d postings, want %d", seen, len(want))
	}
}

func testReadMissing(t *testing.T, open Opener) {
	s, _ := open(t)
	err := s.Read(7, func([]byte) error { return nil })
	if !errors.Is(err, posting.ErrNotFound) {
		t.Fatalf("Read of a missing posting: %v, want ErrNotFound", err)
	}
}

func testBulkRoundTrip(t *testing.T, open Opener) {
	s, _ := open(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var ids []uint32
	for id := uint32(0); id < 3000; id += 1 + uint32(rng.IntN(3)) {
		ids = append(ids, id)
	}
	check(t, s, load(t, s, ids, rng))
}

func testBulkOrder(t *testing.T, open Opener) {
	s, _ := open(t)
	w, err := s.NewBulkWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	rng := rand.New(rand.NewPCG(3, 4))
	if err := w.Add(5, makePosting(rng, 5, 1, 4)); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(5, makePosting(rng, 5, 1, 4)); err == nil {
		t.Fatal("Add of a repeated id succeeded, want an error")
	}
	if err := w.Add(4, makePosting(rng, 4, 1, 4)); err == nil {
		t.Fatal("Add of a smaller id succeeded, want an error")
	}
}

func testBulkAbort(t *testing.T, open Opener) {
	s, _ := open(t)
	w, err := s.NewBulkWriter()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	if err := w.Add(1, makePosting(rng, 1, 3, 4)); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if err := s.Read(1, func([]byte) error { return nil }); !errors.Is(err, posting.ErrNotFound) {
		t.Fatalf("posting of an aborted bulk load is readable: %v", err)
	}
}

func testMeta(t *testing.T, open Opener) {
	s, _ := open(t)
	if _, err := s.GetMeta("x"); !errors.Is(err, posting.ErrNotFound) {
		t.Fatalf("GetMeta of a missing key: %v, want ErrNotFound", err)
	}
	big := bytes.Repeat([]byte("0123456789"), 1<<20) // 10 MiB: the routing tree is this large
	for _, v := range [][]byte{[]byte("a"), big, {}} {
		if err := s.SetMeta("x", v); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetMeta("x")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, v) {
			t.Fatalf("GetMeta returned %d bytes, want the %d set", len(got), len(v))
		}
	}
}

func testConcurrentReads(t *testing.T, open Opener) {
	s, _ := open(t)
	rng := rand.New(rand.NewPCG(7, 8))
	var ids []uint32
	for id := uint32(0); id < 500; id++ {
		ids = append(ids, id)
	}
	want := load(t, s, ids, rng)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for i := 0; i < 2000; i++ {
				id := uint32(r.IntN(len(ids)))
				err := s.Read(id, func(got []byte) error {
					if !bytes.Equal(got, want[id]) {
						return fmt.Errorf("posting %d differs", id)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testReopen(t *testing.T, open Opener) {
	s, reopen := open(t)
	if reopen == nil {
		t.Skip("store does not persist")
	}
	rng := rand.New(rand.NewPCG(10, 11))
	want := load(t, s, []uint32{1, 2, 3, 1000, 1 << 20}, rng)
	if err := s.SetMeta("m", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	s = reopen()
	check(t, s, want)
	if got, err := s.GetMeta("m"); err != nil || string(got) != "kept" {
		t.Fatalf("GetMeta after reopen = %q, %v; want \"kept\"", got, err)
	}
}

func testReadBatch(t *testing.T, open Opener) {
	s, _ := open(t)
	rng := rand.New(rand.NewPCG(12, 13))
	var ids []uint32
	for id := uint32(0); id < 600; id += 2 {
		ids = append(ids, id)
	}
	want := load(t, s, ids, rng)
	// Ask for present and missing ids, repeats, and more than one
	// submission's worth (the disk store batches at most 256 reads).
	var ask []uint32
	for i := 0; i < 700; i++ {
		ask = append(ask, uint32(rng.IntN(650)))
	}
	for round := 0; round < 2; round++ { // the second round may be served from a cache
		seen := make([]int, len(ask))
		err := s.ReadBatch(ask, func(i int, b []byte) error {
			seen[i]++
			w, ok := want[ask[i]]
			if !ok {
				return fmt.Errorf("ReadBatch delivered missing posting %d", ask[i])
			}
			if !bytes.Equal(b, w) {
				return fmt.Errorf("ReadBatch: posting %d differs", ask[i])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ask {
			_, present := want[id]
			if present && seen[i] != 1 || !present && seen[i] != 0 {
				t.Fatalf("round %d: request %d (posting %d, present %v) delivered %d times", round, i, id, present, seen[i])
			}
		}
	}
	stop := errors.New("stop")
	if err := s.ReadBatch(ids, func(int, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("ReadBatch returned %v, want the callback's error", err)
	}
	// The store stays usable after a batch was abandoned.
	check(t, s, want)
}
