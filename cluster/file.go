package cluster

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/internal/errs"
)

// WriteFile writes t to dir/name through a synced temporary file, renamed
// into place (and the directory synced), and drops the file from the page
// cache.
func (t *Tree) WriteFile(dir, name string) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = t.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cluster: write tree: %w", err)
	}
	_ = directio.DropCache(filepath.Join(dir, name))
	return nil
}

// ReadFile reads the tree file at path (streaming: the encoding and the
// decoded tree are never both in memory) and drops it from the page
// cache. A file that does not decode is errs.Corrupt.
func ReadFile(path string) (*Tree, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: tree: %v", errs.Corrupt, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	t, err := ReadTree(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errs.Corrupt, path, err)
	}
	// The tree now lives in memory; its file pages need not.
	_ = directio.DropCache(path)
	return t, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
