package pebblestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/sstable"
)

// TestVerifyLog: a damaged record of a write-ahead log is damage when
// valid records follow it; damage at its end is an unverified tail (a
// write cut short looks the same).
func TestVerifyLog(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 { // 40 records of 4 KiB: 5 log blocks
		b := s.NewBatch()
		b.Set(fmt.Appendf(nil, "key%d", i), []byte(strings.Repeat("v", 4000)))
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("logs %v, %v; want one", logs, err)
	}
	clean, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	num, ok := logNumber(filepath.Base(logs[0]))
	if !ok || len(clean) < 4*logBlock {
		t.Fatalf("log %s of %d bytes", logs[0], len(clean))
	}
	path := filepath.Join(t.TempDir(), filepath.Base(logs[0]))
	for _, c := range []struct {
		name   string
		off    int
		damage bool
	}{
		{"sound", -1, false},
		{"first block", 100, true},
		{"middle", 2*logBlock + 50, true},
		{"last record", len(clean) - 10, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(string(clean))
			if c.off >= 0 {
				b[c.off] ^= 0x5a
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			var problems []string
			v := &verifier{problem: func(p string) bool { problems = append(problems, p); return true }}
			size, verified, err := verifyLog(path, num, v)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(problems) > 0; got != c.damage {
				t.Errorf("problems %q, want damage: %v", problems, c.damage)
			}
			if c.off < 0 && verified != size {
				t.Errorf("sound log: %d of %d bytes verified", verified, size)
			}
			if c.off >= 0 && verified > int64(c.off) {
				t.Errorf("%d bytes verified past the damage at %d", verified, c.off)
			}
		})
	}
}

// TestCheckFooter: the footer of the tables the store writes passes, and
// any change to its padding is caught.
func TestCheckFooter(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	b.Set([]byte("k"), []byte("v"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	format := s.db.TableFormat()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) != 1 {
		t.Fatalf("tables %v, want one", tables)
	}
	data, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	if format >= sstable.TableFormatPebblev6 {
		t.Skipf("table format %s has a footer checksum", format)
	}
	footer := data[len(data)-(1+40+4+8):]
	if msg := checkFooter(footer, format); msg != "" {
		t.Fatalf("footer of a sound table: %s", msg)
	}
	// The four handle varints of a small table take at most 5 bytes
	// each, after the checksum type byte: the padding starts by 21.
	for i := 21; i < 41; i++ {
		f := []byte(string(footer))
		f[i] ^= 1
		if checkFooter(f, format) == "" {
			t.Errorf("footer padding byte %d changed: not caught", i)
		}
	}
}

// TestCorruptionOverlaps: a damaged file's bounds (inclusive) stop the
// namespaces whose key ranges they meet; unknown bounds stop all.
func TestCorruptionOverlaps(t *testing.T) {
	ns := func(id uint32) (lo, hi []byte) {
		p := nsPrefix(id)
		return p, prefixEnd(p)
	}
	c := corruption{start: append(nsPrefix(2), 'u', 5), end: append(nsPrefix(3), 'm')}
	for _, tc := range []struct {
		id   uint32
		want bool
	}{{1, false}, {2, true}, {3, true}, {4, false}} {
		lo, hi := ns(tc.id)
		if got := c.overlaps(lo, hi); got != tc.want {
			t.Errorf("namespace %d: overlaps = %v, want %v", tc.id, got, tc.want)
		}
	}
	if !c.overlaps(nil, nil) {
		t.Error("a store of its own (all keys) is not stopped")
	}
	unknown := corruption{}
	if lo, hi := ns(7); !unknown.overlaps(lo, hi) {
		t.Error("unknown bounds do not stop a namespace")
	}
	var h health
	for i := range maxCorrupt + 2 {
		h.mu.Lock()
		h.recordLocked(corruption{start: nsPrefix(uint32(100 + i)), end: nsPrefix(uint32(100 + i)), err: errors.New("x")})
		h.mu.Unlock()
	}
	if lo, hi := ns(7); h.err(lo, hi) == nil {
		t.Error("past maxCorrupt damaged files, a namespace they do not name is not stopped")
	}
}
