package vecfile

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// Writer writes a vector file, row after row, through a buffer. A Writer is
// not safe for concurrent use. The file is complete only after Close, which
// writes the row count into the headers of .fbin-style and .npy files. A
// TEXMEX file without rows is empty, and reads back with Dim 0.
type Writer struct {
	f        *os.File
	bw       *bufio.Writer
	path     string
	format   Format
	elem     Elem
	dim      int
	rowBytes int
	vecs     bool  // TEXMEX layout: write an int32 dim before every row
	maxRows  int64 // largest row count the header can hold
	hdrSize  int   // size of the npy header, fixed at Create
	n        int64 // rows written so far
	prefix   [4]byte
	scratch  []byte // encoding buffer of WriteFloat32 and WriteInt32
	err      error  // sticky write error
	closed   bool
}

// Create creates (or truncates) the file at path and returns a Writer for
// rows of dimension dim in format f, whose element type f implies. NPY files,
// whose element type is free, are made with CreateNPY.
func Create(path string, f Format, dim int) (*Writer, error) {
	fi, ok := f.info()
	switch {
	case !ok:
		return nil, errorf(path, ErrFormat, "Create: invalid %v", f)
	case f == NPY:
		return nil, errorf(path, ErrFormat, "Create: the element type of an npy file is not implied by its format; use CreateNPY")
	}
	return create(path, f, fi.elem, dim)
}

// CreateNPY creates (or truncates) the file at path and returns a Writer for
// a 2-D NumPy array of element type e with dim columns, in .npy version 1.0.
func CreateNPY(path string, e Elem, dim int) (*Writer, error) {
	if !e.valid() {
		return nil, errorf(path, ErrFormat, "CreateNPY: invalid %v", e)
	}
	return create(path, NPY, e, dim)
}

func create(path string, f Format, e Elem, dim int) (*Writer, error) {
	if dim < 1 || dim > MaxDim {
		return nil, errorf(path, ErrRange, "Create: dimension %d out of range [1, %d]", dim, MaxDim)
	}
	fi, _ := f.info()
	w := &Writer{
		path:     path,
		format:   f,
		elem:     e,
		dim:      dim,
		rowBytes: dim * e.Size(),
		vecs:     fi.vecs,
		maxRows:  math.MaxInt64 / int64(dim*e.Size()+4),
	}
	binary.LittleEndian.PutUint32(w.prefix[:], uint32(dim))
	if fi.bin {
		w.maxRows = math.MaxUint32
	}
	// Write-only: os.Create's read-write open of /dev/stdout on a pipe
	// makes this process a reader of its own pipe, so writes block
	// instead of failing once the reader is gone.
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("vecfile: %w", err)
	}
	w.f = file
	w.bw = bufio.NewWriterSize(file, seqBufSize)
	// Headers are written now with 0 rows and rewritten by Close.
	if err := w.writeHeader(w.bw); err != nil {
		file.Close()
		return nil, err
	}
	return w, nil
}

// header returns the file header for the rows written so far (nil for TEXMEX).
func (w *Writer) header() []byte {
	switch {
	case w.format == NPY:
		if w.hdrSize == 0 {
			// Room for any row count, so that Close rewrites it in place.
			w.hdrSize = npyHeaderSize(w.elem, w.dim)
		}
		return encodeNPYHeader(w.elem, w.n, w.dim, w.hdrSize)
	case w.vecs:
		return nil
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(w.n))
	binary.LittleEndian.PutUint32(b[4:], uint32(w.dim))
	return b[:]
}

func (w *Writer) writeHeader(bw *bufio.Writer) error {
	if _, err := bw.Write(w.header()); err != nil {
		return fmt.Errorf("vecfile: %s: write header: %w", w.path, err)
	}
	return nil
}

// Write appends rows, given as raw little-endian elements of the Writer's
// type without TEXMEX row headers (the Writer adds them); len(rows) must be a
// multiple of the row size, dim*elemsize, or the call fails with ErrRange and
// writes nothing.
func (w *Writer) Write(rows []byte) error {
	if err := w.check(); err != nil {
		return err
	}
	if len(rows)%w.rowBytes != 0 {
		return errorf(w.path, ErrRange, "Write: %d bytes are not a whole number of %d-byte rows", len(rows), w.rowBytes)
	}
	k := int64(len(rows) / w.rowBytes)
	if k > w.maxRows-w.n {
		return errorf(w.path, ErrRange, "Write: %d rows would exceed the format's limit of %d rows", w.n+k, w.maxRows)
	}
	if !w.vecs {
		_, err := w.bw.Write(rows)
		return w.fail(err, k)
	}
	for i := int64(0); i < k; i++ {
		if _, err := w.bw.Write(w.prefix[:]); err != nil {
			return w.fail(err, i)
		}
		if _, err := w.bw.Write(rows[i*int64(w.rowBytes) : (i+1)*int64(w.rowBytes)]); err != nil {
			return w.fail(err, i)
		}
	}
	return w.fail(nil, k)
}

// fail records the outcome of writing k rows: on error the Writer is broken.
func (w *Writer) fail(err error, k int64) error {
	w.n += k
	if err != nil {
		w.err = fmt.Errorf("vecfile: %s: write: %w", w.path, err)
		return w.err
	}
	return nil
}

// check returns an error if the Writer cannot be written to.
func (w *Writer) check() error {
	switch {
	case w.closed:
		return fmt.Errorf("vecfile: %s: %w", w.path, os.ErrClosed)
	case w.err != nil:
		return w.err
	}
	return nil
}

// WriteFloat32 appends rows given as float32 values; len(v) must be a
// multiple of the dimension. The Writer's element type must be Float32.
func (w *Writer) WriteFloat32(v []float32) error {
	if w.elem != Float32 {
		return errorf(w.path, ErrFormat, "WriteFloat32: the file's elements are %v", w.elem)
	}
	return w.write32(len(v), func(b []byte, i int) {
		binary.LittleEndian.PutUint32(b, math.Float32bits(v[i]))
	})
}

// WriteInt32 appends rows given as int32 values; len(v) must be a multiple of
// the dimension. The Writer's element type must be Int32.
func (w *Writer) WriteInt32(v []int32) error {
	if w.elem != Int32 {
		return errorf(w.path, ErrFormat, "WriteInt32: the file's elements are %v", w.elem)
	}
	return w.write32(len(v), func(b []byte, i int) {
		binary.LittleEndian.PutUint32(b, uint32(v[i]))
	})
}

// write32 encodes n 4-byte elements with put, a batch of rows at a time,
// and writes them.
func (w *Writer) write32(n int, put func(b []byte, i int)) error {
	if err := w.check(); err != nil {
		return err
	}
	if n%w.dim != 0 {
		return errorf(w.path, ErrRange, "Write: %d values are not a whole number of rows of dimension %d", n, w.dim)
	}
	if w.scratch == nil {
		w.scratch = make([]byte, max(1, wholeChunk/w.rowBytes)*w.rowBytes)
	}
	for i := 0; i < n; {
		k := min(len(w.scratch)/4, n-i)
		b := w.scratch[:4*k]
		for j := range k {
			put(b[4*j:], i+j)
		}
		if err := w.Write(b); err != nil {
			return err
		}
		i += k
	}
	return nil
}

// Close flushes the buffer, writes the final row count into the header
// (.fbin-style and .npy files) and closes the file. It reports the first
// error of any earlier write. A second Close does nothing and returns nil.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.err
	if err == nil {
		err = w.bw.Flush()
		if err != nil {
			err = fmt.Errorf("vecfile: %s: write: %w", w.path, err)
		}
	}
	if hdr := w.header(); err == nil && hdr != nil {
		if _, werr := w.f.WriteAt(hdr, 0); werr != nil {
			err = fmt.Errorf("vecfile: %s: write header: %w", w.path, werr)
		}
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("vecfile: %w", cerr)
	}
	return err
}
