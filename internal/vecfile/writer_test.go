package vecfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		create   func(path string) (*Writer, error)
		sentinel error
		want     string
	}{
		{"npy via Create", func(p string) (*Writer, error) { return Create(p, NPY, 4) }, ErrFormat, "use CreateNPY"},
		{"invalid format", func(p string) (*Writer, error) { return Create(p, 0, 4) }, ErrFormat, "invalid Format(0)"},
		{"invalid elem", func(p string) (*Writer, error) { return CreateNPY(p, 7, 4) }, ErrFormat, "invalid Elem(7)"},
		{"dim 0", func(p string) (*Writer, error) { return Create(p, FVecs, 0) }, ErrRange, "dimension 0 out of range"},
		{"negative dim", func(p string) (*Writer, error) { return CreateNPY(p, Float32, -1) }, ErrRange, "dimension -1 out of range"},
		{"huge dim", func(p string) (*Writer, error) { return Create(p, FBin, MaxDim+1) }, ErrRange, "dimension 1048577 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "x")
			_, err := tt.create(path)
			wantErr(t, err, tt.sentinel, path, tt.want)
			if _, statErr := os.Stat(path); statErr == nil {
				t.Errorf("a failed create left %s behind", path)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	newWriter := func(t *testing.T, f Format) *Writer {
		w, err := Create(filepath.Join(t.TempDir(), "x"), f, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	}
	t.Run("partial row", func(t *testing.T) {
		err := newWriter(t, FVecs).Write(make([]byte, 17))
		wantErr(t, err, ErrRange, "17 bytes are not a whole number of 16-byte rows")
	})
	t.Run("partial float32 row", func(t *testing.T) {
		err := newWriter(t, FBin).WriteFloat32(make([]float32, 5))
		wantErr(t, err, ErrRange, "5 values are not a whole number of rows of dimension 4")
	})
	t.Run("float32 to int32 file", func(t *testing.T) {
		err := newWriter(t, IVecs).WriteFloat32(make([]float32, 4))
		wantErr(t, err, ErrFormat, "WriteFloat32: the file's elements are int32")
	})
	t.Run("int32 to uint8 file", func(t *testing.T) {
		err := newWriter(t, U8Bin).WriteInt32(make([]int32, 4))
		wantErr(t, err, ErrFormat, "WriteInt32: the file's elements are uint8")
	})
	t.Run("after close", func(t *testing.T) {
		w := newWriter(t, FVecs)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		if err := w.Write(make([]byte, 16)); err == nil {
			t.Error("Write after Close succeeded")
		}
	})
}

// TestWriterPatchesRowCount checks that the row count in the header is the
// number of rows written, after many small writes.
func TestWriterPatchesRowCount(t *testing.T) {
	const dim, n = 5, 1000
	for _, k := range []kind{{FBin, Float32}, {U8Bin, Uint8}, {NPY, Int32}} {
		t.Run(k.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a"+k.ext())
			w := createKind(t, path, k, dim)
			rows := testRows(k.elem, n, dim)
			rb := dim * k.elem.Size()
			for i := range n {
				if err := w.Write(rows[i*rb : (i+1)*rb]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r := openKind(t, path)
			if r.Len() != n || r.Dim() != dim {
				t.Fatalf("read back %d×%d, want %d×%d", r.Len(), r.Dim(), n, dim)
			}
		})
	}
}
