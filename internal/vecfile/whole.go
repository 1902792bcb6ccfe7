package vecfile

import (
	"encoding/binary"
	"io"
	"math"
)

// wholeChunk is the size of the buffer the whole-file helpers read through.
const wholeChunk = 1 << 20

// ReadFloat32 reads a whole float32, uint8 or int8 file of any format into
// memory, row after row, converting integer elements to float32. It returns
// the elements and the dimension (0 for an empty TEXMEX file). An int32 file
// gives an error wrapping ErrFormat. It is meant for small files such as
// query sets; stream large files with a Reader.
func ReadFloat32(path string) (data []float32, dim int, err error) {
	return ReadFloat32Head(path, 0)
}

// ReadFloat32Head is ReadFloat32 of at most the first max rows (all of
// them for max ≤ 0), holding only those in memory.
func ReadFloat32Head(path string, max int) (data []float32, dim int, err error) {
	r, err := Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	if r.Elem() == Int32 {
		return nil, 0, errorf(path, ErrFormat, "ReadFloat32: elements are int32, not float32, uint8 or int8 (use ReadInt32)")
	}
	rows := r.Len()
	if max > 0 && max < rows {
		rows = max
	}
	data = make([]float32, rows*r.Dim())
	out := data
	err = readRows(r, rows, func(b []byte) {
		switch r.Elem() {
		case Float32:
			for i := range len(b) / 4 {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			out = out[len(b)/4:]
		case Uint8:
			for i, v := range b {
				out[i] = float32(v)
			}
			out = out[len(b):]
		case Int8:
			for i, v := range b {
				out[i] = float32(int8(v))
			}
			out = out[len(b):]
		}
	})
	if err != nil {
		return nil, 0, err
	}
	return data, r.Dim(), nil
}

// ReadInt32 reads a whole int32 file (.ivecs, .ibin or an .npy of '<i4'),
// typically ground truth, into memory. It returns the elements and the
// dimension (0 for an empty TEXMEX file). Files of other element types give
// an error wrapping ErrFormat.
func ReadInt32(path string) (data []int32, dim int, err error) {
	r, err := Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	if r.Elem() != Int32 {
		return nil, 0, errorf(path, ErrFormat, "ReadInt32: elements are %v, not int32", r.Elem())
	}
	data = make([]int32, r.Len()*r.Dim())
	out := data
	err = readAll(r, func(b []byte) {
		for i := range len(b) / 4 {
			out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
		}
		out = out[len(b)/4:]
	})
	if err != nil {
		return nil, 0, err
	}
	return data, r.Dim(), nil
}

// readAll passes all rows of r, a batch at a time, to fn.
func readAll(r *Reader, fn func(rows []byte)) error { return readRows(r, r.Len(), fn) }

// readRows passes the first n rows of r, a batch at a time, to fn.
func readRows(r *Reader, n int, fn func(rows []byte)) error {
	if n == 0 {
		return nil
	}
	rows := max(1, min(n, wholeChunk/r.RowBytes()))
	buf := make([]byte, rows*r.RowBytes())
	for n > 0 {
		want := min(rows, n)
		got, err := r.Next(buf[:want*r.RowBytes()])
		fn(buf[:got*r.RowBytes()])
		n -= got
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}
