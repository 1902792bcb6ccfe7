package vecfile

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestReadRowsConcurrent reads random row ranges from many goroutines at
// once, while another goroutine streams the file with Next.
func TestReadRowsConcurrent(t *testing.T) {
	const n, dim, workers, reads = 500, 7, 8, 50
	for _, k := range []kind{{FVecs, Float32}, {BVecs, Uint8}, {FBin, Float32}, {NPY, Int8}} {
		t.Run(k.String(), func(t *testing.T) {
			rows := testRows(k.elem, n, dim)
			r := openKind(t, writeKind(t, t.TempDir(), k, dim, rows))
			rb := r.RowBytes()
			var wg sync.WaitGroup
			errs := make(chan error, workers+1)
			for w := range workers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					buf := make([]byte, n*rb)
					for range reads {
						start := rng.IntN(n)
						m := rng.IntN(n - start + 1)
						if err := r.ReadRows(start, m, buf); err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(buf[:m*rb], rows[start*rb:(start+m)*rb]) {
							errs <- fmt.Errorf("ReadRows(%d, %d) returned wrong rows", start, m)
							return
						}
					}
				})
			}
			wg.Go(func() {
				got := make([]byte, 0, len(rows))
				buf := make([]byte, 3*rb)
				for {
					m, err := r.Next(buf)
					got = append(got, buf[:m*rb]...)
					if err != nil {
						break
					}
				}
				if !bytes.Equal(got, rows) {
					errs <- fmt.Errorf("Next, run beside ReadRows, returned wrong rows")
				}
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestReadRowsCrossesScratchChunks reads many rows of a TEXMEX file, more
// than one pooled scratch buffer holds.
func TestReadRowsCrossesScratchChunks(t *testing.T) {
	const n, dim = 1000, 100 // 404 KB on disk, scratch is 256 KiB
	rows := testRows(Float32, n, dim)
	r := openKind(t, writeKind(t, t.TempDir(), kind{FVecs, Float32}, dim, rows))
	got := make([]byte, len(rows))
	if err := r.ReadRows(0, n, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, rows) {
		t.Fatal("ReadRows returned wrong rows")
	}
}

func TestReadRowsOutOfRange(t *testing.T) {
	const n, dim = 4, 2
	r := openKind(t, writeKind(t, t.TempDir(), kind{FVecs, Float32}, dim, testRows(Float32, n, dim)))
	big := make([]byte, 10*r.RowBytes())
	tests := []struct {
		start, n int
		dst      []byte
		want     string
	}{
		{-1, 1, big, "rows [-1, 0) out of range [0, 4)"},
		{0, -1, big, "out of range"},
		{3, 2, big, "rows [3, 5) out of range [0, 4)"},
		{5, 0, big, "rows [5, 5) out of range [0, 4)"},
		{0, 2, big[:2*r.RowBytes()-1], "buffer of 15 bytes is shorter than 2 rows of 8 bytes"},
	}
	for _, tt := range tests {
		err := r.ReadRows(tt.start, tt.n, tt.dst)
		wantErr(t, err, ErrRange, r.Path(), tt.want)
	}
	if err := r.ReadRows(4, 0, nil); err != nil {
		t.Errorf("ReadRows(4, 0, nil) = %v, want nil (an empty range at the end)", err)
	}
}
