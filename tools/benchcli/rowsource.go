package benchcli

import (
	"fmt"

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
		panic(fmt.Sprintf("benchcli: rows [%d,%d) of a source of %d", first, first+n, src.Len()))
	}
	return &rowSource{src: src, first: first, n: n}
}

// subsetSource returns the rows of src listed in rows, which must be
// ascending and in range.
func subsetSource(src index.Source, rows []int) *rowSource {
	for i, r := range rows {
		if r < 0 || r >= src.Len() || (i > 0 && r <= rows[i-1]) {
			panic(fmt.Sprintf("benchcli: subset row %d (#%d) is out of order or out of range [0,%d)", r, i, src.Len()))
		}
	}
	return &rowSource{src: src, rows: rows}
}

// permutedSource returns src with its rows in the order perm lists them
// (a permutation of [0, src.Len())).
func permutedSource(src index.Source, perm []int) *rowSource {
	if len(perm) != src.Len() {
		panic(fmt.Sprintf("benchcli: permutation of %d rows for a source of %d", len(perm), src.Len()))
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
