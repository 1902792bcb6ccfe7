package vecfile

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kind is one (format, element type) combination a file can have.
type kind struct {
	format Format
	elem   Elem
}

func (k kind) String() string {
	if k.format == NPY {
		return "npy-" + k.elem.String()
	}
	return k.format.String()
}

// ext returns the file extension of k.
func (k kind) ext() string { return "." + k.format.String() }

// allKinds lists every supported (format, element type) combination.
var allKinds = []kind{
	{FVecs, Float32}, {BVecs, Uint8}, {IVecs, Int32},
	{FBin, Float32}, {U8Bin, Uint8}, {I8Bin, Int8}, {IBin, Int32},
	{NPY, Float32}, {NPY, Uint8}, {NPY, Int8}, {NPY, Int32},
}

// testRows returns n rows of dimension dim of e, as raw little-endian bytes,
// with values that differ by row and column (and exercise the sign bit).
func testRows(e Elem, n, dim int) []byte {
	b := make([]byte, n*dim*e.Size())
	for i := range n * dim {
		v := uint32(i*2654435761 + 12345)
		switch e {
		case Float32:
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(int32(v))/1e6))
		case Int32:
			binary.LittleEndian.PutUint32(b[4*i:], v)
		default:
			b[i] = byte(v >> 7)
		}
	}
	return b
}

// createKind returns a Writer for k at path.
func createKind(t testing.TB, path string, k kind, dim int) *Writer {
	t.Helper()
	var w *Writer
	var err error
	if k.format == NPY {
		w, err = CreateNPY(path, k.elem, dim)
	} else {
		w, err = Create(path, k.format, dim)
	}
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	return w
}

// writeKind writes rows (raw, n rows of dim) as a file of kind k in dir and
// returns its path.
func writeKind(t testing.TB, dir string, k kind, dim int, rows []byte) string {
	t.Helper()
	path := filepath.Join(dir, "data"+k.ext())
	w := createKind(t, path, k, dim)
	if err := w.Write(rows); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
	return path
}

// openKind opens path as a file of kind k.
func openKind(t testing.TB, path string) *Reader {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// nextAll reads all rows of r with Next, bufRows rows at a time.
func nextAll(t testing.TB, r *Reader, bufRows int) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, max(bufRows*r.RowBytes(), 1))
	for {
		n, err := r.Next(buf)
		out = append(out, buf[:n*r.RowBytes()]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d bytes: %v", len(out), err)
		}
	}
}

// writeBytes writes b to name in dir and returns the path.
func writeBytes(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantErr checks that err wraps sentinel and that its message contains each
// of the substrings in want.
func wantErr(t testing.TB, err, sentinel error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one wrapping %v", sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("got error %q, want one wrapping %v", err, sentinel)
	}
	for _, s := range want {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

// readFile returns the contents of path.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// errorsIsAny reports whether err wraps any of targets.
func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
