package filecopy

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLinkOrCopy: on one file system the file is linked (one inode, two
// names); a target that exists is refused.
func TestLinkOrCopy(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(src, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	linked, err := LinkOrCopy(src, dst)
	if err != nil || !linked {
		t.Fatalf("LinkOrCopy = %v, %v; want a link", linked, err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 2 {
		t.Errorf("%d links, want 2", n)
	}
	if _, err := LinkOrCopy(src, dst); err == nil {
		t.Error("LinkOrCopy onto an existing file succeeded")
	}
}

// TestCopyN: the first n bytes are copied into a new file; a source
// shorter than n is an error that leaves no file; an existing target is
// refused.
func TestCopyN(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("0123456789"), 1000)
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dst := filepath.Join(dir, "dst")
	if err := CopyN(f, 4321, dst); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, want[:4321]) {
		t.Fatalf("copy holds %d bytes (%v), want the first 4321", len(got), err)
	}
	if err := CopyN(f, 10, dst); err == nil {
		t.Error("CopyN onto an existing file succeeded")
	}
	short := filepath.Join(dir, "short")
	if err := CopyN(f, int64(len(want)+1), short); err == nil {
		t.Error("CopyN of more bytes than the source has succeeded")
	}
	if _, err := os.Stat(short); !os.IsNotExist(err) {
		t.Errorf("a failed CopyN left its file: %v", err)
	}
}
