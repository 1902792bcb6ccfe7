package storetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/posting"
)

// Payload returns version ver of posting id as the tests write it: id
// and ver, then a filler derived from both, of a length that varies with
// both and crosses 4 KiB pages. Stores do not parse postings, so it is not
// a valid encoding.
func Payload(id, ver uint32) []byte {
	n := 8 + int(id*977+ver*1499)%9000
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b, id)
	binary.LittleEndian.PutUint32(b[4:], ver)
	for i := 8; i < n; i++ {
		b[i] = byte(id*31 + ver*7 + uint32(i))
	}
	return b
}

// PayloadVersion checks that b is a whole Payload of posting id and
// returns its version.
func PayloadVersion(id uint32, b []byte) (uint32, error) {
	if len(b) < 8 || binary.LittleEndian.Uint32(b) != id {
		return 0, fmt.Errorf("posting %d: read %d bytes of another posting", id, len(b))
	}
	ver := binary.LittleEndian.Uint32(b[4:])
	if !bytes.Equal(b, Payload(id, ver)) {
		return 0, fmt.Errorf("posting %d version %d: %d bytes, torn or wrong", id, ver, len(b))
	}
	return ver, nil
}

// Postings is the read side of a posting.Store, which the helpers take so
// that a store's own tests can pass its concrete type.
type Postings interface {
	Read(id uint32, fn func(encoded []byte) error) error
	ReadBatch(ids []uint32, fn func(i int, encoded []byte) error) error
	Scan(fn func(id uint32, encoded []byte) error) error
}

// ExpectPostings checks that s holds exactly the postings of want, by
// Read, by ReadBatch and by Scan, which must go in increasing id order.
func ExpectPostings(t testing.TB, s Postings, want map[uint32][]byte) {
	t.Helper()
	var ids []uint32
	for id, b := range want {
		ids = append(ids, id)
		err := s.Read(id, func(got []byte) error {
			if !bytes.Equal(got, b) {
				return fmt.Errorf("Read(%d): %d bytes, want the %d bytes last written", id, len(got), len(b))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	err := s.ReadBatch(ids, func(i int, got []byte) error {
		n++
		if !bytes.Equal(got, want[ids[i]]) {
			return fmt.Errorf("ReadBatch: posting %d differs from the one last written", ids[i])
		}
		return nil
	})
	if err != nil || n != len(ids) {
		t.Fatalf("ReadBatch delivered %d of %d postings: %v", n, len(ids), err)
	}
	var scanned []uint32
	err = s.Scan(func(id uint32, got []byte) error {
		scanned = append(scanned, id)
		if !bytes.Equal(got, want[id]) {
			return fmt.Errorf("Scan: posting %d differs from the one last written (or should not exist)", id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if !slices.Equal(scanned, ids) {
		t.Fatalf("Scan saw postings %v, want %v in increasing order", scanned, ids)
	}
}

// ExpectMissing checks that posting id does not exist.
func ExpectMissing(t testing.TB, s Postings, id uint32) {
	t.Helper()
	if err := s.Read(id, func([]byte) error { return nil }); !errors.Is(err, posting.ErrNotFound) {
		t.Fatalf("Read(%d) = %v, want ErrNotFound", id, err)
	}
}

// Getter is the caller-record lookup of a posting.Store.
type Getter interface {
	Get(key []byte) ([]byte, error)
}

// ExpectKey checks that caller key key holds value, or is missing if
// value is "".
func ExpectKey(t testing.TB, s Getter, key, value string) {
	t.Helper()
	got, err := s.Get([]byte(key))
	if value == "" {
		if !errors.Is(err, posting.ErrNotFound) {
			t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
		}
		return
	}
	if err != nil || string(got) != value {
		t.Fatalf("Get(%q) = %q, %v; want %q", key, got, err, value)
	}
}

// BulkLoader is the bulk-load side of a posting.Store.
type BulkLoader interface {
	NewBulkWriter() (posting.BulkWriter, error)
}

// Load bulk-loads version 0 of ids (Payload) and returns them as the
// wanted state.
func Load(t testing.TB, s BulkLoader, ids ...uint32) map[uint32][]byte {
	t.Helper()
	w := bulkWriter(t, s)
	want := make(map[uint32][]byte, len(ids))
	for _, id := range ids {
		b := Payload(id, 0)
		if err := w.Add(id, b); err != nil {
			t.Fatalf("bulk Add(%d): %v", id, err)
		}
		want[id] = b
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("bulk Commit: %v", err)
	}
	return want
}

// bulkWriter starts a bulk load of s, which is aborted when the test ends
// unless committed by then.
func bulkWriter(t testing.TB, s BulkLoader) posting.BulkWriter {
	t.Helper()
	w, err := s.NewBulkWriter()
	if err != nil {
		t.Fatalf("NewBulkWriter: %v", err)
	}
	t.Cleanup(w.Abort)
	return w
}

// Put stages version ver of posting id (Payload) in b and records it in
// want.
func Put(t testing.TB, b posting.Batch, want map[uint32][]byte, id, ver uint32) {
	t.Helper()
	p := Payload(id, ver)
	if err := b.PutPosting(id, p); err != nil {
		t.Fatalf("PutPosting(%d): %v", id, err)
	}
	want[id] = p
}

// commit commits b, failing the test on an error.
func commit(t testing.TB, b posting.Batch, sync bool) {
	t.Helper()
	if err := b.Commit(sync); err != nil {
		t.Fatalf("Commit(%v): %v", sync, err)
	}
}

// setKeys commits a batch that sets each key to "v" + key.
func setKeys(t testing.TB, s posting.Store, keys ...string) {
	t.Helper()
	b := s.NewBatch()
	for _, k := range keys {
		b.Set([]byte(k), []byte("v"+k))
	}
	commit(t, b, false)
}

// scanKeys returns the caller keys under prefix, checking that each holds
// "v" + key.
func scanKeys(t testing.TB, s posting.Store, prefix string) []string {
	t.Helper()
	var out []string
	err := s.ScanPrefix([]byte(prefix), func(k, v []byte) error {
		if string(v) != "v"+string(k) {
			return fmt.Errorf("ScanPrefix(%q): key %q holds %q, want %q", prefix, k, v, "v"+string(k))
		}
		out = append(out, string(k))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// seq returns the ids [from, to).
func seq(from, to uint32) []uint32 {
	ids := make([]uint32, 0, to-from)
	for id := from; id < to; id++ {
		ids = append(ids, id)
	}
	return ids
}

// errStop is the callback error of the tests that stop a read early.
var errStop = errors.New("storetest: stop")
