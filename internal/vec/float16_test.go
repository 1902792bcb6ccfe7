package vec

import (
	"math"
	"sort"
	"testing"
)

// halfValue is the value of the finite half h, worked out from the
// binary16 definition in float64 independently of Float16frombits:
// (-1)^s · m·2^-24 for exponent field 0, (-1)^s · (1024+m)·2^(e-25)
// otherwise.
func halfValue(h uint16) float64 {
	e, m := int(h>>10)&0x1f, float64(h&0x3ff)
	v := math.Ldexp(m, -24)
	if e != 0 {
		v = math.Ldexp(1024+m, e-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

// halfLadder[i] is the value of the non-negative half with bits i, for i
// up to 0x7bff (65504); halfLadder[0x7c00] is 65536, where the next half
// would be were the exponent not all ones. Bits and values rise together,
// so the index of a value is its encoding.
var halfLadder = func() []float64 {
	l := make([]float64, 0x7c01)
	for i := range 0x7c00 {
		l[i] = halfValue(uint16(i))
	}
	l[0x7c00] = 65536
	return l
}()

// nearestHalf is the reference for Float16bits on non-NaN input: it finds
// the two halves around |f| by binary search and picks the nearer, or the
// even one on a tie, by comparing with their midpoint, which float64 holds
// exactly. Past 65536, or rounding up to it, the answer is Inf.
func nearestHalf(f float32) uint16 {
	var sign uint16
	if math.Signbit(float64(f)) {
		sign = 0x8000
	}
	a := math.Abs(float64(f))
	i := sort.SearchFloat64s(halfLadder, a) // first rung ≥ a
	switch {
	case i == len(halfLadder):
		return sign | 0x7c00
	case halfLadder[i] == a:
		return sign | uint16(i)
	}
	lo, hi := i-1, i
	mid := (halfLadder[lo] + halfLadder[hi]) / 2
	if a < mid || a == mid && lo%2 == 0 {
		return sign | uint16(lo)
	}
	return sign | uint16(hi)
}

func TestFloat16frombitsMatchesDefinition(t *testing.T) {
	for h := range 1 << 16 {
		h := uint16(h)
		got := Float16frombits(h)
		switch e, m := h&0x7c00, h&0x3ff; {
		case e == 0x7c00 && m == 0:
			if !math.IsInf(float64(got), 0) || math.Signbit(float64(got)) != (h&0x8000 != 0) {
				t.Errorf("Float16frombits(%#04x) = %v, want %s", h, got, map[bool]string{false: "+Inf", true: "-Inf"}[h&0x8000 != 0])
			}
		case e == 0x7c00:
			// A NaN keeps its sign and all ten fraction bits at the top
			// of the float32 fraction, and is quiet.
			want := uint32(h&0x8000)<<16 | 0x7fc00000 | uint32(m)<<13
			if b := math.Float32bits(got); b != want {
				t.Errorf("Float16frombits(%#04x) = %#08x, want NaN %#08x", h, b, want)
			}
		default:
			want := halfValue(h)
			if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
				t.Errorf("Float16frombits(%#04x) = %v, want %v", h, got, want)
			}
		}
	}
}

func TestFloat16RoundTripsEveryHalf(t *testing.T) {
	all := make([]uint16, 1<<16)
	for i := range all {
		all[i] = uint16(i)
	}
	wide := make([]float32, len(all))
	back := make([]uint16, len(all))
	F16ToF32(wide, all)
	F32ToF16(back, wide)
	for i, h := range all {
		want := h
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			want = h | 0x0200 // a signalling NaN comes back quiet
		}
		if back[i] != want {
			t.Errorf("F32ToF16(F16ToF32(%#04x)) = %#04x, want %#04x", h, back[i], want)
		}
		if one := Float16bits(Float16frombits(h)); one != want {
			t.Errorf("Float16bits(Float16frombits(%#04x)) = %#04x, want %#04x", h, one, want)
		}
	}
}

func TestFloat16bitsEdgeCases(t *testing.T) {
	p := func(e int) float32 { return float32(math.Ldexp(1, e)) }
	next := func(f float32, dir float32) float32 { return math.Nextafter32(f, dir*float32(math.Inf(1))) }
	for _, c := range []struct {
		name string
		in   float32
		want uint16
	}{
		{"+0", 0, 0x0000},
		{"-0", float32(math.Copysign(0, -1)), 0x8000},
		{"1", 1, 0x3c00},
		{"-2", -2, 0xc000},
		{"max half 65504", 65504, 0x7bff},
		{"largest float32 below 65520 rounds down", next(65520, -1), 0x7bff},
		{"65520, the tie past 65504, rounds to Inf", 65520, 0x7c00},
		{"-65520 rounds to -Inf", -65520, 0xfc00},
		{"65536 overflows", 65536, 0x7c00},
		{"1e10 overflows", 1e10, 0x7c00},
		{"MaxFloat32 overflows", math.MaxFloat32, 0x7c00},
		{"+Inf", float32(math.Inf(1)), 0x7c00},
		{"-Inf", float32(math.Inf(-1)), 0xfc00},
		{"smallest normal 2^-14", p(-14), 0x0400},
		{"largest subnormal", 1023 * p(-24), 0x03ff},
		{"tie between largest subnormal and smallest normal", 2047 * p(-25), 0x0400},
		{"smallest subnormal 2^-24", p(-24), 0x0001},
		{"-2^-24", -p(-24), 0x8001},
		{"2^-25, a tie, rounds to even 0", p(-25), 0x0000},
		{"just above 2^-25 rounds up", next(p(-25), 1), 0x0001},
		{"just below 2^-25 rounds to 0", next(p(-25), -1), 0x0000},
		{"-2^-25 rounds to -0", -p(-25), 0x8000},
		{"0.75 units", 3 * p(-26), 0x0001},
		{"1.5 units, a tie, rounds to even 2", 3 * p(-25), 0x0002},
		{"2.5 units, a tie, rounds to even 2", 5 * p(-25), 0x0002},
		{"2^-26", p(-26), 0x0000},
		{"smallest float32 subnormal", p(-149), 0x0000},
		{"negative float32 subnormal", -p(-149), 0x8000},
		{"1+2^-11, a tie, rounds to even 1", 1 + p(-11), 0x3c00},
		{"1+3·2^-11, a tie, rounds to even 1+2^-9", 1 + 3*p(-11), 0x3c02},
		{"just above 1+2^-11 rounds up", next(1+p(-11), 1), 0x3c01},
		{"just below 1+2^-11 rounds down", next(1+p(-11), -1), 0x3c00},
		{"2-2^-12 rounds up into the next binade", 2 - p(-12), 0x4000},
		{"0.1", 0.1, 0x2e66},
		{"pi", math.Pi, 0x4248},
		{"quiet NaN", math.Float32frombits(0x7fc00000), 0x7e00},
		{"negative NaN keeps its sign", math.Float32frombits(0xffc00000), 0xfe00},
		{"NaN keeps the top payload bits", math.Float32frombits(0x7fd56000), 0x7eab},
		{"signalling NaN is quieted", math.Float32frombits(0x7f800001), 0x7e00},
	} {
		if got := Float16bits(c.in); got != c.want {
			t.Errorf("Float16bits(%v) [%s] = %#04x, want %#04x", c.in, c.name, got, c.want)
		}
		if got := nearestHalf(c.in); c.in == c.in && got != c.want {
			t.Errorf("reference nearestHalf(%v) [%s] = %#04x, want %#04x", c.in, c.name, got, c.want)
		}
	}
}

// TestFloat16bitsAtEveryRoundingBoundary checks, for every pair of adjacent
// non-negative halves and both signs, the two halves themselves, their
// midpoint (a tie) and the float32s either side of each.
func TestFloat16bitsAtEveryRoundingBoundary(t *testing.T) {
	failures := 0
	check := func(f float32) {
		if got, want := Float16bits(f), nearestHalf(f); got != want && failures < 20 {
			t.Errorf("Float16bits(%v = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
			failures++
		}
	}
	inf := float32(math.Inf(1))
	for i := range len(halfLadder) - 1 {
		lo := float32(halfLadder[i])
		mid := float32((halfLadder[i] + halfLadder[i+1]) / 2)
		for _, f := range []float32{lo, mid} {
			for _, g := range []float32{f, math.Nextafter32(f, inf), math.Nextafter32(f, -inf)} {
				check(g)
				check(-g)
			}
		}
	}
}

func TestFloat16bitsMatchesNearestHalfOnRandomInput(t *testing.T) {
	n := 4 << 20
	if testing.Short() {
		n = 1 << 18
	}
	r := newRand(t.Name())
	failures := 0
	for i := range n {
		var f float32
		if i%2 == 0 {
			// Any bit pattern: mostly far outside the half range, which
			// tests overflow, underflow and NaN.
			f = math.Float32frombits(r.Uint32())
		} else {
			// A random significand at exponents from below the
			// subnormals to above the largest half.
			f = float32(math.Ldexp(1+r.Float64(), r.IntN(45)-27))
			if r.Uint32()&1 == 1 {
				f = -f
			}
		}
		got := Float16bits(f)
		if f != f {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 || got>>15 != uint16(math.Float32bits(f)>>31) {
				t.Errorf("Float16bits(NaN %#08x) = %#04x, want a NaN of the same sign", math.Float32bits(f), got)
				failures++
			}
		} else if want := nearestHalf(f); got != want {
			t.Errorf("Float16bits(%v = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
			failures++
		}
		if failures >= 20 {
			t.Fatal("too many failures")
		}
	}
}

func TestF16ConversionsPanicOnLengthMismatch(t *testing.T) {
	for _, c := range []struct {
		name string
		call func()
	}{
		{"F32ToF16", func() { F32ToF16(make([]uint16, 2), make([]float32, 3)) }},
		{"F16ToF32", func() { F16ToF32(make([]float32, 3), make([]uint16, 2)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with mismatched lengths did not panic", c.name)
				}
			}()
			c.call()
		})
	}
}

func TestF16ConversionsDoNotAllocate(t *testing.T) {
	src := randF32(newRand(t.Name()), 100)
	h, back := make([]uint16, 100), make([]float32, 100)
	allocs := testing.AllocsPerRun(100, func() {
		F32ToF16(h, src)
		F16ToF32(back, h)
	})
	if allocs != 0 {
		t.Errorf("conversions allocated %v times per run, want 0", allocs)
	}
	// Values in [-1, 1) lose at most half a unit in the 11th bit.
	for i := range src {
		if d := math.Abs(float64(back[i] - src[i])); d > 0x1p-12 {
			t.Errorf("F16ToF32(F32ToF16(%v)) = %v, off by %g > 2^-12", src[i], back[i], d)
		}
	}
}
