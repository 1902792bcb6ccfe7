//go:build linux

package directio

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

const pebbleValueSize = 8 << 10

func pebbleKey(i int) []byte { return fmt.Appendf(nil, "posting/%08d", i) }

func pebbleValue(i int) []byte {
	v := make([]byte, pebbleValueSize)
	fillRandom(v, uint64(i)+1000) // incompressible, so the files hold it all
	return v
}

// quietLogger drops Pebble's informational logging and keeps its errors in
// the test log.
type quietLogger struct{ t testing.TB }

func (l quietLogger) Infof(format string, args ...any)  {}
func (l quietLogger) Errorf(format string, args ...any) { l.t.Logf("pebble: "+format, args...) }
func (l quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// pebbleOptions: a 1 MiB block cache, much smaller than the data, so reads
// reach the files; blobs turns on value separation into .blob files.
func pebbleOptions(t testing.TB, fs vfs.FS, cache *pebble.Cache, blobs bool) *pebble.Options {
	o := &pebble.Options{FS: fs, Cache: cache, FormatMajorVersion: pebble.FormatNewest, Logger: quietLogger{t}}
	if blobs {
		o.FormatMajorVersion = pebble.FormatValueSeparation
		o.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
			return pebble.ValueSeparationPolicy{
				Enabled:               true,
				MinimumSize:           1024,
				MaxBlobReferenceDepth: 10,
				RewriteMinimumAge:     time.Hour,
				TargetGarbageRatio:    1,
			}
		}
	}
	return o
}

// writePebble writes n values, flushes and compacts them into sstables (and
// blob files), and closes the DB.
func writePebble(t *testing.T, dir string, opts *pebble.Options, n int) {
	t.Helper()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	for i := range n {
		if err := b.Set(pebbleKey(i), pebbleValue(i), nil); err != nil {
			t.Fatal(err)
		}
		if b.Len() > 4<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			b = db.NewBatch()
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(context.Background(), []byte("posting/"), []byte("posting0"), false); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// readPebble reopens the DB without automatic compactions (so that no new,
// buffered-written files appear) and checks every value.
func readPebble(t *testing.T, dir string, opts *pebble.Options, n int) {
	t.Helper()
	opts.DisableAutomaticCompactions = true
	db, err := pebble.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	for i := range n {
		v, closer, err := db.Get(pebbleKey(i))
		if err != nil {
			t.Fatalf("Get(%s): %v", pebbleKey(i), err)
		}
		if !bytes.Equal(v, pebbleValue(i)) {
			t.Fatalf("Get(%s) returned %d wrong bytes", pebbleKey(i), len(v))
		}
		closer.Close()
	}
	// A full scan exercises the iterator's readahead (Prefetch, then a
	// reopen with SequentialReadsOption).
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for it.First(); it.Valid(); it.Next() {
		if !bytes.Equal(it.Value(), pebbleValue(count)) {
			t.Fatalf("scan: value %d differs", count)
		}
		count++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Fatalf("scan saw %d keys; want %d", count, n)
	}
}

// dataFiles lists the .sst and .blob files of dir.
func dataFiles(t *testing.T, dir string) (paths []string, blobs int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if DefaultMatch(e.Name()) {
			paths = append(paths, filepath.Join(dir, e.Name()))
			if filepath.Ext(e.Name()) == ".blob" {
				blobs++
			}
		}
	}
	return paths, blobs
}

// TestPebbleReadsAreDirect stores ~20 MB of 8 KiB values in Pebble through
// the FS, drops the written pages from the page cache, reads every value
// back, and checks that the reads were direct and left (almost) none of the
// data files' pages in the page cache.
func TestPebbleReadsAreDirect(t *testing.T) {
	n := 2560 // 20 MiB
	if testing.Short() || raceEnabled {
		n = 640 // 5 MiB: the race detector slows Pebble down ~10x
	}
	for _, blobs := range []bool{false, true} {
		t.Run(fmt.Sprintf("blobs=%t", blobs), func(t *testing.T) {
			dir := diskDir(t)
			cache := pebble.NewCache(1 << 20)
			defer cache.Unref()
			var stats Stats
			fs := NewFS(vfs.Default, &stats)
			writePebble(t, dir, pebbleOptions(t, fs, cache, blobs), n)

			files, nblobs := dataFiles(t, dir)
			if blobs && nblobs == 0 {
				t.Fatalf("value separation wrote no .blob files: %v", files)
			}
			written, total := residency(t, files...)
			if err := DropCacheDir(dir, nil); err != nil {
				t.Fatal(err)
			}
			dropped, _ := residency(t, files...)
			cacheBefore, _ := PageCacheBytes()
			before := stats.Snapshot()

			readPebble(t, dir, pebbleOptions(t, fs, cache, blobs), n)

			c := stats.Snapshot().Sub(before)
			after, _ := residency(t, files...)
			cacheAfter, _ := PageCacheBytes()
			t.Logf("%d data files (%d blob), %d pages; resident: %d after writing, %d after DropCache, %d after reading all values",
				len(files), nblobs, total, written, dropped, after)
			t.Logf("reads: %+v; page cache %+d KiB over the reads (whole machine)", c, (cacheAfter-cacheBefore)>>10)
			if c.DirectFiles == 0 || c.ReadBytes == 0 || c.BufferedFallbacks != 0 {
				t.Errorf("counters %+v: want direct files and bytes, no fallback", c)
			}
			if c.ReadBytes < int64(n*pebbleValueSize) {
				t.Errorf("ReadBytes = %d; want at least the %d bytes of values", c.ReadBytes, n*pebbleValueSize)
			}
			if after*20 > total {
				t.Errorf("%d of %d data-file pages resident after direct reads; want < 5%%", after, total)
			}
		})
	}
}

// TestPebbleOnTmpfs runs Pebble on tmpfs, where the data files fall back to
// buffered reads; the values must still come back right.
func TestPebbleOnTmpfs(t *testing.T) {
	const n = 256
	dir := tmpfsDir(t)
	cache := pebble.NewCache(1 << 20)
	defer cache.Unref()
	var stats Stats
	fs := NewFS(vfs.Default, &stats)
	writePebble(t, dir, pebbleOptions(t, fs, cache, false), n)
	before := stats.Snapshot()
	readPebble(t, dir, pebbleOptions(t, fs, cache, false), n)
	c := stats.Snapshot().Sub(before)
	if c.BufferedFallbacks == 0 || c.DirectFiles != 0 || c.FallbackReadOps == 0 {
		t.Errorf("counters %+v: want only fallback files and reads on tmpfs", c)
	}
}

// TestPebbleBufferedControl is the control for TestPebbleReadsAreDirect: the
// same reads through vfs.Default must leave most pages resident, which shows
// that the residency measurement can see cached pages at all.
func TestPebbleBufferedControl(t *testing.T) {
	const n = 640
	dir := diskDir(t)
	cache := pebble.NewCache(1 << 20)
	defer cache.Unref()
	writePebble(t, dir, pebbleOptions(t, vfs.Default, cache, false), n)
	files, _ := dataFiles(t, dir)
	if err := DropCacheDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	readPebble(t, dir, pebbleOptions(t, vfs.Default, cache, false), n)
	if r, total := residency(t, files...); r*2 < total {
		t.Errorf("buffered reads left %d of %d pages resident; want most of them", r, total)
	}
}
