package vecfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
)

// Buffer sizes. Sequential reads go through one buffer of seqBufSize (or the
// data size, if smaller); ReadRows on TEXMEX files reads chunks of about
// scratchSize into pooled buffers to strip the per-row headers.
const (
	seqBufSize  = 1 << 20
	scratchSize = 256 << 10
)

// Reader reads the rows of one vector file.
//
// A Reader is not safe for concurrent use, with one exception: ReadRows uses
// positioned reads (pread) and keeps no state, so any number of goroutines may
// call it at once, also while another goroutine calls Next. Close must not
// run concurrently with any other method.
type Reader struct {
	f        *os.File // nil after Close
	path     string
	format   Format
	elem     Elem
	dim      int
	n        int   // rows
	rowBytes int   // dim * elem size
	vecs     bool  // TEXMEX layout: an int32 dim precedes every row
	stride   int64 // bytes per row in the file (rowBytes, +4 for TEXMEX)
	dataOff  int64 // file offset of row 0

	// Sequential state of Next; not safe for concurrent use.
	br     *bufio.Reader // reads rows [0, n) from dataOff; made by the first Next
	next   int           // index of the row Next reads next
	err    error         // sticky error from reading the file in Next
	prefix [4]byte       // a TEXMEX row header, read by Next

	// scratch holds *[]byte buffers of a whole number of rows (at least one)
	// for ReadRows on TEXMEX files; shared by concurrent ReadRows calls.
	scratch sync.Pool
}

// Open opens the vector file at path, with the format named by its extension
// (see FormatFromPath), and validates its header and size.
func Open(path string) (*Reader, error) {
	f, err := FormatFromPath(path)
	if err != nil {
		return nil, err
	}
	return OpenFormat(path, f)
}

// OpenFormat opens the vector file at path as format f, whatever its
// extension, and validates its header and size: the row count is known and
// checked against the file size before any row is read.
func OpenFormat(path string, f Format) (*Reader, error) {
	fi, ok := f.info()
	if !ok {
		return nil, errorf(path, ErrFormat, "invalid %v", f)
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vecfile: %w", err)
	}
	r := &Reader{f: file, path: path, format: f, elem: fi.elem, vecs: fi.vecs}
	if err := r.init(fi); err != nil {
		file.Close()
		return nil, err
	}
	r.rowBytes = r.dim * r.elem.Size()
	r.stride = int64(r.rowBytes)
	if r.vecs && r.dim > 0 {
		r.stride += 4
	}
	r.scratch.New = func() any {
		b := make([]byte, max(r.stride, scratchSize/r.stride*r.stride))
		return &b
	}
	return r, nil
}

// init reads and validates the header, setting dim, n, elem and dataOff.
func (r *Reader) init(fi formatInfo) error {
	st, err := r.f.Stat()
	if err != nil {
		return fmt.Errorf("vecfile: %w", err)
	}
	if st.IsDir() {
		return fmt.Errorf("vecfile: %s: is a directory", r.path)
	}
	size := st.Size()
	switch {
	case fi.vecs:
		return r.initVecs(size)
	case fi.bin:
		return r.initBin(size)
	default:
		return r.initNPY(size)
	}
}

func (r *Reader) initVecs(size int64) error {
	if size == 0 {
		return nil // a valid file with no rows; Dim is 0
	}
	var b [4]byte
	if size < 4 {
		return errorf(r.path, ErrTruncated, "truncated at offset %d: file size %d is shorter than the 4-byte dimension of row 0", size, size)
	}
	if err := r.readAt(b[:], 0); err != nil {
		return err
	}
	d := int64(int32(binary.LittleEndian.Uint32(b[:])))
	if d < 1 || d > MaxDim {
		return errorf(r.path, ErrFormat, "row 0 at offset 0: dimension %d out of range [1, %d]", d, MaxDim)
	}
	stride := 4 + d*int64(r.elem.Size())
	if size%stride != 0 {
		full := size / stride
		return errorf(r.path, ErrTruncated, "truncated at offset %d: file size %d is not a multiple of row size %d (4 + %d×%d bytes): row %d at offset %d has only %d of %d bytes",
			size, size, stride, d, r.elem.Size(), full, full*stride, size-full*stride, stride)
	}
	if size/stride > math.MaxInt {
		return errorf(r.path, ErrFormat, "%d rows do not fit an int", size/stride)
	}
	r.dim, r.n = int(d), int(size/stride)
	return nil
}

func (r *Reader) initBin(size int64) error {
	var b [8]byte
	if size < 8 {
		return errorf(r.path, ErrTruncated, "truncated at offset %d: file size %d is shorter than the 8-byte header", size, size)
	}
	if err := r.readAt(b[:], 0); err != nil {
		return err
	}
	n := int64(binary.LittleEndian.Uint32(b[0:]))
	d := int64(binary.LittleEndian.Uint32(b[4:]))
	if d < 1 || d > MaxDim {
		return errorf(r.path, ErrFormat, "header at offset 4: dimension %d out of range [1, %d]", d, MaxDim)
	}
	r.dataOff = 8
	if err := r.checkDataSize(size, n, d); err != nil {
		return err
	}
	r.dim, r.n = int(d), int(n)
	return nil
}

func (r *Reader) initNPY(size int64) error {
	var b [12]byte
	pre := b[:min(size, int64(len(b)))]
	if err := r.readAt(pre, 0); err != nil {
		return err
	}
	hdrOff, hdrLen, err := npyPreamble(r.path, pre, size)
	if err != nil {
		return err
	}
	text := make([]byte, hdrLen)
	if err := r.readAt(text, hdrOff); err != nil {
		return err
	}
	h, err := parseNPYHeader(r.path, text, hdrOff)
	if err != nil {
		return err
	}
	r.elem, r.dataOff = h.elem, h.dataOff
	if err := r.checkDataSize(size, h.rows, h.dim); err != nil {
		return err
	}
	r.dim, r.n = int(h.dim), int(h.rows)
	return nil
}

// checkDataSize checks that a file of size bytes holds exactly n rows of
// dimension d after r.dataOff. d is in [1, MaxDim]; n*d*elemsize must not
// overflow (the callers' headers guarantee it).
func (r *Reader) checkDataSize(size, n, d int64) error {
	rowBytes := d * int64(r.elem.Size())
	want := r.dataOff + n*rowBytes
	switch {
	case size < want:
		full := (size - r.dataOff) / rowBytes
		return errorf(r.path, ErrTruncated, "truncated at offset %d: header says %d rows of dimension %d, so the file size should be %d: row %d at offset %d has only %d of %d bytes",
			size, n, d, want, full, r.dataOff+full*rowBytes, size-r.dataOff-full*rowBytes, rowBytes)
	case size > want:
		// big-ann ground truth: ids, then as many float32 distances.
		if r.format == IBin && size == want+n*rowBytes {
			return nil
		}
		return errorf(r.path, ErrFormat, "header says %d rows of dimension %d, so the file size should be %d, not %d: unexpected bytes at offset %d",
			n, d, want, size, want)
	}
	if n > math.MaxInt {
		return errorf(r.path, ErrFormat, "%d rows do not fit an int", n)
	}
	return nil
}

// readAt fills b from offset off; a short file gives ErrTruncated.
func (r *Reader) readAt(b []byte, off int64) error {
	got, err := r.f.ReadAt(b, off)
	if got == len(b) {
		return nil
	}
	return r.readErr(err, off+int64(got), "")
}

// readErr wraps an error from reading the file that stopped at offset off;
// what describes what was being read.
func (r *Reader) readErr(err error, off int64, what string) error {
	if what != "" {
		what = ": " + what
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(r.path, ErrTruncated, "truncated at offset %d%s: unexpected end of file (did it shrink after Open?)", off, what)
	}
	return fmt.Errorf("vecfile: %s: read at offset %d%s: %w", r.path, off, what, err)
}

// Path returns the path the Reader was opened with.
func (r *Reader) Path() string { return r.path }

// Format returns the file's format.
func (r *Reader) Format() Format { return r.format }

// Elem returns the element type of the file's vectors.
func (r *Reader) Elem() Elem { return r.elem }

// Dim returns the dimension of the vectors; 0 only for an empty TEXMEX file,
// which has no rows.
func (r *Reader) Dim() int { return r.dim }

// Len returns the number of rows, as validated against the file size by Open.
func (r *Reader) Len() int { return r.n }

// RowBytes returns the size of one row as Next and ReadRows return it:
// Dim()*Elem().Size(), without the TEXMEX per-row header.
func (r *Reader) RowBytes() int { return r.rowBytes }

// Next reads the next rows, as many as fit in dst and remain, into dst as raw
// little-endian elements (TEXMEX row headers are checked and stripped), and
// returns how many rows it read. Bytes of dst after the last whole row are
// left as they are. When no rows are left it returns 0, io.EOF.
//
// A dst shorter than one row gives an error wrapping ErrRange (Next can then
// be called again with a larger dst). Any other error is returned again by
// every later call; rows read before it are valid and counted in rows. Next
// reads sequentially through a buffer and does not allocate after its first
// call.
func (r *Reader) Next(dst []byte) (rows int, err error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.f == nil {
		return 0, fmt.Errorf("vecfile: %s: Next: %w", r.path, os.ErrClosed)
	}
	if len(dst) < r.rowBytes {
		return 0, errorf(r.path, ErrRange, "Next: buffer of %d bytes is shorter than one row (%d bytes)", len(dst), r.rowBytes)
	}
	if r.next >= r.n {
		return 0, io.EOF
	}
	rows = min(len(dst)/r.rowBytes, r.n-r.next)
	if r.br == nil {
		size := int64(r.n) * r.stride
		sec := io.NewSectionReader(r.f, r.dataOff, size)
		r.br = bufio.NewReaderSize(sec, int(min(seqBufSize, size)))
	}
	if !r.vecs {
		got, err := io.ReadFull(r.br, dst[:rows*r.rowBytes])
		if err != nil {
			done := got / r.rowBytes
			off := r.dataOff + int64(r.next)*r.stride + int64(got)
			r.next += done
			r.err = r.readErr(err, off, fmt.Sprintf("row %d", r.next))
			return done, r.err
		}
		r.next += rows
		return rows, nil
	}
	for i := range rows {
		off := r.dataOff + int64(r.next)*r.stride
		if got, err := io.ReadFull(r.br, r.prefix[:]); err != nil {
			r.err = r.readErr(err, off+int64(got), fmt.Sprintf("row %d", r.next))
			return i, r.err
		}
		if err := r.checkPrefix(r.prefix[:], r.next, off); err != nil {
			r.err = err
			return i, err
		}
		if got, err := io.ReadFull(r.br, dst[i*r.rowBytes:(i+1)*r.rowBytes]); err != nil {
			r.err = r.readErr(err, off+4+int64(got), fmt.Sprintf("row %d", r.next))
			return i, r.err
		}
		r.next++
	}
	return rows, nil
}

// checkPrefix checks the TEXMEX header b of row, which starts at offset off.
func (r *Reader) checkPrefix(b []byte, row int, off int64) error {
	if d := int32(binary.LittleEndian.Uint32(b)); int(d) != r.dim {
		return errorf(r.path, ErrFormat, "row %d at offset %d: dimension %d, want %d", row, off, d, r.dim)
	}
	return nil
}

// ReadRows reads rows [start, start+n) into dst, which must hold at least
// n*RowBytes() bytes, with positioned reads; TEXMEX row headers are checked
// and stripped. It does not move the position of Next and is safe for
// concurrent use. Rows outside [0, Len()) or a short dst give an error
// wrapping ErrRange.
func (r *Reader) ReadRows(start, n int, dst []byte) error {
	if r.f == nil {
		return fmt.Errorf("vecfile: %s: ReadRows: %w", r.path, os.ErrClosed)
	}
	if start < 0 || n < 0 || start > r.n-n {
		return errorf(r.path, ErrRange, "ReadRows: rows [%d, %d) out of range [0, %d)", start, start+n, r.n)
	}
	if len(dst)/max(r.rowBytes, 1) < n {
		return errorf(r.path, ErrRange, "ReadRows: buffer of %d bytes is shorter than %d rows of %d bytes", len(dst), n, r.rowBytes)
	}
	if n == 0 {
		return nil
	}
	off := r.dataOff + int64(start)*r.stride
	if !r.vecs {
		return r.readAt(dst[:n*r.rowBytes], off)
	}
	bp := r.scratch.Get().(*[]byte)
	defer r.scratch.Put(bp)
	buf := *bp
	per := len(buf) / int(r.stride)
	for done := 0; done < n; {
		k := min(per, n-done)
		chunk := buf[:int64(k)*r.stride]
		if err := r.readAt(chunk, off); err != nil {
			return err
		}
		for i := range k {
			row := chunk[int64(i)*r.stride:]
			if err := r.checkPrefix(row, start+done+i, off+int64(i)*r.stride); err != nil {
				return err
			}
			copy(dst[(done+i)*r.rowBytes:(done+i+1)*r.rowBytes], row[4:])
		}
		done += k
		off += int64(k) * r.stride
	}
	return nil
}

// Close closes the file. Later calls of Next and ReadRows fail; a second
// Close does nothing and returns nil.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("vecfile: %w", err)
	}
	return nil
}
