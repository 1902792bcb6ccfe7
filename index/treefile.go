package index

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/directio"
)

// treeFile is the routing tree's file in an index directory. It is written
// (synced, then renamed into place) before the manifest, which is the
// commit point, and read streaming at Open so that loading never holds the
// encoding and the decoded tree at once.
const treeFile = "tree.shct"

func writeTree(dir string, t *cluster.Tree) error { return writeTreeFile(dir, treeFile, t) }

// writeTreeFile writes t to dir/name through a synced temporary file.
func writeTreeFile(dir, name string, t *cluster.Tree) error {
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
		return fmt.Errorf("shoal: write tree: %w", err)
	}
	_ = directio.DropCache(filepath.Join(dir, name))
	return nil
}

func readTreeFile(path string) (*cluster.Tree, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: tree: %v", ErrCorrupt, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	t, err := cluster.ReadTree(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
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
