package index

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoaldb/shoal/index/internal/build"
)

// vectorsFile holds the vectors of an offline build (package build
// writes it): what Get returns for an id that was never upserted since.
// Upserted vectors are Pebble records ('v' keys), which take precedence.
const vectorsFile = build.VectorsFile

// builtVector reads the build-time row of id (< Manifest.Count) into row.
func (ix *Index) builtVector(id uint64, row []byte) error {
	if ix.vectors == nil {
		return fmt.Errorf("%w: %s has no %s", ErrCorrupt, ix.dir, vectorsFile)
	}
	_, err := ix.vectors.ReadAt(row, int64(id)*int64(len(row)))
	if err != nil {
		return fmt.Errorf("%w: %s: vector %d: %v", ErrCorrupt, vectorsFile, id, err)
	}
	return nil
}

// openVectors opens vectorsFile if the index has one (an index created
// empty has none).
func openVectors(dir string, m *Manifest) (*os.File, error) {
	if m.Count == 0 {
		return nil, nil
	}
	path := filepath.Join(dir, vectorsFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if want := int64(m.Count) * int64(m.Dim*m.Elem.Size()); fi.Size() != want {
		f.Close()
		return nil, fmt.Errorf("%w: %s holds %d bytes, want %d", ErrCorrupt, path, fi.Size(), want)
	}
	return f, nil
}
