//go:build !linux

package directio

import (
	"io"
	"os"
	"unsafe"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func newDirectFS(base vfs.FS, _ Options) vfs.FS { return base }

// DropCache asks the kernel to evict the file's pages from the page cache.
// It is implemented on Linux only.
func DropCache(path string) error { return ErrUnsupported }

// DropCacheDir calls DropCache on each regular file in dir that match
// selects. It is implemented on Linux only.
func DropCacheDir(dir string, match func(name string) bool) error { return ErrUnsupported }

// Mincore reports how many of the file's pages are in the page cache. It is
// implemented on Linux only.
func Mincore(path string) (residentPages, totalPages int64, err error) {
	return 0, 0, ErrUnsupported
}

// PageCacheBytes returns the size of the OS page cache. It is implemented on
// Linux only.
func PageCacheBytes() (int64, error) { return 0, ErrUnsupported }

// Batch is not available outside Linux.
type Batch struct{}

// Completion is a finished read of a Batch.
type Completion struct {
	Tag uint64
	N   int
	Err error
}

// NewBatch returns ErrUnsupported outside Linux.
func NewBatch(max int, stats *Stats) (*Batch, error) { return nil, ErrUnsupported }

// Add is unsupported outside Linux.
func (b *Batch) Add(fd int, buf []byte, off int64, tag uint64) error { return ErrUnsupported }

// Submit is unsupported outside Linux.
func (b *Batch) Submit() error { return ErrUnsupported }

// Pending is 0 outside Linux.
func (b *Batch) Pending() int { return 0 }

// Wait is unsupported outside Linux.
func (b *Batch) Wait(min int) ([]Completion, error) { return nil, ErrUnsupported }

// Close does nothing outside Linux.
func (b *Batch) Close() error { return nil }

// ReadFile is a file opened for positioned reads; outside Linux it always
// goes through the OS cache.
type ReadFile struct {
	f *os.File
}

// OpenReadFile opens path for reading.
func OpenReadFile(path string, stats *Stats) (*ReadFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &ReadFile{f: f}, nil
}

// Fd returns the descriptor.
func (r *ReadFile) Fd() int { return int(r.f.Fd()) }

// Direct is false outside Linux.
func (r *ReadFile) Direct() bool { return false }

// Align returns the alignment reads use.
func (r *ReadFile) Align() int { return 4096 }

// ReadAt reads len(p) bytes at off.
func (r *ReadFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.f.ReadAt(p, off)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// AfterBatchRead does nothing outside Linux.
func (r *ReadFile) AfterBatchRead(off int64, n int) {}

// Close closes the file.
func (r *ReadFile) Close() error { return r.f.Close() }

// AlignedBuffer returns size bytes (rounded up) aligned to align.
func AlignedBuffer(size, align int) []byte {
	b := make([]byte, size+align)
	off := align - int(uintptr(unsafe.Pointer(&b[0]))%uintptr(align))
	if off == align {
		off = 0
	}
	return b[off : off+size]
}

// OpenBufferedReadFile opens path for reads through the OS cache.
func OpenBufferedReadFile(path string, stats *Stats) (*ReadFile, error) {
	return OpenReadFile(path, stats)
}
