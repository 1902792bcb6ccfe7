package vec

import (
	"math"
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	for _, c := range []struct {
		name string
		in   []float32
		want []float32 // nil: expect false and v unchanged
	}{
		{"3-4-5", []float32{3, 4}, []float32{0.6, 0.8}},
		{"already unit", []float32{0, -1, 0}, []float32{0, -1, 0}},
		{"negative", []float32{-2, 0}, []float32{-1, 0}},
		{"tiny components whose float32 squares underflow", []float32{3e-30, 4e-30}, []float32{0.6, 0.8}},
		{"huge components whose float32 squares overflow", []float32{3e30, 4e30}, []float32{0.6, 0.8}},
		{"zero", []float32{0, 0, 0}, nil},
		{"empty", []float32{}, nil},
		{"inf", []float32{1, inf}, nil},
		{"nan", []float32{nan, 1}, nil},
	} {
		v := slices.Clone(c.in)
		ok := Normalize(v)
		if c.want == nil {
			if ok || !sameBits(v, c.in) {
				t.Errorf("%s: Normalize(%v) = %v leaving %v; want false, unchanged", c.name, c.in, ok, v)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: Normalize(%v) = false, want true", c.name, c.in)
			continue
		}
		for i := range v {
			if math.Abs(float64(v[i]-c.want[i])) > 1e-7 {
				t.Errorf("%s: Normalize(%v) gave %v, want %v", c.name, c.in, v, c.want)
				break
			}
		}
	}
}

func TestNormalizeGivesUnitNorm(t *testing.T) {
	r := newRand(t.Name())
	for _, n := range awkwardLengths[1:] {
		v := randF32(r, n)
		if !Normalize(v) {
			t.Fatalf("n=%d: Normalize of a random vector returned false", n)
		}
		if got := Norm2F32(v); math.Abs(float64(got)-1) > 1e-5 {
			t.Errorf("n=%d: squared norm after Normalize = %v, want 1 ± 1e-5", n, got)
		}
	}
}

func TestNorm2F32(t *testing.T) {
	for _, c := range []struct {
		in   []float32
		want float32
	}{
		{nil, 0},
		{[]float32{3, 4}, 25},
		{[]float32{1, 1, 1, 1, 1, 1, 1, 1, 1}, 9},
	} {
		if got := Norm2F32(c.in); got != c.want {
			t.Errorf("Norm2F32(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
