// Package filecopy puts files into checkpoints and restores: a hard link
// where the file system allows one, else a byte copy, synced. A file may
// be linked only if nobody ever changes it in place, which holds for every
// file Shoal links: sealed segment files, Pebble's sstables, tree files
// and vectors.dat are written once and then only read or deleted.
package filecopy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/shoaldb/shoal/internal/directio"
)

// LinkOrCopy makes dst, which must not exist, a hard link to src, or a
// synced copy of it where a link cannot be made (src on another file
// system, a file system without hard links, too many links). It reports
// whether it linked. A link is durable once dst's directory is synced
// (SyncDir); a copy's bytes are synced here.
func LinkOrCopy(src, dst string) (linked bool, err error) {
	err = os.Link(src, dst)
	if err == nil {
		return true, nil
	}
	if !linkUnsupported(err) {
		return false, err
	}
	f, err := os.Open(src)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	return false, CopyN(f, st.Size(), dst)
}

// linkUnsupported reports whether a failed link(2) means that this link
// cannot be made here, rather than that something is wrong.
func linkUnsupported(err error) bool {
	for _, e := range []error{syscall.EXDEV, syscall.EPERM, syscall.EMLINK, syscall.ENOTSUP, syscall.EOPNOTSUPP} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// CopyN writes the first n bytes of src (from offset 0; it moves src's
// offset) to the new file
// dst, created with O_EXCL, syncs it and drops its pages from the page
// cache (a copy of a large file must not push out what searches use).
// The kernel copies in place where it can (copy_file_range).
func CopyN(src *os.File, n int64, dst string) (err error) {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return err
	}
	got, err := io.Copy(out, &io.LimitedReader{R: src, N: n})
	if err != nil {
		return fmt.Errorf("copy %s: %w", src.Name(), err)
	}
	if got != n {
		return fmt.Errorf("copy %s: %d bytes, want %d (the file is shorter)", src.Name(), got, n)
	}
	if err := out.Sync(); err != nil {
		return err
	}
	_ = directio.DropCache(dst)
	return nil
}

// SyncDir makes dir's entries (new names, links, renames) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// WriteAtomic replaces the file at path with what write writes: into a
// temporary file beside it, synced, renamed over path, and the directory
// synced, so that after a crash path holds the old content or the new,
// whole. The temporary file is removed on error.
func WriteAtomic(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = SyncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
