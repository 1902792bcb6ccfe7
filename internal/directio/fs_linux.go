//go:build linux

package directio

import (
	"errors"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// directFS is the vfs.FS returned by NewFSWithOptions on Linux. Only Open
// differs from the embedded base FS. It holds no mutable state of its own
// (Stats is atomic), so it is safe for concurrent use.
type directFS struct {
	vfs.FS
	opts Options
}

var _ vfs.FS = (*directFS)(nil)

func newDirectFS(base vfs.FS, o Options) vfs.FS {
	return &directFS{FS: base, opts: o}
}

// errNoDirectIO means the file cannot be read with real direct I/O and is
// to be opened through the page cache instead.
var errNoDirectIO = errors.New("directio: no direct I/O for this file")

// Open implements vfs.FS. Matched files are opened with O_DIRECT, or through
// the base FS when direct I/O is refused; opts are applied either way. The
// options Pebble passes (RandomReadsOption, SequentialReadsOption) only
// fadvise the descriptor, which does nothing to direct reads.
func (fs *directFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	if !fs.opts.Match(name) {
		return fs.FS.Open(name, opts...)
	}
	f, err := fs.openDirect(name)
	if errors.Is(err, errNoDirectIO) {
		return fs.openFallback(name, opts)
	}
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o.Apply(f)
	}
	return f, nil
}

// Unwrap implements vfs.FS.
func (fs *directFS) Unwrap() vfs.FS { return fs.FS }

func (fs *directFS) openDirect(name string) (*directFile, error) {
	osf, err := os.OpenFile(name, os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EINVAL) {
		return nil, errNoDirectIO
	}
	if err != nil {
		return nil, err
	}
	fd := int(osf.Fd())
	align, err := dioAlignment(fd, fs.opts.Alignment)
	if err != nil {
		_ = osf.Close()
		return nil, err
	}
	// vfs.FileInfo.DeviceID can only be built by package vfs, so take it
	// from base once; a file does not change devices.
	fi, err := fs.FS.Stat(name)
	if err != nil {
		_ = osf.Close()
		return nil, err
	}
	fs.opts.Stats.directFiles.Add(1)
	return &directFile{
		file:    osf,
		fd:      fd,
		name:    name,
		align:   int64(align),
		maxRead: int64(max(fs.opts.MaxReadSize, align)),
		dev:     fi.DeviceID(),
		stats:   fs.opts.Stats,
	}, nil
}

func (fs *directFS) openFallback(name string, opts []vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.Open(name, opts...)
	if err != nil {
		return nil, err
	}
	fs.opts.Stats.bufferedFallbacks.Add(1)
	return newFallbackFile(f, fs.opts.Stats), nil
}

// dioAlignment returns the alignment for direct reads of the open file fd:
// at least minAlign, more when statx reports that the file system needs more. It
// returns errNoDirectIO when the file system cannot do real direct I/O.
func dioAlignment(fd, minAlign int) (int, error) {
	// tmpfs and ramfs accept O_DIRECT (Linux 6.6+) and serve it from the
	// page cache, which is where their data lives: nothing to bypass, and
	// counting such files as direct would mislead the benchmarks.
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err == nil {
		switch sfs.Type {
		case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC, unix.HUGETLBFS_MAGIC:
			return 0, errNoDirectIO
		}
	}
	// STATX_DIOALIGN (Linux 6.1+): a file system that fills it in reports 0
	// when this file cannot do direct I/O. Older kernels leave the mask bit
	// clear; then minAlign, a page, is safe on the usual 512 B / 4 KiB sectors.
	var stx unix.Statx_t
	err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &stx)
	if err != nil || stx.Mask&unix.STATX_DIOALIGN == 0 {
		return minAlign, nil
	}
	if stx.Dio_offset_align == 0 {
		return 0, errNoDirectIO
	}
	align := max(minAlign, int(stx.Dio_offset_align), int(stx.Dio_mem_align))
	if !isPow2(align) {
		return 0, errNoDirectIO
	}
	return align, nil
}
