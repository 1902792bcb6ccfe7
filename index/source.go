package index

import (
	"fmt"

	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/internal/vecfile"
)

// Source is a data set to build an index from: Len rows of Dim elements
// of type Elem. Build reads it in several streaming passes plus random
// reads of single rows, and never holds all of it in memory.
//
// ReadRows must be safe for concurrent use.
type Source interface {
	Len() int
	Dim() int
	Elem() ElemType
	// ReadRows reads rows [start, start+n) into dst as raw little-endian
	// elements (len(dst) ≥ n·Dim·Elem.Size()).
	ReadRows(start, n int, dst []byte) error
}

// SliceSource returns a Source over float32 vectors held in memory,
// row-major with dim elements per row.
func SliceSource(data []float32, dim int) Source {
	return sliceSource{data: data, dim: dim}
}

type sliceSource struct {
	data []float32
	dim  int
}

func (s sliceSource) Len() int       { return len(s.data) / s.dim }
func (s sliceSource) Dim() int       { return s.dim }
func (s sliceSource) Elem() ElemType { return Float32 }
func (s sliceSource) ReadRows(start, n int, dst []byte) error {
	if start < 0 || n < 0 || start+n > s.Len() {
		return fmt.Errorf("%w: rows [%d,%d) of %d", ErrBadInput, start, start+n, s.Len())
	}
	copy(dst, vec.F32ToBytes(s.data[start*s.dim:(start+n)*s.dim]))
	return nil
}

// FileSource is a Source reading a vector file: .fvecs/.bvecs (TEXMEX),
// .fbin/.u8bin/.i8bin (big-ann-benchmarks) or .npy (float32, uint8, int8).
type FileSource struct {
	r *vecfile.Reader
}

// OpenFile opens a vector file as a Source. Close it when done.
func OpenFile(path string) (*FileSource, error) {
	r, err := vecfile.Open(path)
	if err != nil {
		return nil, err
	}
	switch r.Elem() {
	case vecfile.Float32, vecfile.Uint8, vecfile.Int8:
	default:
		r.Close()
		return nil, fmt.Errorf("%w: %s holds %v elements, not vectors of float32, uint8 or int8", ErrBadInput, path, r.Elem())
	}
	return &FileSource{r: r}, nil
}

// Len implements Source.
func (f *FileSource) Len() int { return f.r.Len() }

// Dim implements Source.
func (f *FileSource) Dim() int { return f.r.Dim() }

// Elem implements Source.
func (f *FileSource) Elem() ElemType {
	switch f.r.Elem() {
	case vecfile.Uint8:
		return Uint8
	case vecfile.Int8:
		return Int8
	}
	return Float32
}

// ReadRows implements Source.
func (f *FileSource) ReadRows(start, n int, dst []byte) error { return f.r.ReadRows(start, n, dst) }

// Close closes the file.
func (f *FileSource) Close() error { return f.r.Close() }
