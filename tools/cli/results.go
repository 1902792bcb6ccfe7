package cli

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The result file of `shoal search -out`: the ids of each query's
// neighbours as little-endian uint64, k per query, nearest first; a query
// with fewer than k results is padded with NoResult. Two layouts, chosen
// by the file name:
//
//   - .npy: a NumPy array of dtype '<u8' and shape (queries, k), version
//     1.0 (numpy.load reads it);
//   - anything else (.u64bin by convention): the big-ann-benchmarks
//     layout, uint32 queries, uint32 k, then queries×k uint64 ids.
//
// Both headers hold the query count, known before the first row, so the
// file is written front to back and may be a pipe (/dev/stdout, "-").
// An int32 file (.ivecs, .ibin) cannot hold every id (ids are uint64) and
// is refused.

// NoResult pads the rows of queries with fewer than k results.
const NoResult = math.MaxUint64

// resultWriter writes a result file.
type resultWriter struct {
	path string
	f    *os.File // nil when writing to a given writer
	bw   *bufio.Writer
	k    int
	row  []byte
}

// createResults opens path for writing, write-only (see below), and
// writes the header for rows queries of k ids. "-" is stdout.
//
// Write-only matters where path is /dev/stdout or /dev/fd/N of a pipe:
// os.Create opens with O_RDWR, which on Linux opens the pipe for reading
// too, so this process counts as a reader of its own pipe: when the real
// reader (head) exits, writes never fail with EPIPE but block for ever
// once the pipe's buffer is full. That was the hang of `shoal search
// -out /dev/stdout | head`.
func createResults(path string, stdout io.Writer, rows, k int) (*resultWriter, error) {
	lower := strings.ToLower(path)
	if ext := filepath.Ext(lower); ext == ".ivecs" || ext == ".ibin" {
		return nil, fmt.Errorf("-out %s: ids are uint64 and an int32 %s file cannot hold them all; name it .u64bin (big-ann layout) or .npy", path, ext)
	}
	if rows > math.MaxUint32 || k > math.MaxUint32 {
		return nil, fmt.Errorf("-out %s: %d queries of %d ids do not fit the header", path, rows, k)
	}
	w := &resultWriter{path: path, k: k, row: make([]byte, 8*k)}
	var dst io.Writer = stdout
	if path != "-" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if err != nil {
			return nil, err
		}
		w.f, dst = f, f
	}
	w.bw = bufio.NewWriterSize(dst, 1<<20)
	var hdr []byte
	if strings.HasSuffix(lower, ".npy") {
		hdr = npyUint64Header(rows, k)
	} else {
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(rows))
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(k))
	}
	if _, err := w.bw.Write(hdr); err != nil {
		w.Close()
		return nil, w.wrap(err)
	}
	return w, nil
}

// npyUint64Header is the .npy (version 1.0) header of a rows×k array of
// '<u8', padded to a multiple of 64 bytes.
func npyUint64Header(rows, k int) []byte {
	dict := fmt.Sprintf("{'descr': '<u8', 'fortran_order': False, 'shape': (%d, %d), }", rows, k)
	size := (10 + len(dict) + 1 + 63) &^ 63
	b := append([]byte("\x93NUMPY"), 1, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(size-10))
	b = append(b, dict...)
	for len(b) < size-1 {
		b = append(b, ' ')
	}
	return append(b, '\n')
}

// WriteRow writes one query's ids, padded to k with NoResult.
func (w *resultWriter) WriteRow(ids []uint64) error {
	for j := range w.k {
		id := uint64(NoResult)
		if j < len(ids) {
			id = ids[j]
		}
		binary.LittleEndian.PutUint64(w.row[8*j:], id)
	}
	_, err := w.bw.Write(w.row)
	return w.wrap(err)
}

// Close flushes and closes the file, returning the first error.
func (w *resultWriter) Close() error {
	err := w.bw.Flush()
	if w.f != nil {
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
	}
	return w.wrap(err)
}

func (w *resultWriter) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("-out %s: %w", w.path, err)
}

// isBrokenPipe reports whether err is a write to a pipe whose reader has
// gone (head read what it wanted): not a failure, the output is simply
// no longer wanted.
func isBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE)
}
