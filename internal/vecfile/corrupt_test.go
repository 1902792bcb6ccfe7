package vecfile

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// TestVecsInconsistentDim gives row k of a TEXMEX file a different dimension
// prefix (the file size stays a multiple of the row size, so Open succeeds):
// Next and ReadRows must stop at row k with ErrFormat.
func TestVecsInconsistentDim(t *testing.T) {
	const n, dim = 10, 128
	for _, k := range allKinds[:3] {
		for _, bad := range []int{1, 5, n - 1} {
			t.Run(fmt.Sprintf("%v/row=%d", k, bad), func(t *testing.T) {
				dir := t.TempDir()
				b := readFile(t, writeKind(t, dir, k, dim, testRows(k.elem, n, dim)))
				stride := 4 + dim*k.elem.Size()
				off := bad * stride
				binary.LittleEndian.PutUint32(b[off:], 3)
				path := writeBytes(t, dir, "bad"+k.ext(), b)
				r := openKind(t, path)
				want := fmt.Sprintf("vecfile: %s: row %d at offset %d: dimension 3, want 128", path, bad, off)

				buf := make([]byte, n*r.RowBytes())
				m, err := r.Next(buf)
				wantErr(t, err, ErrFormat)
				if err.Error() != want {
					t.Errorf("Next error %q, want %q", err, want)
				}
				if m != bad {
					t.Errorf("Next read %d rows, want the %d before the bad one", m, bad)
				}
				err = r.ReadRows(0, n, buf)
				wantErr(t, err, ErrFormat)
				if err.Error() != want {
					t.Errorf("ReadRows error %q, want %q", err, want)
				}
				if err := r.ReadRows(0, bad, buf); err != nil {
					t.Errorf("ReadRows of the rows before the bad one: %v", err)
				}
			})
		}
	}
}

// TestOpenBadDim checks that the first dimension of a file must be in
// [1, MaxDim].
func TestOpenBadDim(t *testing.T) {
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"zero.fvecs", le(0, 0, 0, 0), "row 0 at offset 0: dimension 0 out of range"},
		{"negative.fvecs", le(-1, 0, 0, 0), "row 0 at offset 0: dimension -1 out of range"},
		{"huge.ivecs", le(MaxDim+1, 0), "dimension 1048577 out of range"},
		{"zero.fbin", le(0, 0), "header at offset 4: dimension 0 out of range"},
		{"huge.u8bin", le(1, MaxDim+1), "header at offset 4: dimension 1048577 out of range"},
		{"max.fbin", le(1<<32-1, 1<<32-1), "dimension 4294967295 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeBytes(t, t.TempDir(), tt.name, tt.file)
			_, err := Open(path)
			wantErr(t, err, ErrFormat, path, tt.want)
		})
	}
}

// TestOpenTrailingBytes checks that bytes after the rows an .fbin-style or
// .npy header promises are an error.
func TestOpenTrailingBytes(t *testing.T) {
	for _, k := range allKinds[3:] {
		t.Run(k.String(), func(t *testing.T) {
			dir := t.TempDir()
			b := readFile(t, writeKind(t, dir, k, 2, testRows(k.elem, 3, 2)))
			size := len(b)
			path := writeBytes(t, dir, "long"+k.ext(), append(b, 0))
			_, err := Open(path)
			wantErr(t, err, ErrFormat, path, fmt.Sprintf("unexpected bytes at offset %d", size))
		})
	}
}

// TestOpenBigANNGroundTruth reads a big-ann-benchmarks ground-truth .ibin
// file (ids, then as many float32 distances): the rows are the ids.
func TestOpenBigANNGroundTruth(t *testing.T) {
	file := append(le(2, 3, 10, 11, 12, 20, 21, 22), le(float32(.1), float32(.2), float32(.3), float32(.4), float32(.5), float32(.6))...)
	path := writeBytes(t, t.TempDir(), "GT.public.ibin", file)
	ids, dim, err := ReadInt32(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[10 11 12 20 21 22]"; dim != 3 || fmt.Sprint(ids) != want {
		t.Fatalf("got %v (dim %d), want %s (dim 3)", ids, dim, want)
	}
}

// TestOpenNoFile checks that a missing file gives an error that is not one
// of the format sentinels.
func TestOpenNoFile(t *testing.T) {
	_, err := Open(t.TempDir() + "/missing.fvecs")
	if err == nil || errorsIsAny(err, ErrFormat, ErrTruncated, ErrRange) {
		t.Fatalf("Open of a missing file = %v, want an I/O error", err)
	}
	if _, err := Open(t.TempDir() + "/missing.txt"); !errorsIsAny(err, ErrFormat) {
		t.Fatalf("Open of an unknown extension = %v, want ErrFormat", err)
	}
}
