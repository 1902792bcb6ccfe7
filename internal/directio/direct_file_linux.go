//go:build linux

package directio

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// directFile is a file opened O_RDONLY|O_DIRECT. ReadAt is safe for
// concurrent use (pread, no shared offset); Read is serialised by mu. As for
// any vfs.File, no method may be called during or after Close.
type directFile struct {
	file    *os.File // owns fd
	fd      int
	name    string
	align   int64 // offset, length and buffer alignment of each pread
	maxRead int64 // largest pread; a multiple of align
	dev     vfs.DeviceID
	stats   *Stats

	// buffered is set once a direct pread failed with EINVAL and O_DIRECT
	// was cleared on fd: some file systems accept the flag at open(2) and
	// refuse it at read(2). Reads then go through the page cache.
	buffered atomic.Bool

	mu struct {
		sync.Mutex
		off int64 // position of Read; ReadAt neither uses nor moves it
	}
}

var _ vfs.File = (*directFile)(nil)

var errNegativeOffset = errors.New("negative offset")

// directPread is the pread of direct reads; tests replace it to simulate a
// file system that refuses O_DIRECT at read time.
var directPread = pread

// ReadAt implements io.ReaderAt: it returns len(p) bytes and a nil error, or
// fewer bytes and an error, io.EOF when the file ends before p is full.
//
// Each pread covers [off, off+len(p)) widened to the alignment, at most
// maxRead bytes, into a pooled bounce buffer; the wanted bytes are copied
// out. A file whose size is not aligned ends in a short pread, which is how
// EOF shows; a read that starts at or past EOF costs one pread returning
// nothing useful.
func (f *directFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &os.PathError{Op: "readat", Path: f.name, Err: errNegativeOffset}
	}
	if f.buffered.Load() {
		return f.readBuffered(p, off)
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		start := pos &^ (f.align - 1)
		skip := int(pos - start)
		span := min(roundUp(int64(skip+len(p)-n), f.align), f.maxRead)
		b := getBounce(int(span), int(f.align))
		m, err := directPread(f.fd, b.b[:span], start)
		if err != nil {
			putBounce(b)
			if errors.Is(err, unix.EINVAL) && f.switchToBuffered() {
				nn, err := f.readBuffered(p[n:], pos)
				return n + nn, err
			}
			return n, &os.PathError{Op: "pread", Path: f.name, Err: err}
		}
		f.stats.readOps.Add(1)
		f.stats.readBytes.Add(int64(m))
		if m <= skip {
			putBounce(b)
			return n, io.EOF
		}
		n += copy(p[n:], b.b[skip:m])
		putBounce(b)
	}
	return n, nil
}

// readBuffered reads through the page cache and then drops the pages it
// touched.
func (f *directFile) readBuffered(p []byte, off int64) (int, error) {
	n := 0
	var err error
	for n < len(p) {
		var m int
		m, err = pread(f.fd, p[n:], off+int64(n))
		if err != nil {
			err = &os.PathError{Op: "pread", Path: f.name, Err: err}
			break
		}
		if m == 0 {
			err = io.EOF
			break
		}
		n += m
	}
	f.stats.fallbackReadOps.Add(1)
	f.stats.fallbackReadBytes.Add(int64(n))
	dropPages(f.fd, off, int64(n))
	return n, err
}

// switchToBuffered clears O_DIRECT on fd after the file system refused a
// direct read. It reports whether reads can go on through the page cache.
func (f *directFile) switchToBuffered() bool {
	fl, err := unix.FcntlInt(uintptr(f.fd), unix.F_GETFL, 0)
	if err != nil {
		return false
	}
	if fl&unix.O_DIRECT != 0 {
		if _, err := unix.FcntlInt(uintptr(f.fd), unix.F_SETFL, fl&^unix.O_DIRECT); err != nil {
			return false
		}
	}
	if f.buffered.CompareAndSwap(false, true) {
		f.stats.bufferedFallbacks.Add(1)
		// Readahead would cache pages that dropPages never sees.
		_ = unix.Fadvise(f.fd, 0, 0, unix.FADV_RANDOM)
	}
	return true
}

// Read implements io.Reader on a private offset, with direct reads.
func (f *directFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.ReadAt(p, f.mu.off)
	f.mu.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil // as os.File: the next Read reports EOF
	}
	return n, err
}

// Prefetch implements vfs.File. It does nothing: readahead(2) would load the
// range into the page cache, which is what direct I/O avoids.
func (f *directFile) Prefetch(offset, length int64) error { return nil }

// Fd implements vfs.File and returns the O_DIRECT descriptor. Pebble uses it
// on this path only to fadvise RANDOM or SEQUENTIAL (vfs.RandomReadsOption,
// vfs.SequentialReadsOption), which direct reads ignore.
func (f *directFile) Fd() uintptr { return uintptr(f.fd) }

// Stat implements vfs.File.
func (f *directFile) Stat() (vfs.FileInfo, error) {
	fi, err := f.file.Stat()
	if err != nil {
		return nil, err
	}
	return fileInfo{FileInfo: fi, dev: f.dev}, nil
}

// Close implements vfs.File.
func (f *directFile) Close() error { return f.file.Close() }

// Write implements vfs.File; the file is read-only.
func (f *directFile) Write(p []byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: f.name, Err: ErrReadOnly}
}

// WriteAt implements vfs.File; the file is read-only.
func (f *directFile) WriteAt(p []byte, off int64) (int, error) {
	return 0, &os.PathError{Op: "writeat", Path: f.name, Err: ErrReadOnly}
}

// Preallocate implements vfs.File; it does nothing on a read-only file.
func (f *directFile) Preallocate(offset, length int64) error { return nil }

// Sync implements vfs.File.
func (f *directFile) Sync() error { return f.file.Sync() }

// SyncData implements vfs.File.
func (f *directFile) SyncData() error { return unix.Fdatasync(f.fd) }

// SyncTo implements vfs.File with a full fdatasync.
func (f *directFile) SyncTo(length int64) (fullSync bool, err error) {
	if err := unix.Fdatasync(f.fd); err != nil {
		return false, err
	}
	return true, nil
}

// fileInfo adds the device ID that vfs.FileInfo requires to an
// os.FileInfo.
type fileInfo struct {
	os.FileInfo
	dev vfs.DeviceID
}

// DeviceID implements vfs.FileInfo.
func (fi fileInfo) DeviceID() vfs.DeviceID { return fi.dev }

// pread is unix.Pread retried on EINTR, with n = 0 on error.
func pread(fd int, p []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, p, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// dropPages asks the kernel to evict the pages covering [off, off+n) from
// the page cache, best effort. The range is widened to whole pages because
// fadvise keeps partially covered pages.
func dropPages(fd int, off, n int64) {
	if n <= 0 {
		return
	}
	ps := int64(os.Getpagesize())
	start := off &^ (ps - 1)
	_ = unix.Fadvise(fd, start, roundUp(off+n, ps)-start, unix.FADV_DONTNEED)
}

// roundUp rounds n up to a multiple of align, a power of two.
func roundUp(n, align int64) int64 { return (n + align - 1) &^ (align - 1) }
