//go:build linux

package directio

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// A dirKind is a file system the tests run on: a disk that does direct I/O,
// and tmpfs, where reads fall back to the page cache.
type dirKind struct {
	name    string
	direct  bool                      // reads are expected to be direct
	makeDir func(t *testing.T) string // skips the test when unavailable
}

var dirKinds = []dirKind{
	{name: "disk", direct: true, makeDir: diskDir},
	{name: "tmpfs", direct: false, makeDir: tmpfsDir},
}

// diskDir returns t.TempDir(), skipping the test unless it sits on a file
// system that is not memory-backed (ext4 here).
func diskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		t.Skipf("statfs %s: %v", dir, err)
	}
	if sfs.Type == unix.TMPFS_MAGIC || sfs.Type == unix.RAMFS_MAGIC {
		t.Skipf("%s is memory-backed; need a disk for direct I/O", dir)
	}
	return dir
}

// tmpfsDir returns a fresh directory under /dev/shm, skipping the test when
// /dev/shm is not a writable tmpfs.
func tmpfsDir(t *testing.T) string {
	t.Helper()
	var sfs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &sfs); err != nil || sfs.Type != unix.TMPFS_MAGIC {
		t.Skipf("/dev/shm is not a tmpfs (err=%v)", err)
	}
	dir, err := os.MkdirTemp("/dev/shm", "directio-test-")
	if err != nil {
		t.Skipf("/dev/shm not writable: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// writeRandomFile writes size seeded random bytes to dir/name and returns
// the path and the contents as read back by os.ReadFile.
func writeRandomFile(t *testing.T, dir, name string, size int, seed uint64) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	fillRandom(data, seed)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, got
}

func fillRandom(b []byte, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

// openFS opens path through an FS from NewFSWithOptions over vfs.Default.
func openFS(t *testing.T, path string, opts Options, oo ...vfs.OpenOption) vfs.File {
	t.Helper()
	fs, err := NewFSWithOptions(vfs.Default, &opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open(path, oo...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// residency sums Mincore over paths.
func residency(t *testing.T, paths ...string) (resident, total int64) {
	t.Helper()
	for _, p := range paths {
		r, n, err := Mincore(p)
		if err != nil {
			t.Fatal(err)
		}
		resident += r
		total += n
	}
	return resident, total
}
