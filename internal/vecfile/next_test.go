package vecfile

import (
	"bytes"
	"io"
	"testing"
)

// TestNextPartialBuffer checks that a dst holding 2.5 rows gets 2 rows per
// call and that the half row at its end is left alone.
func TestNextPartialBuffer(t *testing.T) {
	const n, dim = 5, 3
	for _, k := range allKinds {
		t.Run(k.String(), func(t *testing.T) {
			rows := testRows(k.elem, n, dim)
			r := openKind(t, writeKind(t, t.TempDir(), k, dim, rows))
			rb := r.RowBytes()
			buf := make([]byte, 2*rb+rb/2+1)
			for i := range buf {
				buf[i] = 0xAA
			}
			var got []byte
			for _, want := range []int{2, 2, 1} {
				m, err := r.Next(buf)
				if err != nil || m != want {
					t.Fatalf("Next = %d, %v; want %d, nil", m, err, want)
				}
				got = append(got, buf[:m*rb]...)
				for i, c := range buf[2*rb:] {
					if c != 0xAA {
						t.Fatalf("Next wrote byte %d of the partial row at the end of dst", i)
					}
				}
			}
			if !bytes.Equal(got, rows) {
				t.Fatal("rows differ from those written")
			}
			if m, err := r.Next(buf); m != 0 || err != io.EOF {
				t.Fatalf("Next after the last row = %d, %v; want 0, io.EOF", m, err)
			}
		})
	}
}

// TestNextShortBuffer checks that a dst smaller than one row is an ErrRange
// error that does not spoil the Reader.
func TestNextShortBuffer(t *testing.T) {
	const n, dim = 2, 4
	for _, k := range allKinds {
		t.Run(k.String(), func(t *testing.T) {
			rows := testRows(k.elem, n, dim)
			path := writeKind(t, t.TempDir(), k, dim, rows)
			r := openKind(t, path)
			m, err := r.Next(make([]byte, r.RowBytes()-1))
			if m != 0 {
				t.Errorf("Next returned %d rows, want 0", m)
			}
			wantErr(t, err, ErrRange, path, "shorter than one row")
			if got := nextAll(t, r, 1); !bytes.Equal(got, rows) {
				t.Fatal("rows after the failed call differ from those written")
			}
		})
	}
}

// TestNextEmptyFile checks that a file without rows gives io.EOF at once,
// even to an empty dst.
func TestNextEmptyFile(t *testing.T) {
	for _, k := range allKinds {
		t.Run(k.String(), func(t *testing.T) {
			r := openKind(t, writeKind(t, t.TempDir(), k, 8, nil))
			if k.format <= IVecs {
				if m, err := r.Next(nil); m != 0 || err != io.EOF {
					t.Fatalf("Next(nil) = %d, %v; want 0, io.EOF", m, err)
				}
			}
			if m, err := r.Next(make([]byte, 64)); m != 0 || err != io.EOF {
				t.Fatalf("Next = %d, %v; want 0, io.EOF", m, err)
			}
		})
	}
}

// TestNextAfterClose checks that Next on a closed Reader fails.
func TestNextAfterClose(t *testing.T) {
	r := openKind(t, writeKind(t, t.TempDir(), kind{FVecs, Float32}, 2, testRows(Float32, 1, 2)))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if _, err := r.Next(make([]byte, 64)); err == nil {
		t.Fatal("Next after Close succeeded")
	}
	if err := r.ReadRows(0, 1, make([]byte, 64)); err == nil {
		t.Fatal("ReadRows after Close succeeded")
	}
}

// TestReadDoesNotAllocate checks that Next (once its buffer exists) and
// ReadRows allocate nothing.
func TestReadDoesNotAllocate(t *testing.T) {
	const n, dim = 1000, 16
	for _, k := range []kind{{FVecs, Float32}, {FBin, Float32}} {
		t.Run(k.String(), func(t *testing.T) {
			r := openKind(t, writeKind(t, t.TempDir(), k, dim, testRows(k.elem, n, dim)))
			buf := make([]byte, 4*r.RowBytes())
			r.Next(buf)
			r.ReadRows(0, 4, buf)
			if allocs := testing.AllocsPerRun(100, func() {
				if _, err := r.Next(buf); err != nil {
					t.Fatal(err)
				}
			}); allocs != 0 {
				t.Errorf("Next allocates %v times per call, want 0", allocs)
			}
			if allocs := testing.AllocsPerRun(100, func() {
				if err := r.ReadRows(500, 4, buf); err != nil {
					t.Fatal(err)
				}
			}); allocs != 0 {
				t.Errorf("ReadRows allocates %v times per call, want 0", allocs)
			}
		})
	}
}
