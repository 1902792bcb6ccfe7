package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// outDir is what an output directory (-out of build) was before a command
// wrote to it, so that a failed command removes what it made and nothing
// else: the directory itself if it did not exist, its contents if it was
// empty, nothing at all if it held files (the command refuses those).
type outDir struct {
	path    string
	existed bool
	empty   bool
}

// recordOut records what path is now.
func recordOut(path string) outDir {
	d := outDir{path: path}
	entries, err := os.ReadDir(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err == nil:
		d.existed, d.empty = true, len(entries) == 0
	default:
		d.existed = true // unreadable: never touch it
	}
	return d
}

// undo removes what was made in the directory since recordOut and
// reports whether it removed anything.
func (d outDir) undo() bool {
	switch {
	case !d.existed:
		if _, err := os.Lstat(d.path); err != nil {
			return false
		}
		return os.RemoveAll(d.path) == nil
	case d.empty:
		entries, err := os.ReadDir(d.path)
		if err != nil || len(entries) == 0 {
			return false
		}
		for _, e := range entries {
			os.RemoveAll(filepath.Join(d.path, e.Name()))
		}
		return true
	}
	return false
}
