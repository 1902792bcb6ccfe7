package cluster

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/filecopy"
)

// WriteFile writes t to dir/name through a synced temporary file, renamed
// into place (and the directory synced), and drops the file from the page
// cache.
func (t *Tree) WriteFile(dir, name string) error {
	err := filecopy.WriteAtomic(filepath.Join(dir, name), func(w io.Writer) error {
		_, err := t.WriteTo(w)
		return err
	})
	if err != nil {
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

// treeCRCLen is the size of the checksum that ends a tree file.
const treeCRCLen = 4

// VerifyFile checks the checksum of the tree file at path, streaming (the
// tree is not decoded), and returns the file's size. A mismatch is
// errs.Corrupt; other errors are failures to read.
func VerifyFile(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	defer directio.DropCache(path)
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if size < treeCRCLen {
		return size, fmt.Errorf("%w: %s: %d bytes", errs.Corrupt, path, size)
	}
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size-treeCRCLen)); err != nil {
		return size, err
	}
	var sum [treeCRCLen]byte
	if _, err := f.ReadAt(sum[:], size-treeCRCLen); err != nil {
		return size, err
	}
	if got, want := h.Sum32(), binary.LittleEndian.Uint32(sum[:]); got != want {
		return size, fmt.Errorf("%w: %s: checksum %08x, want %08x", errs.Corrupt, path, got, want)
	}
	return size, nil
}
