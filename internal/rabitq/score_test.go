package rabitq

import (
	"fmt"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

// TestKernelsMatchReference holds the popcount kernel to the unpacking
// reference: the integer sums must be equal, and so then must every bit
// of the estimates, for every dimension, B and Bq.
func TestKernelsMatchReference(t *testing.T) {
	for _, d := range testDims {
		for bits := 1; bits <= 8; bits++ {
			for _, bq := range []int{1, 4, 8} {
				name := fmt.Sprintf("d=%d/B=%d/Bq=%d", d, bits, bq)
				r := newRand(name)
				z := mustNew(t, Options{Dim: d, Bits: bits, QueryBits: bq, Seed: 9})
				e, q := z.NewEncoder(), z.NewQuery()
				c := rotated(t, z, gaussian(r, d, 1))
				if err := q.Prepare(gaussian(r, d, 1)); err != nil {
					t.Fatal(err)
				}
				ctr := q.Center(c)
				for range 5 {
					code := encode(t, e, rotated(t, z, gaussian(r, d, 1)), c)
					planes := code[:len(code)-FactorBytes]
					gi, gp := dotCodeGeneric(planes, bits, z.words, q.planes, bq)
					ri, rp := dotCodeRef(planes, bits, z.words, q.qbar)
					if gi != ri || gp != rp {
						t.Fatalf("%s: generic sums (%d, %d), reference (%d, %d)", name, gi, gp, ri, rp)
					}
					got, want := q.Estimate(code, ctr), q.estimateRef(code, ctr)
					if got != want {
						t.Fatalf("%s: Estimate %+v, reference %+v", name, got, want)
					}
					if split := q.EstimatePlanes(planes, ReadFactors(code), ctr); split != got {
						t.Fatalf("%s: EstimatePlanes %+v, Estimate %+v", name, split, got)
					}
				}
			}
		}
	}
}

func TestEstimateDoesNotAllocate(t *testing.T) {
	for _, bits := range []int{1, 4} {
		z := mustNew(t, Options{Dim: 128, Bits: bits})
		r := newRand("estalloc")
		c := rotated(t, z, gaussian(r, 128, 1))
		code := encode(t, z.NewEncoder(), rotated(t, z, gaussian(r, 128, 1)), c)
		q := z.NewQuery()
		v := gaussian(r, 128, 1)
		if n := testing.AllocsPerRun(5, func() { _ = q.Prepare(v) }); n != 0 {
			t.Errorf("B=%d: Prepare allocates %v times per call, want 0", bits, n)
		}
		ctr := q.Center(c)
		if n := testing.AllocsPerRun(5, func() { _ = q.Estimate(code, ctr) }); n != 0 {
			t.Errorf("B=%d: Estimate allocates %v times per call, want 0", bits, n)
		}
	}
}

// TestCenterHelpersAgree: the Center the router can build from numbers it
// has equals the one computed from the rotated vectors.
func TestCenterHelpersAgree(t *testing.T) {
	r := newRand("center")
	qv, cv := gaussian(r, 100, 1), gaussian(r, 100, 1)
	for _, m := range []vec.Metric{vec.L2, vec.InnerProduct} {
		z := mustNew(t, Options{Dim: 100, Metric: m})
		q := z.NewQuery()
		if err := q.Prepare(qv); err != nil {
			t.Fatal(err)
		}
		got := q.Center(rotated(t, z, cv))
		var want Center
		if m == vec.L2 {
			want = CenterL2(exactDist(vec.L2, qv, cv))
		} else {
			want = CenterIP(dot64(qv, cv), dot64(qv, qv), dot64(cv, cv))
		}
		if d := got.Add - want.Add; d > 1e-4 || d < -1e-4 {
			t.Errorf("%v: Center.Add %v, want %v", m, got.Add, want.Add)
		}
		if d := got.Err - want.Err; d > 1e-4 || d < -1e-4 {
			t.Errorf("%v: Center.Err %v, want %v", m, got.Err, want.Err)
		}
	}
}

func TestEstimateIntersect(t *testing.T) {
	a := Estimate{Dist: 5, Lower: 2, Upper: 8}
	b := Estimate{Dist: 6.5, Lower: 4, Upper: 7}
	if got, want := a.Intersect(b), (Estimate{Dist: 6.5, Lower: 4, Upper: 7}); got != want {
		t.Errorf("Intersect = %+v, want %+v", got, want)
	}
	c := Estimate{Dist: 3, Lower: 1, Upper: 5}
	if got, want := b.Intersect(c), (Estimate{Dist: 5, Lower: 4, Upper: 5}); got != want {
		t.Errorf("Intersect = %+v, want %+v (narrower estimate clamped into the overlap)", got, want)
	}
	far := Estimate{Dist: 20, Lower: 19, Upper: 21}
	if got := a.Intersect(far); got != far {
		t.Errorf("disjoint Intersect = %+v, want the narrower %+v", got, far)
	}
	if !a.MayBeat(2) || a.MayBeat(1.5) {
		t.Errorf("MayBeat: lower bound 2 must beat 2 and not 1.5")
	}
}
