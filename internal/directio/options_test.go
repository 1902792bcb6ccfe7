package directio

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"512", Options{Alignment: 512}, true},
		{"64KiB", Options{Alignment: 64 << 10}, true},
		{"256", Options{Alignment: 256}, false},
		{"not pow2", Options{Alignment: 3000}, false},
		{"max read below alignment", Options{Alignment: 8192, MaxReadSize: 4096}, false},
		{"max read not pow2", Options{MaxReadSize: 100000}, false},
		{"max read too big", Options{MaxReadSize: 128 << 20}, false},
	} {
		err := c.opts.EnsureDefaults().Validate()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalidOptions)) {
			t.Errorf("%s: Validate() = %v; want ok=%t (errors wrap ErrInvalidOptions)", c.name, err, c.ok)
		}
	}
}

func TestDefaultMatch(t *testing.T) {
	for name, want := range map[string]bool{
		"000001.sst": true, "/a/b/000002.blob": true, "MANIFEST-000001": false,
		"000003.log": false, "OPTIONS-000004": false, "x.sst.tmp": false,
	} {
		if got := DefaultMatch(name); got != want {
			t.Errorf("DefaultMatch(%q) = %t; want %t", name, got, want)
		}
	}
}

func TestNewFSLeavesMemFSAlone(t *testing.T) {
	mem := vfs.NewMem()
	if fs := NewFS(mem, nil); fs != vfs.FS(mem) {
		t.Errorf("NewFS(MemFS) = %T; want the MemFS itself (no descriptors to read directly)", fs)
	}
}
