//go:build linux

package directio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DropCache asks the kernel to evict the file's pages from the page cache
// (posix_fadvise DONTNEED on the whole file). It first syncs the file,
// because dirty pages cannot be dropped. Call it after writing or ingesting
// files that will be read with direct I/O, so that a measurement starts with
// a clean cache. Pages mapped or locked by a process stay.
func DropCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("directio: drop cache: %w", err)
	}
	defer f.Close()
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("directio: drop cache: fdatasync %s: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("directio: drop cache: fadvise %s: %w", path, err)
	}
	return nil
}

// DropCacheDir calls DropCache on each regular file directly in dir whose
// name match selects (nil means DefaultMatch), and returns the errors joined.
func DropCacheDir(dir string, match func(name string) bool) error {
	if match == nil {
		match = DefaultMatch
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("directio: drop cache: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if e.Type().IsRegular() && match(e.Name()) {
			errs = append(errs, DropCache(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// Mincore reports how many of the file's pages (of os.Getpagesize() bytes)
// are in the page cache, by mapping the file and calling mincore(2); neither
// step reads the file. The kernel reports page-cache state only to the
// file's owner or to a process that may write the file (otherwise it claims
// every page resident), so Mincore returns an error wrapping
// os.ErrPermission in that case.
func Mincore(path string) (residentPages, totalPages int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("directio: mincore: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("directio: mincore: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() &&
		unix.Access(path, unix.W_OK) != nil {
		return 0, 0, fmt.Errorf("directio: mincore %s: residency is reported only to the owner or a writer: %w",
			path, os.ErrPermission)
	}
	size := fi.Size()
	ps := int64(os.Getpagesize())
	totalPages = (size + ps - 1) / ps
	if size == 0 {
		return 0, 0, nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, 0, fmt.Errorf("directio: mincore: mmap %s: %w", path, err)
	}
	defer unix.Munmap(data)
	vec := make([]byte, totalPages)
	if err := mincore(data, vec); err != nil {
		return 0, 0, fmt.Errorf("directio: mincore %s: %w", path, err)
	}
	for _, v := range vec {
		residentPages += int64(v & 1)
	}
	return residentPages, totalPages, nil
}

// mincore is mincore(2), which x/sys/unix does not wrap on Linux.
func mincore(b, vec []byte) error {
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))),
		uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if e != 0 {
		return e
	}
	return nil
}

// PageCacheBytes returns the size of the OS page cache, the "Cached:" line
// of /proc/meminfo (which includes tmpfs and shared memory).
func PageCacheBytes() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("directio: %w", err)
	}
	return parseMeminfoCached(bytes.NewReader(b))
}

// parseMeminfoCached returns the "Cached:" value of /proc/meminfo, in bytes.
func parseMeminfoCached(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 2 || string(fields[0]) != "Cached:" {
			continue
		}
		v, err := strconv.ParseInt(string(fields[1]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("directio: meminfo Cached: %w", err)
		}
		if len(fields) >= 3 && string(fields[2]) == "kB" {
			v *= 1024
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("directio: meminfo: %w", err)
	}
	return 0, errors.New("directio: meminfo has no Cached: line")
}
