package vecfile

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"testing"
)

// TestRoundTrip writes every kind of file with awkward dimensions and row
// counts and reads it back with Next and ReadRows.
func TestRoundTrip(t *testing.T) {
	for _, k := range allKinds {
		for _, dim := range []int{1, 3, 100, 784} {
			for _, n := range []int{0, 1, 7} {
				t.Run(fmt.Sprintf("%v/dim=%d/rows=%d", k, dim, n), func(t *testing.T) {
					rows := testRows(k.elem, n, dim)
					path := writeKind(t, t.TempDir(), k, dim, rows)
					r := openKind(t, path)

					wantDim := dim
					if n == 0 && k.format <= IVecs {
						wantDim = 0 // an empty TEXMEX file has no dimension
					}
					if r.Path() != path || r.Format() != k.format || r.Elem() != k.elem ||
						r.Dim() != wantDim || r.Len() != n || r.RowBytes() != wantDim*k.elem.Size() {
						t.Fatalf("got path %s format %v elem %v dim %d len %d rowbytes %d; want %s %v %v %d %d %d",
							r.Path(), r.Format(), r.Elem(), r.Dim(), r.Len(), r.RowBytes(),
							path, k.format, k.elem, wantDim, n, wantDim*k.elem.Size())
					}
					if got := nextAll(t, r, 3); !bytes.Equal(got, rows) {
						t.Fatalf("Next returned %d bytes that differ from the %d written", len(got), len(rows))
					}
					got := make([]byte, len(rows))
					if err := r.ReadRows(0, n, got); err != nil {
						t.Fatalf("ReadRows(0, %d): %v", n, err)
					}
					if !bytes.Equal(got, rows) {
						t.Fatalf("ReadRows(0, %d) differs from the rows written", n)
					}
				})
			}
		}
	}
}

// TestRoundTripFloat32 writes float32 values with WriteFloat32 and reads them
// back with ReadFloat32, bit for bit (NaN, infinities and -0 included).
func TestRoundTripFloat32(t *testing.T) {
	vals := []float32{0, float32(math.Copysign(0, -1)), 1.5, -2.25, math.MaxFloat32, math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 3e-39, 7, 8}
	const dim = 3
	for _, k := range []kind{{FVecs, Float32}, {FBin, Float32}, {NPY, Float32}} {
		t.Run(k.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data"+k.ext())
			w := createKind(t, path, k, dim)
			// Two calls, so rows are appended.
			if err := w.WriteFloat32(vals[:6]); err != nil {
				t.Fatal(err)
			}
			if err := w.WriteFloat32(vals[6:]); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, gotDim, err := ReadFloat32(path)
			if err != nil {
				t.Fatal(err)
			}
			if gotDim != dim || len(got) != len(vals) {
				t.Fatalf("got %d values of dim %d, want %d of dim %d", len(got), gotDim, len(vals), dim)
			}
			for i := range vals {
				if math.Float32bits(got[i]) != math.Float32bits(vals[i]) {
					t.Errorf("value %d = %v, want %v", i, got[i], vals[i])
				}
			}
		})
	}
}

// TestRoundTripInt32 writes int32 values with WriteInt32 and reads them back
// with ReadInt32.
func TestRoundTripInt32(t *testing.T) {
	vals := []int32{0, -1, 1, math.MaxInt32, math.MinInt32, 42}
	const dim = 2
	for _, k := range []kind{{IVecs, Int32}, {IBin, Int32}, {NPY, Int32}} {
		t.Run(k.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data"+k.ext())
			w := createKind(t, path, k, dim)
			if err := w.WriteInt32(vals); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, gotDim, err := ReadInt32(path)
			if err != nil {
				t.Fatal(err)
			}
			if gotDim != dim || fmt.Sprint(got) != fmt.Sprint(vals) {
				t.Fatalf("got %v (dim %d), want %v (dim %d)", got, gotDim, vals, dim)
			}
		})
	}
}

// TestRoundTripLarge writes more rows than fit one write buffer, so that
// Next and ReadRows cross buffer boundaries.
func TestRoundTripLarge(t *testing.T) {
	const n, dim = 3000, 100 // 1.2 MB of float32: more than one 1 MiB buffer
	for _, k := range []kind{{FVecs, Float32}, {FBin, Float32}, {NPY, Float32}} {
		t.Run(k.String(), func(t *testing.T) {
			rows := testRows(Float32, n, dim)
			path := writeKind(t, t.TempDir(), k, dim, rows)
			r := openKind(t, path)
			if got := nextAll(t, r, 1000); !bytes.Equal(got, rows) {
				t.Fatal("Next returned different rows")
			}
			got := make([]byte, len(rows))
			if err := r.ReadRows(0, n, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, rows) {
				t.Fatal("ReadRows returned different rows")
			}
		})
	}
}
