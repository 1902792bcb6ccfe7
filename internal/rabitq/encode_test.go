package rabitq

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

func TestOptionsValidate(t *testing.T) {
	bad := []Options{
		{},
		{Dim: MaxDim + 1},
		{Dim: 8, Bits: 9},
		{Dim: 8, QueryBits: 9},
		{Dim: 8, Metric: 9},
		{Dim: 8, Rotation: 5},
		{Dim: 8, Eps0: -1},
		{Dim: 8, QueryZ: math.NaN()},
	}
	for _, o := range bad {
		if _, err := New(o); !errors.Is(err, ErrBadOptions) {
			t.Errorf("New(%+v) = %v, want ErrBadOptions", o, err)
		}
	}
	z := mustNew(t, Options{Dim: 100})
	got := z.Options()
	want := Options{Dim: 100, Bits: 1, QueryBits: 4, Metric: vec.L2, Eps0: DefaultEps0, QueryZ: DefaultQueryZ}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if z.CodeSize() != 128/8+FactorBytes {
		t.Errorf("CodeSize = %d, want %d", z.CodeSize(), 128/8+FactorBytes)
	}
}

func TestEncodeRejectsWrongLengths(t *testing.T) {
	z := mustNew(t, Options{Dim: 100, Bits: 2})
	e := z.NewEncoder()
	ok := make([]float32, z.PaddedDim())
	for _, c := range []struct {
		dst  int
		o, c []float32
	}{
		{z.CodeSize(), make([]float32, 100), ok},
		{z.CodeSize(), ok, ok[:1]},
		{z.CodeSize() - 1, ok, ok},
	} {
		if err := e.Encode(make([]byte, c.dst), c.o, c.c); !errors.Is(err, ErrLength) {
			t.Errorf("Encode(dst %d, o %d, c %d) = %v, want ErrLength", c.dst, len(c.o), len(c.c), err)
		}
	}
	if err := z.NewQuery().Prepare(ok); !errors.Is(err, ErrLength) {
		t.Errorf("Prepare of a padded-length vector = %v, want ErrLength", err)
	}
}

// TestCodeLayout checks the documented byte layout: B planes of D′/64
// little-endian words, the sign plane first, then the factors; so the
// first D′/8 bytes of a B-bit code are the 1-bit code of the same vector.
func TestCodeLayout(t *testing.T) {
	const d = 100
	r := newRand("layout")
	o, c := gaussian(r, d, 1), gaussian(r, d, 1)
	one := mustNew(t, Options{Dim: d, Bits: 1, Seed: 5})
	oc, cc := rotated(t, one, o), rotated(t, one, c)
	code1 := encode(t, one.NewEncoder(), oc, cc)
	for i := range oc {
		bit := code1[i/8] >> (i % 8) & 1
		if want := oc[i] >= cc[i]; (bit == 1) != want {
			t.Fatalf("1-bit code bit %d = %d, want the sign of r′_%d (%v)", i, bit, i, oc[i]-cc[i])
		}
	}
	for b := 2; b <= 8; b++ {
		z := mustNew(t, Options{Dim: d, Bits: b, Seed: 5})
		code := encode(t, z.NewEncoder(), oc, cc)
		if len(code) != b*128/8+16 {
			t.Fatalf("B=%d: code is %d bytes, want %d", b, len(code), b*128/8+16)
		}
		if !slices.Equal(code[:16], code1[:16]) {
			t.Errorf("B=%d: first plane differs from the 1-bit code", b)
		}
	}
}

// cosine returns ⟨y, r′⟩/(‖y‖‖r′‖) for a code, the quality the rescale
// search maximises (a in the design note).
func cosine(code []byte, bits int, r []float64) float64 {
	words := len(r) / 64
	u := unpackRef(code[:bits*words*8], bits, words)
	half := float64(int(1)<<bits-1) / 2
	var yr, yy, rr float64
	for i, ui := range u {
		y := float64(ui) - half
		yr += y * r[i]
		yy += y * y
		rr += r[i] * r[i]
	}
	return yr / math.Sqrt(yy*rr)
}

// TestRescaleFindsTheBestScale compares the breakpoint sweep with a brute
// force over every breakpoint t = k/|r_i| and checks that more bits never
// code worse, with the paper's typical cosines (≈0.8 at 1 bit, >0.97 at 4).
func TestRescaleFindsTheBestScale(t *testing.T) {
	r := newRand("rescale")
	const d = 64
	for trial := range 20 {
		o := gaussian(r, d, 1)
		zero := make([]float32, d)
		res := make([]float64, d)
		for i := range o {
			res[i] = float64(o[i])
		}
		prev := 0.0
		for bits := 1; bits <= 8; bits++ {
			z := mustNew(t, Options{Dim: d, Bits: bits, ExactScale: true})
			code := encode(t, z.NewEncoder(), o, zero)
			got := cosine(code, bits, res)
			// The default fixed scale codes almost as well.
			zf := mustNew(t, Options{Dim: d, Bits: bits})
			if fast := cosine(encode(t, zf.NewEncoder(), o, zero), bits, res); fast > got+1e-9 || fast < got-0.01 {
				t.Errorf("trial %d B=%d: fixed-scale cos %v, searched %v: want at most 0.01 below", trial, bits, fast, got)
			}
			if got < prev-1e-12 {
				t.Errorf("trial %d: B=%d codes worse (cos %v) than B=%d (%v)", trial, bits, got, bits-1, prev)
			}
			prev = got
			if bits > 4 {
				continue
			}
			top := float64(int(1)<<(bits-1) - 1)
			best := 0.0
			for i := range res {
				for k := 0.0; k <= top; k++ {
					tt := (k + 1e-9) / math.Abs(res[i])
					var yr, yy float64
					for _, x := range res {
						e := min(math.Floor(tt*math.Abs(x)), top) + 0.5
						yr += e * math.Abs(x)
						yy += e * e
					}
					best = max(best, yr/math.Sqrt(yy))
				}
			}
			var rr float64
			for _, x := range res {
				rr += x * x
			}
			best /= math.Sqrt(rr)
			if got < best-1e-9 {
				t.Errorf("trial %d B=%d: sweep cos %v < brute-force best %v", trial, bits, got, best)
			}
			switch {
			case bits == 1 && (got < 0.7 || got > 0.9):
				t.Errorf("trial %d: 1-bit cos %v, want ≈ √(2/π) ≈ 0.8", trial, got)
			case bits == 4 && got < 0.97:
				t.Errorf("trial %d: 4-bit cos %v, want > 0.97", trial, got)
			}
		}
	}
}

// TestVectorEqualToCenter: a zero residual gives a zero code whose
// estimate is exactly the query's distance to the center, with no slack.
func TestVectorEqualToCenter(t *testing.T) {
	for _, m := range []vec.Metric{vec.L2, vec.InnerProduct} {
		for _, bits := range []int{1, 3, 8} {
			z := mustNew(t, Options{Dim: 65, Bits: bits, Metric: m})
			r := newRand(fmt.Sprint("eq", m, bits))
			c := rotated(t, z, gaussian(r, 65, 1))
			code := encode(t, z.NewEncoder(), c, c)
			if f := ReadFactors(code); f != (Factors{}) {
				t.Errorf("%v B=%d: factors %+v, want zero", m, bits, f)
			}
			q := z.NewQuery()
			if err := q.Prepare(gaussian(r, 65, 1)); err != nil {
				t.Fatal(err)
			}
			ctr := q.Center(c)
			est := q.Estimate(code, ctr)
			want := float32(ctr.Add)
			if est != (Estimate{want, want, want}) {
				t.Errorf("%v B=%d: estimate %+v, want exactly %v with no slack", m, bits, est, want)
			}
		}
	}
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	for _, bits := range []int{1, 4, 8} {
		z := mustNew(t, Options{Dim: 784, Bits: bits})
		r := newRand("encalloc")
		o, c := rotated(t, z, gaussian(r, 784, 1)), rotated(t, z, gaussian(r, 784, 1))
		e := z.NewEncoder()
		code := make([]byte, z.CodeSize())
		if n := testing.AllocsPerRun(5, func() { _ = e.Encode(code, o, c) }); n != 0 {
			t.Errorf("B=%d: Encode allocates %v times per call, want 0", bits, n)
		}
	}
}
