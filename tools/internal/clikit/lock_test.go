package clikit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestExplainLock: a held LOCK file's error says who holds the directory
// (this process, which locks it here) and what to do; other errors pass
// through unchanged.
func TestExplainLock(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "LOCK"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Skipf("cannot lock: %v", err)
	}
	err = ExplainLock(fmt.Errorf("pebblestore: lock %s: resource temporarily unavailable", dir))
	msg := err.Error()
	for _, want := range []string{fmt.Sprintf("process %d (", os.Getpid()), "has " + dir + " open", "stop it first", "shoal client"} {
		if !strings.Contains(msg, want) {
			t.Errorf("ExplainLock: %q; want it to contain %q", msg, want)
		}
	}
	plain := errors.New("no such file")
	if got := ExplainLock(plain); got != plain {
		t.Errorf("ExplainLock(%v) = %v, want it unchanged", plain, got)
	}
}
