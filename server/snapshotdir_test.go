package server

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenBeneath: both ways of opening beneath a directory (openat2,
// and the component walk used without it) open what lies inside and
// refuse every path that leads outside; the walk also refuses links
// that stay inside.
func TestOpenBeneath(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	for _, d := range []string{"real/sub", "other"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "real", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"abs":        outside,
		"up":         filepath.Join("..", filepath.Base(outside)),
		"in":         "real",
		"real/upin":  "../other",
		"real/fout":  filepath.Join(outside, "f"),
		"real/fup":   "../../" + filepath.Base(outside) + "/f",
		"real/loop1": "loop2",
		"real/loop2": "loop1",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()

	const (
		ok      = iota
		refused // a link out (or, for the walk, any link)
		missing
	)
	for _, tc := range []struct {
		path         string
		dirOnly      bool
		openat2, nof int
	}{
		{"real/f", false, ok, ok},
		{"real/sub", true, ok, ok},
		{".", true, ok, ok},
		{"missing/f", false, missing, missing},
		{"..", true, refused, refused},
		{"real/../../x", false, refused, refused},
		{"abs", true, refused, refused},
		{"abs/f", false, refused, refused},
		{"up/f", false, refused, refused},
		{"real/fout", false, refused, refused},
		{"real/fup", false, refused, refused},
		{"real/loop1", false, refused, refused},
		{"in/f", false, ok, refused},
		{"real/upin", true, ok, refused},
	} {
		flags := unix.O_RDONLY
		if tc.dirOnly {
			flags |= unix.O_DIRECTORY
		}
		for _, impl := range []struct {
			name string
			open func(int, string, int, uint32) (int, error)
			want int
		}{
			{"openat2", openat2Beneath, tc.openat2},
			{"walk", openNoFollow, tc.nof},
		} {
			if impl.name == "openat2" && !haveOpenat2() {
				continue
			}
			fd, err := impl.open(int(dir.Fd()), tc.path, flags, 0)
			if err == nil {
				unix.Close(fd)
			}
			got := ok
			switch {
			case errors.Is(err, unix.ENOENT):
				got = missing
			case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ELOOP):
				got = refused
			case err != nil:
				t.Errorf("%s %q: unexpected error %v", impl.name, tc.path, err)
				continue
			}
			if got != impl.want {
				t.Errorf("%s %q: got %d (%v), want %d (0 opened, 1 refused, 2 missing)", impl.name, tc.path, got, err, impl.want)
			}
		}
	}
}
