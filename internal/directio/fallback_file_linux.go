//go:build linux

package directio

import (
	"io"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// fallbackFile is a matched file that the base FS opened with buffered I/O
// because direct I/O was refused. Its reads are followed by
// fadvise(DONTNEED) on the pages they touched, so that the page cache does
// not keep them (best effort: a no-op where the page cache is the storage,
// as on tmpfs). Its thread-safety is the base file's for ReadAt; Read is
// serialised by mu.
type fallbackFile struct {
	vfs.File
	fd    int // -1 when the base file has no descriptor
	stats *Stats

	mu struct {
		sync.Mutex
		off int64 // position of Read; ReadAt neither uses nor moves it
	}
}

var _ vfs.File = (*fallbackFile)(nil)

func newFallbackFile(f vfs.File, stats *Stats) *fallbackFile {
	ff := &fallbackFile{File: f, fd: -1, stats: stats}
	if fd := f.Fd(); fd != vfs.InvalidFd {
		ff.fd = int(fd)
		// Override vfs.SequentialReadsOption: readahead would cache pages
		// beyond the ranges that ReadAt drops.
		_ = unix.Fadvise(ff.fd, 0, 0, unix.FADV_RANDOM)
	}
	return ff
}

// ReadAt implements io.ReaderAt through the base file, then drops the pages
// it read.
func (f *fallbackFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.stats.fallbackReadOps.Add(1)
	f.stats.fallbackReadBytes.Add(int64(n))
	if f.fd >= 0 {
		dropPages(f.fd, off, int64(n))
	}
	return n, err
}

// Read implements io.Reader on a private offset, through ReadAt.
func (f *fallbackFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.ReadAt(p, f.mu.off)
	f.mu.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

// Prefetch implements vfs.File. It does nothing: readahead(2) would fill
// the page cache.
func (f *fallbackFile) Prefetch(offset, length int64) error { return nil }
