package rabitq

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestPaddedDim(t *testing.T) {
	for _, c := range []struct{ d, want int }{{1, 64}, {63, 64}, {64, 64}, {65, 128}, {100, 128}, {784, 832}, {1536, 1536}} {
		if got := PaddedDim(c.d); got != c.want {
			t.Errorf("PaddedDim(%d) = %d, want %d", c.d, got, c.want)
		}
	}
}

func rotators(t *testing.T, d int, seed uint64, dense bool) []Rotator {
	t.Helper()
	f, err := NewFhtRotator(d, seed)
	if err != nil {
		t.Fatal(err)
	}
	rs := []Rotator{f}
	if dense {
		m, err := NewDenseRotator(d, seed)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, m)
	}
	return rs
}

// TestRotationKeepsNormsAndInnerProducts checks ‖Px‖ = ‖x‖ and
// ⟨Px,Py⟩ = ⟨x,y⟩ to 1e-5 relative on random vectors.
func TestRotationKeepsNormsAndInnerProducts(t *testing.T) {
	for _, d := range testDims {
		for _, rot := range rotators(t, d, 7, d <= 784) {
			name := fmt.Sprintf("%T/d=%d", rot, d)
			r := newRand(name)
			if rot.Dim() != d || rot.PaddedDim() != PaddedDim(d) {
				t.Fatalf("%s: dims %d→%d, want %d→%d", name, rot.Dim(), rot.PaddedDim(), d, PaddedDim(d))
			}
			px := make([]float32, rot.PaddedDim())
			py := make([]float32, rot.PaddedDim())
			for range 20 {
				x, y := gaussian(r, d, 3), gaussian(r, d, 3)
				rot.Rotate(px, x)
				rot.Rotate(py, y)
				nx, ny := math.Sqrt(dot64(x, x)), math.Sqrt(dot64(y, y))
				if got := math.Sqrt(dot64(px, px)); math.Abs(got-nx) > 1e-5*nx {
					t.Fatalf("%s: ‖Px‖ = %v, want ‖x‖ = %v", name, got, nx)
				}
				if got, want := dot64(px, py), dot64(x, y); math.Abs(got-want) > 1e-5*nx*ny {
					t.Fatalf("%s: ⟨Px,Py⟩ = %v, want ⟨x,y⟩ = %v", name, got, want)
				}
			}
		}
	}
}

// TestRotationColumnsAreOrthonormal rotates every basis vector and checks
// that the images form an orthonormal set, which is the full statement
// that P is an isometry on ℝ^D.
func TestRotationColumnsAreOrthonormal(t *testing.T) {
	for _, d := range []int{1, 2, 63, 64, 65, 96, 100, 128} {
		for _, rot := range rotators(t, d, 3, true) {
			cols := make([][]float32, d)
			for j := range cols {
				e := make([]float32, d)
				e[j] = 1
				cols[j] = make([]float32, rot.PaddedDim())
				rot.Rotate(cols[j], e)
			}
			for i := range cols {
				for j := range cols {
					want := 0.0
					if i == j {
						want = 1
					}
					if got := dot64(cols[i], cols[j]); math.Abs(got-want) > 1e-5 {
						t.Fatalf("%T d=%d: ⟨Pe%d, Pe%d⟩ = %v, want %v", rot, d, i, j, got, want)
					}
				}
			}
		}
	}
}

func TestRotationIsDeterministicBySeed(t *testing.T) {
	for _, d := range testDims {
		r := newRand(fmt.Sprint("det", d))
		x := gaussian(r, d, 1)
		dense := d <= 128
		a, b, c := rotators(t, d, 11, dense), rotators(t, d, 11, dense), rotators(t, d, 12, dense)
		for i := range a {
			pa := make([]float32, a[i].PaddedDim())
			pb := make([]float32, a[i].PaddedDim())
			pc := make([]float32, a[i].PaddedDim())
			a[i].Rotate(pa, x)
			b[i].Rotate(pb, x)
			c[i].Rotate(pc, x)
			if !slices.Equal(pa, pb) {
				t.Errorf("%T d=%d: two rotators with seed 11 disagree", a[i], d)
			}
			if slices.Equal(pa, pc) {
				t.Errorf("%T d=%d: seeds 11 and 12 give the same rotation", a[i], d)
			}
		}
	}
}

// TestFhtRotatorGolden pins the output for one seed so that a change of
// generator or round structure, which would silently invalidate stored
// codes, fails here.
func TestFhtRotatorGolden(t *testing.T) {
	rot, err := NewFhtRotator(3, 42)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, 64)
	rot.Rotate(out, []float32{1, 2, 3})
	got := fmt.Sprintf("%.6f %.6f %.6f %.6f", out[0], out[1], out[62], out[63])
	const want = "0.929688 -0.210938 0.382812 -0.820312"
	if got != want {
		t.Errorf("Rotate([1 2 3]) with seed 42 starts/ends %s, want %s", got, want)
	}
}

func TestRotatorRejectsBadDim(t *testing.T) {
	for _, d := range []int{0, -1, MaxDim + 1} {
		if _, err := NewFhtRotator(d, 1); err == nil {
			t.Errorf("NewFhtRotator(%d) succeeded, want ErrBadDim", d)
		}
	}
}

func TestRotateDoesNotAllocate(t *testing.T) {
	rot, _ := NewFhtRotator(784, 1)
	x := gaussian(newRand("alloc"), 784, 1)
	out := make([]float32, rot.PaddedDim())
	if n := testing.AllocsPerRun(10, func() { rot.Rotate(out, x) }); n != 0 {
		t.Errorf("Rotate allocates %v times per call, want 0", n)
	}
}
