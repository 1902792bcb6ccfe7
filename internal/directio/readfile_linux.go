//go:build linux

package directio

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// ReadFile is a file opened for aligned positioned reads, with O_DIRECT
// where the file system supports real direct I/O and through the page cache
// (pages dropped after each read, best effort) where it does not. Callers
// read whole aligned ranges into aligned buffers (AlignedBuffer), either
// with ReadAt or by queueing Fd() reads on a Batch. Safe for concurrent use.
type ReadFile struct {
	f      *os.File
	fd     int
	direct bool
	align  int
	stats  *Stats
	keep   bool // buffered on purpose: leave read pages cached
}

// OpenReadFile opens path for reading. stats may be nil.
func OpenReadFile(path string, stats *Stats) (*ReadFile, error) {
	if stats == nil {
		stats = new(Stats)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err == nil {
		align, aerr := dioAlignment(int(f.Fd()), poolAlign)
		if aerr == nil {
			stats.directFiles.Add(1)
			return &ReadFile{f: f, fd: int(f.Fd()), direct: true, align: align, stats: stats}, nil
		}
		_ = f.Close()
		if !errors.Is(aerr, errNoDirectIO) {
			return nil, aerr
		}
	} else if !errors.Is(err, unix.EINVAL) {
		return nil, err
	}
	f, err = os.Open(path)
	if err != nil {
		return nil, err
	}
	stats.bufferedFallbacks.Add(1)
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
	return &ReadFile{f: f, fd: int(f.Fd()), align: poolAlign, stats: stats}, nil
}

// Fd returns the descriptor, for Batch.Add.
func (r *ReadFile) Fd() int { return r.fd }

// Direct reports whether reads bypass the page cache.
func (r *ReadFile) Direct() bool { return r.direct }

// Align returns the alignment reads must respect (offset, length, buffer).
func (r *ReadFile) Align() int { return r.align }

// ReadAt reads len(p) bytes at off; for a direct file p, len(p) and off
// must be multiples of Align. It returns the bytes read (short at EOF).
func (r *ReadFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := pread(r.fd, p, off)
	if err != nil {
		return n, err
	}
	if r.direct {
		r.stats.readOps.Add(1)
		r.stats.readBytes.Add(int64(n))
	} else {
		r.stats.fallbackReadOps.Add(1)
		r.stats.fallbackReadBytes.Add(int64(n))
		if !r.keep {
			dropPages(r.fd, off, int64(n))
		}
	}
	return n, nil
}

// AfterBatchRead does the bookkeeping of a read of n bytes at off that
// went through a Batch: for a buffered file it drops the pages again.
func (r *ReadFile) AfterBatchRead(off int64, n int) {
	if !r.direct && !r.keep {
		dropPages(r.fd, off, int64(n))
	}
}

// Close closes the file.
func (r *ReadFile) Close() error { return r.f.Close() }

// AlignedBuffer returns size bytes (rounded up to the alignment) whose
// address is a multiple of align, a power of two.
func AlignedBuffer(size, align int) []byte {
	return alignedAlloc(int(roundUp(int64(size), int64(align))), align)
}

// OpenBufferedReadFile opens path for reads through the OS page cache,
// keeping what it reads cached: the baseline that direct I/O is measured
// against.
func OpenBufferedReadFile(path string, stats *Stats) (*ReadFile, error) {
	if stats == nil {
		stats = new(Stats)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &ReadFile{f: f, fd: int(f.Fd()), align: poolAlign, stats: stats, keep: true}, nil
}
