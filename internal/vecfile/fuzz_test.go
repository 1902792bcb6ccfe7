package vecfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// checkFile opens path as format f and reads all of it in every way the API
// offers. It must never panic; a file that opens must read back as many
// rows as Len says, unless a TEXMEX row has another dimension.
func checkFile(t *testing.T, path string, f Format) {
	r, err := OpenFormat(path, f)
	if err != nil {
		if !errorsIsAny(err, ErrFormat, ErrTruncated) {
			t.Fatalf("Open: error %v wraps neither ErrFormat nor ErrTruncated", err)
		}
		return
	}
	defer r.Close()
	if r.Dim() < 0 || r.Dim() > MaxDim || r.Len() < 0 || (r.Dim() == 0) != (r.RowBytes() == 0) {
		t.Fatalf("Open: dim %d len %d rowbytes %d", r.Dim(), r.Len(), r.RowBytes())
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(r.Len())*int64(r.RowBytes()) > st.Size() {
		t.Fatalf("Len %d × RowBytes %d exceeds the file size %d", r.Len(), r.RowBytes(), st.Size())
	}
	all := make([]byte, r.Len()*r.RowBytes())
	rowsErr := r.ReadRows(0, r.Len(), all)
	buf := make([]byte, 3*r.RowBytes()+1)
	total := 0
	for {
		n, err := r.Next(buf)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, ErrFormat) || f > IVecs {
				t.Fatalf("Next after %d rows: %v", total, err)
			}
			if rowsErr == nil {
				t.Fatalf("Next failed (%v) but ReadRows of all rows did not", err)
			}
			return
		}
	}
	if total != r.Len() || rowsErr != nil {
		t.Fatalf("Next read %d rows of %d; ReadRows: %v", total, r.Len(), rowsErr)
	}
}

// fuzzSeeds returns valid and damaged files of every kind.
func fuzzSeeds(f *testing.F, kinds []kind) [][]byte {
	dir := f.TempDir()
	var seeds [][]byte
	for i, k := range kinds {
		b := readFile(f, writeKind(f, dir, k, 3, testRows(k.elem, 2, 3)))
		seeds = append(seeds, b, b[:len(b)-1], b[:len(b)/2], append(b, 0))
		if i == 0 {
			seeds = append(seeds, nil)
		}
	}
	for _, g := range goldenFiles {
		seeds = append(seeds, g.file)
	}
	return seeds
}

// FuzzOpenNPYHeader feeds arbitrary bytes to the .npy reader.
func FuzzOpenNPYHeader(f *testing.F) {
	for _, s := range fuzzSeeds(f, allKinds[7:]) {
		f.Add(s)
	}
	f.Add(numpyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 64, make([]byte, 24)))
	f.Add(npyFileVersion(3, "{'descr': '|u1', 'fortran_order': False, 'shape': (2L, 3), }", make([]byte, 6)))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.npy")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		checkFile(t, path, NPY)
	})
}

// FuzzReader feeds arbitrary bytes to the reader of every format.
func FuzzReader(f *testing.F) {
	for i, s := range fuzzSeeds(f, allKinds) {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, format uint8, data []byte) {
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		checkFile(t, path, Format(format%uint8(NPY)+1))
	})
}
