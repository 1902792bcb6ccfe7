package vecfile

import (
	"fmt"
	"os"
	"testing"
)

// TestOpenTruncated cuts a valid file of every kind at points inside its
// header and inside its rows: Open must fail with ErrTruncated and name the
// file and the offset where it ends.
func TestOpenTruncated(t *testing.T) {
	const n, dim = 4, 3
	for _, k := range allKinds {
		t.Run(k.String(), func(t *testing.T) {
			dir := t.TempDir()
			full := readFile(t, writeKind(t, dir, k, dim, testRows(k.elem, n, dim)))
			size := len(full)
			var cuts []int
			switch {
			case k.format <= IVecs: // 0 and multiples of the row size are valid files
				row := 4 + dim*k.elem.Size()
				cuts = []int{1, 3, row + 2, 2*row + 4, size - 1}
			case k.format == NPY:
				// magic, version, header length, header, data
				cuts = []int{0, 3, 7, 9, 50, 127, 128, 130, size - 1}
			default:
				cuts = []int{0, 4, 7, 8, 9, size - 1}
			}
			for _, cut := range cuts {
				path := writeBytes(t, dir, fmt.Sprintf("cut%d%s", cut, k.ext()), full[:cut])
				r, err := Open(path)
				if err == nil {
					r.Close()
				}
				wantErr(t, err, ErrTruncated, path, fmt.Sprintf("offset %d", cut))
			}
		})
	}
}

// TestNextTruncatedAfterOpen shrinks a file after Open: Next and ReadRows
// must report ErrTruncated with the offset where the data stops.
func TestNextTruncatedAfterOpen(t *testing.T) {
	const n, dim = 4, 3
	for _, k := range allKinds {
		t.Run(k.String(), func(t *testing.T) {
			path := writeKind(t, t.TempDir(), k, dim, testRows(k.elem, n, dim))
			r := openKind(t, path)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			stride := int64(r.RowBytes())
			if k.format <= IVecs {
				stride += 4
			}
			cut := st.Size() - stride - 1 // the last byte of row 2
			if err := os.Truncate(path, cut); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, n*r.RowBytes())
			err = r.ReadRows(0, n, buf)
			wantErr(t, err, ErrTruncated, path, fmt.Sprintf("offset %d", cut))

			m, err := r.Next(buf)
			wantErr(t, err, ErrTruncated, path, fmt.Sprintf("offset %d", cut), "row 2")
			if m != 2 {
				t.Errorf("Next read %d rows before the cut, want 2", m)
			}
			if _, again := r.Next(buf); again != err {
				t.Errorf("Next after an error = %v, want the same error %v", again, err)
			}
		})
	}
}
