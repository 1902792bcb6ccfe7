//go:build !linux

package directio

import "github.com/cockroachdb/pebble/v2/vfs"

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
