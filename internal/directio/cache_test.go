//go:build linux

package directio

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestDropCacheEvictsWrittenPages(t *testing.T) {
	path, _ := writeRandomFile(t, diskDir(t), "000001.sst", 1<<20, 10)
	if r, n := residency(t, path); r == 0 {
		t.Skipf("freshly written file has %d/%d pages resident; cannot observe eviction", r, n)
	}
	if err := DropCache(path); err != nil {
		t.Fatal(err)
	}
	if r, n := residency(t, path); r != 0 {
		t.Errorf("after DropCache %d/%d pages resident; want 0", r, n)
	}
}

func TestDropCacheDir(t *testing.T) {
	dir := diskDir(t)
	sst, _ := writeRandomFile(t, dir, "000001.sst", 64<<10, 11)
	blob, _ := writeRandomFile(t, dir, "000002.blob", 64<<10, 12)
	other, _ := writeRandomFile(t, dir, "MANIFEST-000003", 64<<10, 13)
	if err := DropCacheDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	if r, n := residency(t, sst, blob); r != 0 {
		t.Errorf("after DropCacheDir %d/%d pages of .sst and .blob resident; want 0", r, n)
	}
	if r, n := residency(t, other); r == 0 {
		t.Logf("unmatched file not resident (%d/%d) although DropCacheDir skipped it", r, n)
	}
}

// TestDirectReadsLeaveNoPages reads a file every way Pebble does (random
// reads, Prefetch, a sequential reopen, Read) and checks that none of its
// pages enter the page cache.
func TestDirectReadsLeaveNoPages(t *testing.T) {
	const size = 2<<20 + 5
	path, _ := writeRandomFile(t, diskDir(t), "000001.sst", size, 14)
	if err := DropCache(path); err != nil {
		t.Fatal(err)
	}
	for _, opt := range []vfs.OpenOption{vfs.RandomReadsOption, vfs.SequentialReadsOption} {
		f := openFS(t, path, Options{}, opt)
		if err := f.Prefetch(0, size); err != nil {
			t.Fatal(err)
		}
		p := make([]byte, 300<<10)
		for off := int64(0); off < size; off += int64(len(p)) {
			if _, err := f.ReadAt(p, off); err != nil && err != io.EOF {
				t.Fatal(err)
			}
		}
		if _, err := io.Copy(io.Discard, f); err != nil {
			t.Fatal(err)
		}
	}
	if r, n := residency(t, path); r != 0 {
		t.Errorf("after direct reads %d/%d pages resident; want 0", r, n)
	}
}

func TestMincoreEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r, n, err := Mincore(path); r != 0 || n != 0 || err != nil {
		t.Errorf("Mincore(empty) = %d, %d, %v; want 0, 0, nil", r, n, err)
	}
}

func TestParseMeminfoCached(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "MemTotal:       24684096 kB\nBuffers:  10 kB\nCached:          1234 kB\nSwapCached: 0 kB\n", want: 1234 << 10},
		{in: "Cached: 7\n", want: 7},
		{in: "SwapCached: 5 kB\n", wantErr: true},
		{in: "Cached: x kB\n", wantErr: true},
	} {
		got, err := parseMeminfoCached(strings.NewReader(c.in))
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("parseMeminfoCached(%q) = %d, %v; want %d, error %t", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestPageCacheBytes(t *testing.T) {
	n, err := PageCacheBytes()
	if err != nil || n <= 0 {
		t.Errorf("PageCacheBytes() = %d, %v; want a positive size", n, err)
	}
}
