package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// File access under the snapshot directory (Options.SnapshotDir). Every
// path a request names is opened beneath a descriptor of that directory
// with openat2(RESOLVE_BENEATH): "..", an absolute symbolic link, or a
// relative one that climbs out make the kernel refuse it (EXDEV), so a
// link placed in the snapshot directory cannot lead a create, restore or
// clean-up outside it; links that stay inside work. Directories and files
// are then created, renamed and removed relative to descriptors opened
// that way, never by path. On a kernel without openat2 (before Linux
// 5.6) each component is opened in turn with O_NOFOLLOW, which refuses
// every symbolic link.

// snapshotTempPrefix starts the name of a snapshot being written; a
// request's directory may not use it (no component may start with a
// dot), and Open removes what a crash left of one.
const snapshotTempPrefix = ".tmp-snapshot-"

// Bounds of a request's snapshot directory name.
const (
	maxSnapshotName      = 1024 // bytes, the whole relative path
	maxSnapshotComponent = 255  // bytes, one component (NAME_MAX)
)

// errOutside reports a path that leads outside the snapshot directory.
var errOutside = errors.New("server: path leads outside the snapshot directory")

// checkSnapshotName checks a request's snapshot directory: a relative
// slash-separated path of at most maxSnapshotName bytes whose components
// have 1 to 255 bytes, do not start with a dot and hold no control
// characters. It returns the path cleaned.
func checkSnapshotName(name string) (string, error) {
	bad := func(why string) error {
		return status.Errorf(codes.InvalidArgument, "directory %s: %s", clip(name), why)
	}
	switch {
	case name == "":
		return "", status.Error(codes.InvalidArgument, "directory is empty")
	case len(name) > maxSnapshotName:
		return "", bad(fmt.Sprintf("%d bytes, at most %d", len(name), maxSnapshotName))
	case !utf8.ValidString(name):
		return "", bad("not UTF-8")
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return "", bad("holds a control character")
	case !filepath.IsLocal(name):
		return "", bad("want a relative path inside the server's snapshot directory (no .., not absolute)")
	}
	clean := path.Clean(name)
	for _, c := range strings.Split(clean, "/") {
		switch {
		case len(c) > maxSnapshotComponent:
			return "", bad(fmt.Sprintf("a component of %d bytes, at most %d", len(c), maxSnapshotComponent))
		case strings.HasPrefix(c, "."):
			return "", bad(fmt.Sprintf("component %s starts with a dot", clip(c)))
		}
	}
	return clean, nil
}

// restoreSnapshotName checks the directory a RestoreSnapshot names: a
// relative path in the snapshot directory (what CreateSnapshot answers),
// or an absolute path that lies in it, as CreateSnapshot answered before
// it answered relative paths. An absolute path is made relative to the
// snapshot directory (as given, or with its symbolic links resolved) by
// its text alone, then checked as a relative one: what it names is
// still opened beneath the snapshot directory (openBeneath), so a link
// in it cannot lead out.
func (s *Server) restoreSnapshotName(dir string) (string, error) {
	if !filepath.IsAbs(dir) || len(dir) > maxSnapshotName || !utf8.ValidString(dir) {
		return checkSnapshotName(dir)
	}
	clean := filepath.Clean(dir)
	roots := []string{s.opts.SnapshotDir}
	if abs, err := filepath.Abs(s.opts.SnapshotDir); err == nil {
		roots = append(roots, abs)
	}
	if real, err := filepath.EvalSymlinks(s.opts.SnapshotDir); err == nil {
		roots = append(roots, real)
	}
	for _, root := range roots {
		if rel, err := filepath.Rel(filepath.Clean(root), clean); err == nil && rel != "." && filepath.IsLocal(rel) {
			return checkSnapshotName(filepath.ToSlash(rel))
		}
	}
	return "", status.Errorf(codes.InvalidArgument, "directory %s: an absolute path outside the server's snapshot directory; name a snapshot by its path relative to that directory, as CreateSnapshot answers it", clip(dir))
}

// openSnapshotRoot opens the snapshot directory, creating it if missing.
func (s *Server) openSnapshotRoot() (*os.File, error) {
	if err := os.MkdirAll(s.opts.SnapshotDir, 0o755); err != nil {
		return nil, internal("snapshot directory: %v", err)
	}
	f, err := os.OpenFile(s.opts.SnapshotDir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, internal("snapshot directory: %v", err)
	}
	return f, nil
}

// haveOpenat2 reports whether the kernel has openat2.
var haveOpenat2 = sync.OnceValue(func() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC})
	if err == nil {
		unix.Close(fd)
	}
	return !errors.Is(err, unix.ENOSYS)
})

// openBeneath opens name, a clean relative slash-separated path, beneath
// the directory dir. A path that leads outside dir is errOutside.
func openBeneath(dir *os.File, name string, flags int, perm uint32) (*os.File, error) {
	var fd int
	var err error
	if haveOpenat2() {
		fd, err = openat2Beneath(int(dir.Fd()), name, flags, perm)
	} else {
		fd, err = openNoFollow(int(dir.Fd()), name, flags, perm)
	}
	if err != nil {
		if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) {
			err = errOutside
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir.Name(), name)), nil
}

// openat2Beneath is openat2(dirfd, name, RESOLVE_BENEATH); EXDEV for a
// path that leads outside.
func openat2Beneath(dirfd int, name string, flags int, perm uint32) (int, error) {
	how := &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Mode:    uint64(perm),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(dirfd, name, how)
		// EAGAIN: a rename or mount raced with the resolution.
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// openNoFollow opens name beneath dirfd one component at a time with
// O_NOFOLLOW: any symbolic link is ELOOP.
func openNoFollow(dirfd int, name string, flags int, perm uint32) (int, error) {
	parts := strings.Split(name, "/")
	cur := dirfd
	defer func() {
		if cur != dirfd {
			unix.Close(cur)
		}
	}()
	for _, p := range parts[:len(parts)-1] {
		if p == ".." {
			return -1, unix.EXDEV
		}
		fd, err := unix.Openat(cur, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, linkError(cur, p, err)
		}
		if cur != dirfd {
			unix.Close(cur)
		}
		cur = fd
	}
	last := parts[len(parts)-1]
	if last == ".." {
		return -1, unix.EXDEV
	}
	fd, err := unix.Openat(cur, last, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return -1, linkError(cur, last, err)
	}
	return fd, nil
}

// linkError is ELOOP for an O_NOFOLLOW open of name in dirfd that failed
// on a symbolic link: with O_DIRECTORY the kernel says ENOTDIR.
func linkError(dirfd int, name string, err error) error {
	var st unix.Stat_t
	if errors.Is(err, unix.ENOTDIR) && unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.ELOOP
	}
	return err
}

// mkdirAllBeneath creates the directory name beneath dir and any
// missing parents, each one relative to its parent's descriptor, and
// returns it open.
func mkdirAllBeneath(dir *os.File, name string) (*os.File, error) {
	if name == "." {
		return openBeneath(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	}
	cur, err := openBeneath(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(name, "/")
	for i, p := range parts {
		err := unix.Mkdirat(int(cur.Fd()), p, 0o755)
		cur.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, &fs.PathError{Op: "mkdir", Path: path.Join(parts[:i+1]...), Err: err}
		}
		// From dir, not from cur: a link in it may point anywhere
		// inside dir, and the check is against dir.
		if cur, err = openBeneath(dir, path.Join(parts[:i+1]...), unix.O_RDONLY|unix.O_DIRECTORY, 0); err != nil {
			return nil, err
		}
	}
	return cur, nil
}

// mkdirTempBeneath creates a new temporary snapshot directory in dir and
// returns its name and the directory, open.
func mkdirTempBeneath(dir *os.File) (string, *os.File, error) {
	for {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", nil, err
		}
		name := snapshotTempPrefix + hex.EncodeToString(b[:])
		err := unix.Mkdirat(int(dir.Fd()), name, 0o755)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", nil, &fs.PathError{Op: "mkdir", Path: name, Err: err}
		}
		f, err := openBeneath(dir, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		return name, f, err
	}
}

// removeDirBeneath removes name, a directory in dir (a snapshot being
// written), with everything in it: files, and directories down to a few
// levels (a snapshot's checkpoint and the checkpoint's temporary
// directory). Symbolic links are removed, never followed.
func removeDirBeneath(dir *os.File, name string) error {
	return removeTreeBeneath(dir, name, 4)
}

// removeTreeBeneath is removeDirBeneath with at most depth levels of
// directories below name.
func removeTreeBeneath(dir *os.File, name string, depth int) error {
	d, err := openBeneath(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	for _, n := range names {
		var st unix.Stat_t
		e := unix.Fstatat(int(d.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW)
		switch {
		case e == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR && depth > 0:
			e = removeTreeBeneath(d, n, depth-1)
		case e == nil:
			e = unix.Unlinkat(int(d.Fd()), n, 0)
		}
		if e != nil && !errors.Is(e, unix.ENOENT) {
			err = errors.Join(err, &fs.PathError{Op: "remove", Path: path.Join(name, n), Err: e})
		}
	}
	d.Close()
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(int(dir.Fd()), name, unix.AT_REMOVEDIR); err != nil {
		return &fs.PathError{Op: "rmdir", Path: name, Err: err}
	}
	return nil
}

// existsBeneath reports whether dir holds an entry name (a link
// included, not followed).
func existsBeneath(dir *os.File, name string) (bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, &fs.PathError{Op: "stat", Path: name, Err: err}
}

// readFileBeneath reads the regular file name beneath dir, which must
// have at most limit bytes. A file of another size than want (if want
// >= 0) is errSizeDiffers, without reading it.
func readFileBeneath(dir *os.File, name string, limit, want int64) ([]byte, error) {
	// O_NONBLOCK: a FIFO planted in its place must not block the call.
	f, err := openBeneath(dir, name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !st.Mode().IsRegular():
		return nil, &fs.PathError{Op: "read", Path: name, Err: errNotRegular}
	case want >= 0 && st.Size() != want:
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: %d bytes, want %d", errSizeDiffers, st.Size(), want)}
	case st.Size() > limit:
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: %d bytes, at most %d", errTooLarge, st.Size(), limit)}
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}

var (
	errNotRegular  = errors.New("not a regular file")
	errSizeDiffers = errors.New("size differs from the manifest")
	errTooLarge    = errors.New("file too large")
)

// writeFileSyncBeneath creates the file name in dir (which must not hold
// it), writes b and syncs it.
func writeFileSyncBeneath(dir *os.File, name string, b []byte) error {
	f, err := openBeneath(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// snapshotFSError turns an error of the functions above, met on the
// request's snapshot directory name, into a status.
func snapshotFSError(name string, err error) error {
	switch {
	case errors.Is(err, errOutside):
		return status.Errorf(codes.PermissionDenied, "directory %s leads outside the snapshot directory (through a symbolic link)", clip(name))
	case errors.Is(err, fs.ErrNotExist):
		return status.Errorf(codes.NotFound, "no snapshot directory %s", clip(name))
	case errors.Is(err, unix.ENOTDIR):
		return status.Errorf(codes.InvalidArgument, "directory %s: a component of it is not a directory", clip(name))
	case errors.Is(err, unix.ENAMETOOLONG):
		return status.Errorf(codes.InvalidArgument, "directory %s: name too long for the file system", clip(name))
	}
	return internal("snapshot directory %s: %v", clip(name), err)
}

// cleanSnapshotTemps removes the temporary snapshot directories that a
// crash left under the snapshot directory. It does not follow symbolic
// links, nor descend into complete snapshots. What it cannot remove it
// logs and leaves: a server starts whatever lies there.
func (s *Server) cleanSnapshotTemps() {
	root, err := s.openSnapshotRoot()
	if err != nil {
		s.log.Warn("snapshot directory", "err", err)
		return
	}
	defer root.Close()
	var temps []string
	err = fs.WalkDir(os.DirFS(s.opts.SnapshotDir), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case !d.IsDir(): // files, and links (not followed)
			return nil
		case strings.HasPrefix(d.Name(), snapshotTempPrefix):
			temps = append(temps, p)
			return fs.SkipDir
		}
		if _, err := os.Lstat(filepath.Join(s.opts.SnapshotDir, p, snapshotManifest)); err == nil {
			return fs.SkipDir // a complete snapshot
		}
		return nil
	})
	if err != nil {
		s.log.Warn("could not look for temporary snapshot directories", "dir", s.opts.SnapshotDir, "err", err)
	}
	for _, p := range temps {
		dir := filepath.Join(s.opts.SnapshotDir, p)
		parent, err := openBeneath(root, path.Dir(p), unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err == nil {
			err = removeDirBeneath(parent, path.Base(p))
			parent.Close()
		}
		if err != nil {
			s.log.Warn("could not remove a temporary snapshot directory", "dir", dir, "err", err)
			continue
		}
		s.log.Warn("removed a temporary snapshot directory (a snapshot was cut short)", "dir", dir)
	}
}
