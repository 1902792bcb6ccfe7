//go:build linux

package directio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// fileSize is three pages and a partial fourth, so that the last page is
// short.
const fileSize = 3*4096 + 123

// readCases are awkward offsets and lengths around page boundaries and EOF.
var readCases = []struct{ off, n int }{
	{0, 0}, {0, 1}, {1, 1}, {0, 4095}, {0, 4096}, {0, 4097},
	{1, 4095}, {1, 4096}, {4095, 1}, {4095, 2}, {4095, 4097}, {4096, 4096},
	{4097, 4095}, {100, 8192 + 50}, {4096 * 3, 123}, {4096 * 3, 4096},
	{fileSize - 1, 1}, {fileSize - 10, 10}, {fileSize - 10, 20},
	{fileSize, 0}, {fileSize, 1}, {fileSize + 100, 10},
	{0, fileSize}, {0, fileSize + 1}, {1, fileSize - 1}, {0, 3 * fileSize},
}

// wantRead is what io.ReaderAt promises for data: n = the bytes available
// in [off, off+n), and io.EOF exactly when that is fewer than asked for.
func wantRead(data []byte, off, n int) ([]byte, error) {
	if off >= len(data) {
		if n == 0 {
			return nil, nil
		}
		return nil, io.EOF
	}
	end := min(off+n, len(data))
	if end-off < n {
		return data[off:end], io.EOF
	}
	return data[off:end], nil
}

func TestReadAtMatchesFile(t *testing.T) {
	for _, k := range dirKinds {
		for _, maxRead := range []int{DefaultMaxReadSize, 4096, 8192} {
			t.Run(fmt.Sprintf("%s/MaxReadSize=%d", k.name, maxRead), func(t *testing.T) {
				path, data := writeRandomFile(t, k.makeDir(t), "000001.sst", fileSize, 1)
				var stats Stats
				f := openFS(t, path, Options{Stats: &stats, MaxReadSize: maxRead}, vfs.RandomReadsOption)
				for _, c := range readCases {
					want, wantErr := wantRead(data, c.off, c.n)
					p := make([]byte, c.n)
					n, err := f.ReadAt(p, int64(c.off))
					if n != len(want) || err != wantErr || !bytes.Equal(p[:n], want) {
						t.Errorf("ReadAt(len %d, off %d) = %d, %v (bytes equal: %t); want %d, %v",
							c.n, c.off, n, err, bytes.Equal(p[:n], want), len(want), wantErr)
					}
				}
				checkCounters(t, k.direct, stats.Snapshot())
			})
		}
	}
}

// checkCounters asserts that one file was opened, direct or not, and that
// reads were counted on the matching side.
func checkCounters(t *testing.T, direct bool, c Counters) {
	t.Helper()
	if direct {
		if c.DirectFiles != 1 || c.BufferedFallbacks != 0 || c.ReadOps == 0 || c.ReadBytes == 0 || c.FallbackReadOps != 0 {
			t.Errorf("counters %+v: want 1 direct file, no fallback, direct reads", c)
		}
		return
	}
	if c.DirectFiles != 0 || c.BufferedFallbacks != 1 || c.ReadOps != 0 || c.FallbackReadOps == 0 {
		t.Errorf("counters %+v: want 1 fallback file and no direct reads", c)
	}
}

func TestReadAtNegativeOffset(t *testing.T) {
	path, _ := writeRandomFile(t, diskDir(t), "000001.sst", fileSize, 1)
	f := openFS(t, path, Options{})
	if n, err := f.ReadAt(make([]byte, 1), -1); n != 0 || err == nil {
		t.Errorf("ReadAt(off -1) = %d, %v; want 0 and an error", n, err)
	}
}

func TestReadSequentialMatchesFile(t *testing.T) {
	for _, k := range dirKinds {
		t.Run(k.name, func(t *testing.T) {
			path, data := writeRandomFile(t, k.makeDir(t), "000001.blob", fileSize, 2)
			f := openFS(t, path, Options{}, vfs.SequentialReadsOption)
			// ReadAll's growing buffer makes most Reads start off alignment.
			got, err := io.ReadAll(f)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("ReadAll = %d bytes, %v; want the file's %d bytes", len(got), err, len(data))
			}
			if n, err := f.Read(make([]byte, 1000)); n != 0 || err != io.EOF {
				t.Fatalf("Read at EOF = %d, %v; want 0, io.EOF", n, err)
			}
		})
	}
}

func TestReadAtConcurrent(t *testing.T) {
	const size = 1<<20 + 77
	path, data := writeRandomFile(t, diskDir(t), "000001.sst", size, 3)
	var stats Stats
	f := openFS(t, path, Options{Stats: &stats, MaxReadSize: 64 << 10})
	const goroutines, reads = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			p := make([]byte, 200<<10)
			for range reads {
				off := r.IntN(size + 100)
				n := r.IntN(len(p))
				want, wantErr := wantRead(data, off, n)
				got, err := f.ReadAt(p[:n], int64(off))
				if got != len(want) || err != wantErr || !bytes.Equal(p[:got], want) {
					errs <- fmt.Errorf("ReadAt(len %d, off %d) = %d, %v; want %d, %v", n, off, got, err, len(want), wantErr)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c := stats.Snapshot(); c.ReadOps < goroutines*reads/2 {
		t.Errorf("ReadOps = %d; want at least one pread per non-empty read", c.ReadOps)
	}
}

func TestReadAtDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops entries at random under the race detector")
	}
	path, _ := writeRandomFile(t, diskDir(t), "000001.sst", fileSize, 4)
	f := openFS(t, path, Options{})
	p := make([]byte, 5000)
	f.ReadAt(p, 1) // warm the pool
	if allocs := testing.AllocsPerRun(100, func() { f.ReadAt(p, 1) }); allocs != 0 {
		t.Errorf("ReadAt allocates %v times per call; want 0", allocs)
	}
}

func TestReadAtAlignedTransfers(t *testing.T) {
	path, _ := writeRandomFile(t, diskDir(t), "000001.sst", fileSize, 5)
	var stats Stats
	f := openFS(t, path, Options{Stats: &stats})
	// 100 bytes straddling a page boundary cost two pages from the device.
	if _, err := f.ReadAt(make([]byte, 100), 4096-50); err != nil {
		t.Fatal(err)
	}
	if c := stats.Snapshot(); c.ReadOps != 1 || c.ReadBytes != 2*4096 {
		t.Errorf("counters %+v; want 1 read of 8192 bytes", c)
	}
}

// TestReadAtEINVALFallsBack simulates a file system that accepts O_DIRECT at
// open and refuses it at read: the file must switch to buffered reads once,
// clear O_DIRECT, and still return the right bytes.
func TestReadAtEINVALFallsBack(t *testing.T) {
	path, data := writeRandomFile(t, diskDir(t), "000001.sst", fileSize, 6)
	if err := DropCache(path); err != nil {
		t.Fatal(err)
	}
	var stats Stats
	f := openFS(t, path, Options{Stats: &stats})
	defer func(p func(int, []byte, int64) (int, error)) { directPread = p }(directPread)
	directPread = func(int, []byte, int64) (int, error) { return 0, unix.EINVAL }
	for _, c := range readCases {
		want, wantErr := wantRead(data, c.off, c.n)
		p := make([]byte, c.n)
		n, err := f.ReadAt(p, int64(c.off))
		if n != len(want) || err != wantErr || !bytes.Equal(p[:n], want) {
			t.Errorf("ReadAt(len %d, off %d) = %d, %v; want %d, %v", c.n, c.off, n, err, len(want), wantErr)
		}
	}
	c := stats.Snapshot()
	if c.DirectFiles != 1 || c.BufferedFallbacks != 1 || c.ReadOps != 0 || c.FallbackReadOps == 0 {
		t.Errorf("counters %+v: want 1 direct open, 1 fallback, only buffered reads", c)
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_DIRECT != 0 {
		t.Errorf("fd flags %#x, %v: want O_DIRECT cleared", fl, err)
	}
	// Buffered reads drop what they read.
	if r, n := residency(t, path); r != 0 {
		t.Errorf("after buffered reads %d/%d pages resident; want 0 (DONTNEED after each read)", r, n)
	}
}

func TestDirectFileIsReadOnly(t *testing.T) {
	path, _ := writeRandomFile(t, diskDir(t), "000001.sst", 10, 7)
	f := openFS(t, path, Options{})
	if _, err := f.Write([]byte("x")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Write error = %v; want ErrReadOnly", err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, ErrReadOnly) {
		t.Errorf("WriteAt error = %v; want ErrReadOnly", err)
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != 10 {
		t.Fatalf("Stat = %v, %v; want size 10", fi, err)
	}
	want, err := vfs.Default.Stat(path)
	if err != nil || fi.DeviceID() != want.DeviceID() {
		t.Errorf("DeviceID = %v; want %v (%v)", fi.DeviceID(), want.DeviceID(), err)
	}
}
