package index

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCorruptPebbleManifest: a flipped byte of Pebble's MANIFEST is
// reported by Open (or a later call) as an error wrapping ErrCorrupt,
// never a panic or an error of another kind.
func TestCorruptPebbleManifest(t *testing.T) {
	f := newCorruptFixture(t)
	ms, err := filepath.Glob(filepath.Join(f.dir, "MANIFEST-*"))
	if err != nil || len(ms) == 0 {
		t.Fatalf("no MANIFEST in %s: %v", f.dir, err)
	}
	name := filepath.Base(ms[len(ms)-1])
	fi, err := os.Stat(ms[len(ms)-1])
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 3, 7, fi.Size() / 3, fi.Size() / 2, fi.Size() - 2} {
		dir := f.damaged(t, name, off)
		if reported := f.use(t, dir); len(reported) == 0 {
			t.Errorf("byte %d of %s flipped: no call reported it", off, name)
		}
	}
}
