package vecfile

import (
	"fmt"
	"testing"
)

// TestReadFloat32Converts checks that uint8 and int8 files are converted.
func TestReadFloat32Converts(t *testing.T) {
	raw := []byte{0, 1, 127, 128, 255, 7}
	tests := []struct {
		k    kind
		want string
	}{
		{kind{BVecs, Uint8}, "[0 1 127 128 255 7]"},
		{kind{U8Bin, Uint8}, "[0 1 127 128 255 7]"},
		{kind{I8Bin, Int8}, "[0 1 127 -128 -1 7]"},
		{kind{NPY, Int8}, "[0 1 127 -128 -1 7]"},
	}
	for _, tt := range tests {
		t.Run(tt.k.String(), func(t *testing.T) {
			path := writeKind(t, t.TempDir(), tt.k, 3, raw)
			got, dim, err := ReadFloat32(path)
			if err != nil {
				t.Fatal(err)
			}
			if dim != 3 || fmt.Sprint(got) != tt.want {
				t.Fatalf("got %v (dim %d), want %s (dim 3)", got, dim, tt.want)
			}
		})
	}
}

// TestReadWholeWrongElem checks that the whole-file helpers refuse element
// types they cannot return.
func TestReadWholeWrongElem(t *testing.T) {
	dir := t.TempDir()
	ivecs := writeKind(t, dir, kind{IVecs, Int32}, 2, testRows(Int32, 1, 2))
	fbin := writeKind(t, dir, kind{FBin, Float32}, 2, testRows(Float32, 1, 2))
	_, _, err := ReadFloat32(ivecs)
	wantErr(t, err, ErrFormat, ivecs, "use ReadInt32")
	_, _, err = ReadInt32(fbin)
	wantErr(t, err, ErrFormat, fbin, "elements are float32, not int32")
}

// TestReadWholeEmpty checks the result for a file without rows.
func TestReadWholeEmpty(t *testing.T) {
	dir := t.TempDir()
	f, dim, err := ReadFloat32(writeBytes(t, dir, "e.fvecs", nil))
	if err != nil || len(f) != 0 || dim != 0 {
		t.Errorf("ReadFloat32 of an empty fvecs = %v, %d, %v; want [], 0, nil", f, dim, err)
	}
	i, dim, err := ReadInt32(writeKind(t, dir, kind{IBin, Int32}, 5, nil))
	if err != nil || len(i) != 0 || dim != 5 {
		t.Errorf("ReadInt32 of an empty ibin = %v, %d, %v; want [], 5, nil", i, dim, err)
	}
}

// TestReadWholeCorrupt checks that errors while reading rows come back.
func TestReadWholeCorrupt(t *testing.T) {
	path := writeBytes(t, t.TempDir(), "a.ivecs", le(1, 5, 2, 6))
	_, _, err := ReadInt32(path)
	wantErr(t, err, ErrFormat, path, "row 1 at offset 8: dimension 2, want 1")
}

// TestReadFloat32Head reads the first rows only, and all of them for a
// max of 0 or past the end.
func TestReadFloat32Head(t *testing.T) {
	raw := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8}
	path := writeKind(t, t.TempDir(), kind{U8Bin, Uint8}, 3, raw)
	for _, c := range []struct {
		max  int
		want string
	}{{1, "[0 1 2]"}, {2, "[0 1 2 3 4 5]"}, {0, "[0 1 2 3 4 5 6 7 8]"}, {9, "[0 1 2 3 4 5 6 7 8]"}} {
		got, dim, err := ReadFloat32Head(path, c.max)
		if err != nil || dim != 3 || fmt.Sprint(got) != c.want {
			t.Errorf("max %d: %v (dim %d, %v), want %s", c.max, got, dim, err, c.want)
		}
	}
}
