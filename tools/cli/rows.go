package cli

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shoaldb/shoal/index"
)

// rowSource is an index.Source over some rows of another Source: row i of
// the rowSource is row rows[i] of src, or row first+i when rows is nil.
// The churn benchmark builds from it: the first rows of a file, then the
// rows still live after churn, so that a built id maps back to a file row.
//
// ReadRows is safe for concurrent use when src's is (FileSource's is).
type rowSource struct {
	src   index.Source
	first int   // with rows == nil: the rows are [first, first+n)
	n     int   // with rows == nil
	rows  []int // file rows (ascending, except for permutedSource), or nil
}

var _ index.Source = (*rowSource)(nil)

// rangeSource returns the rows [first, first+n) of src.
func rangeSource(src index.Source, first, n int) *rowSource {
	if first < 0 || n < 0 || first+n > src.Len() {
		panic(fmt.Sprintf("cli: rows [%d,%d) of a source of %d", first, first+n, src.Len()))
	}
	return &rowSource{src: src, first: first, n: n}
}

// subsetSource returns the rows of src listed in rows, which must be
// ascending and in range.
func subsetSource(src index.Source, rows []int) *rowSource {
	for i, r := range rows {
		if r < 0 || r >= src.Len() || (i > 0 && r <= rows[i-1]) {
			panic(fmt.Sprintf("cli: subset row %d (#%d) is out of order or out of range [0,%d)", r, i, src.Len()))
		}
	}
	return &rowSource{src: src, rows: rows}
}

// permutedSource returns src with its rows in the order perm lists them
// (a permutation of [0, src.Len())).
func permutedSource(src index.Source, perm []int) *rowSource {
	if len(perm) != src.Len() {
		panic(fmt.Sprintf("cli: permutation of %d rows for a source of %d", len(perm), src.Len()))
	}
	return &rowSource{src: src, rows: perm}
}

// Len implements index.Source.
func (s *rowSource) Len() int {
	if s.rows != nil {
		return len(s.rows)
	}
	return s.n
}

// Dim implements index.Source.
func (s *rowSource) Dim() int { return s.src.Dim() }

// Elem implements index.Source.
func (s *rowSource) Elem() index.ElemType { return s.src.Elem() }

// ReadRows implements index.Source: one read of src per run of
// consecutive file rows.
func (s *rowSource) ReadRows(start, n int, dst []byte) error {
	if start < 0 || n < 0 || start+n > s.Len() {
		return fmt.Errorf("%w: rows [%d,%d) of %d", index.ErrBadInput, start, start+n, s.Len())
	}
	if s.rows == nil {
		return s.src.ReadRows(s.first+start, n, dst)
	}
	rb := s.Dim() * s.Elem().Size()
	for i := start; i < start+n; {
		j := i + 1
		for j < start+n && s.rows[j] == s.rows[j-1]+1 {
			j++
		}
		if err := s.src.ReadRows(s.rows[i], j-i, dst[(i-start)*rb:(j-start)*rb]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// toFloat32 converts raw little-endian rows of elem (as a Source holds
// them: float32, uint8 or int8) to float32 in dst.
func toFloat32(elem index.ElemType, raw []byte, dst []float32) {
	switch elem {
	case index.Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case index.Uint8:
		for i := range dst {
			dst[i] = float32(raw[i])
		}
	case index.Int8:
		for i := range dst {
			dst[i] = float32(int8(raw[i]))
		}
	default:
		panic(fmt.Sprintf("cli: a source of %v elements", elem))
	}
}

// rowReader reads rows of a Source as float32 vectors through reused
// buffers. Not safe for concurrent use.
type rowReader struct {
	src index.Source
	raw []byte
	f32 []float32
}

// read returns rows [start, start+n) of the source, one slice per row;
// the slices are valid until the next read.
func (r *rowReader) read(start, n int) ([][]float32, error) {
	dim, rb := r.src.Dim(), r.src.Dim()*r.src.Elem().Size()
	if cap(r.raw) < n*rb {
		r.raw = make([]byte, n*rb)
		r.f32 = make([]float32, n*dim)
	}
	raw, f32 := r.raw[:n*rb], r.f32[:n*dim]
	if err := r.src.ReadRows(start, n, raw); err != nil {
		return nil, err
	}
	toFloat32(r.src.Elem(), raw, f32)
	out := make([][]float32, n)
	for i := range out {
		out[i] = f32[i*dim : (i+1)*dim]
	}
	return out, nil
}
