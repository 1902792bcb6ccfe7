//go:build linux

package directio

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestNewFSUnwraps(t *testing.T) {
	fs := NewFS(vfs.Default, nil)
	if fs.Unwrap() != vfs.Default {
		t.Errorf("Unwrap() = %v; want vfs.Default", fs.Unwrap())
	}
}

func TestUnmatchedFilesPassThrough(t *testing.T) {
	path, _ := writeRandomFile(t, diskDir(t), "MANIFEST-000001", 10, 8)
	var stats Stats
	f := openFS(t, path, Options{Stats: &stats})
	if _, ok := f.(*directFile); ok {
		t.Errorf("MANIFEST opened as %T; want the base FS's file", f)
	}
	if _, err := f.ReadAt(make([]byte, 10), 0); err != nil {
		t.Fatal(err)
	}
	if c := stats.Snapshot(); c != (Counters{}) {
		t.Errorf("counters %+v; want none for an unmatched file", c)
	}
}
