package index

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/internal/vec"
)

// vectorsFile holds the vectors of an offline build, row i for id i, in the
// index's element type (normalised for Cosine): what Get returns for an id
// that was never upserted since. Upserted vectors are Pebble records ('v'
// keys), which take precedence.
const vectorsFile = "vectors.dat"

// writeVectors streams the source once more and writes vectorsFile,
// synced, before the manifest commits the build.
func (b *builder) writeVectors(dir string) error {
	path := filepath.Join(dir, vectorsFile)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("shoal: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	srb := b.dim * b.srcElem.Size()
	rb := b.dim * b.elem.Size()
	raw := make([]byte, chunkRows*srb)
	row := make([]byte, rb)
	x := make([]float32, b.dim)
	for lo := 0; lo < b.n && err == nil; lo += chunkRows {
		cnt := min(chunkRows, b.n-lo)
		if err = b.src.ReadRows(lo, cnt, raw[:cnt*srb]); err != nil {
			err = fmt.Errorf("shoal: read rows %d..%d: %w", lo, lo+cnt, err)
			break
		}
		if b.srcElem == b.elem && b.opts.Metric != Cosine {
			_, err = w.Write(raw[:cnt*srb])
			continue
		}
		for j := 0; j < cnt && err == nil; j++ {
			toFloat32(b.srcElem, raw[j*srb:(j+1)*srb], x)
			if b.opts.Metric == Cosine {
				vec.Normalize(x)
			}
			if err = fromFloat32(b.elem, x, row); err != nil {
				err = fmt.Errorf("%w: row %d: %v", ErrBadInput, lo+j, err)
				break
			}
			_, err = w.Write(row)
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("shoal: write %s: %w", path, err)
	}
	_ = directio.DropCache(path)
	return nil
}

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
