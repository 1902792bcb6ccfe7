package rabitq

import (
	"fmt"
	"testing"
)

// benchCodes encodes n random vectors around one center.
func benchCodes(b *testing.B, z *Quantizer, n int) ([][]byte, []float32) {
	r := newRand(fmt.Sprint("bench", z.Dim(), z.Options().Bits))
	c := rotated(b, z, gaussian(r, z.Dim(), 1))
	e := z.NewEncoder()
	codes := make([][]byte, n)
	for i := range codes {
		codes[i] = encode(b, e, rotated(b, z, gaussian(r, z.Dim(), 1)), c)
	}
	return codes, c
}

// benchEstimate measures one op = one scored entry, cycling through 1024
// codes so that they do not all sit in L1. impl is "ref" (unpacking
// oracle), "generic", or "asm" (whatever init() chose; skipped where that
// is the generic kernel).
func benchEstimate(b *testing.B, d, bits int, impl string) {
	z := mustNew(b, Options{Dim: d, Bits: bits})
	codes, c := benchCodes(b, z, 1024)
	q := z.NewQuery()
	if err := q.Prepare(gaussian(newRand("q"), d, 1)); err != nil {
		b.Fatal(err)
	}
	ctr := q.Center(c)
	switch impl {
	case "generic":
		saved := dotCodeImpl
		dotCodeImpl = dotCodeGeneric
		b.Cleanup(func() { dotCodeImpl = saved })
	case "asm":
		if Impl() == "generic" {
			b.Skip("no assembly kernel here")
		}
	}
	var sink float32
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		code := codes[i&1023]
		if impl == "ref" {
			sink += q.estimateRef(code, ctr).Dist
		} else {
			sink += q.Estimate(code, ctr).Dist
		}
	}
	_ = sink
}

func BenchmarkEstimate128B1Ref(b *testing.B)      { benchEstimate(b, 128, 1, "ref") }
func BenchmarkEstimate128B1Generic(b *testing.B)  { benchEstimate(b, 128, 1, "generic") }
func BenchmarkEstimate128B1Asm(b *testing.B)      { benchEstimate(b, 128, 1, "asm") }
func BenchmarkEstimate128B4Ref(b *testing.B)      { benchEstimate(b, 128, 4, "ref") }
func BenchmarkEstimate128B4Generic(b *testing.B)  { benchEstimate(b, 128, 4, "generic") }
func BenchmarkEstimate128B4Asm(b *testing.B)      { benchEstimate(b, 128, 4, "asm") }
func BenchmarkEstimate832B2Generic(b *testing.B)  { benchEstimate(b, 784, 2, "generic") }
func BenchmarkEstimate832B2Asm(b *testing.B)      { benchEstimate(b, 784, 2, "asm") }
func BenchmarkEstimate832B4Asm(b *testing.B)      { benchEstimate(b, 784, 4, "asm") }
func BenchmarkEstimate832B1Ref(b *testing.B)      { benchEstimate(b, 784, 1, "ref") }
func BenchmarkEstimate832B1Generic(b *testing.B)  { benchEstimate(b, 784, 1, "generic") }
func BenchmarkEstimate832B1Asm(b *testing.B)      { benchEstimate(b, 784, 1, "asm") }
func BenchmarkEstimate832B4Ref(b *testing.B)      { benchEstimate(b, 784, 4, "ref") }
func BenchmarkEstimate832B4Generic(b *testing.B)  { benchEstimate(b, 784, 4, "generic") }
func BenchmarkEstimate1536B1Ref(b *testing.B)     { benchEstimate(b, 1536, 1, "ref") }
func BenchmarkEstimate1536B1Generic(b *testing.B) { benchEstimate(b, 1536, 1, "generic") }
func BenchmarkEstimate1536B1Asm(b *testing.B)     { benchEstimate(b, 1536, 1, "asm") }
func BenchmarkEstimate1536B4Ref(b *testing.B)     { benchEstimate(b, 1536, 4, "ref") }
func BenchmarkEstimate1536B4Generic(b *testing.B) { benchEstimate(b, 1536, 4, "generic") }

func benchEncode(b *testing.B, d, bits int) {
	z := mustNew(b, Options{Dim: d, Bits: bits})
	r := newRand("enc")
	c := rotated(b, z, gaussian(r, d, 1))
	vs := make([][]float32, 64)
	for i := range vs {
		vs[i] = rotated(b, z, gaussian(r, d, 1))
	}
	e := z.NewEncoder()
	code := make([]byte, z.CodeSize())
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := e.Encode(code, vs[i&63], c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode128B1(b *testing.B)  { benchEncode(b, 128, 1) }
func BenchmarkEncode128B4(b *testing.B)  { benchEncode(b, 128, 4) }
func BenchmarkEncode128B8(b *testing.B)  { benchEncode(b, 128, 8) }
func BenchmarkEncode784B1(b *testing.B)  { benchEncode(b, 784, 1) }
func BenchmarkEncode784B4(b *testing.B)  { benchEncode(b, 784, 4) }
func BenchmarkEncode1536B1(b *testing.B) { benchEncode(b, 1536, 1) }
func BenchmarkEncode1536B4(b *testing.B) { benchEncode(b, 1536, 4) }

func benchRotate(b *testing.B, d int, dense bool) {
	var rot Rotator
	var err error
	if dense {
		rot, err = NewDenseRotator(d, 1)
	} else {
		rot, err = NewFhtRotator(d, 1)
	}
	if err != nil {
		b.Fatal(err)
	}
	x := gaussian(newRand("rot"), d, 1)
	out := make([]float32, rot.PaddedDim())
	b.ResetTimer()
	for b.Loop() {
		rot.Rotate(out, x)
	}
}

func BenchmarkRotate128Fht(b *testing.B)   { benchRotate(b, 128, false) }
func BenchmarkRotate128Dense(b *testing.B) { benchRotate(b, 128, true) }
func BenchmarkRotate784Fht(b *testing.B)   { benchRotate(b, 784, false) }
func BenchmarkRotate784Dense(b *testing.B) { benchRotate(b, 784, true) }
func BenchmarkRotate1536Fht(b *testing.B)  { benchRotate(b, 1536, false) }

func benchPrepare(b *testing.B, d, bits int) {
	z := mustNew(b, Options{Dim: d, Bits: bits})
	q := z.NewQuery()
	v := gaussian(newRand("prep"), d, 1)
	b.ResetTimer()
	for b.Loop() {
		if err := q.Prepare(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPrepare128B1(b *testing.B) { benchPrepare(b, 128, 1) }
func BenchmarkPrepare784B1(b *testing.B) { benchPrepare(b, 784, 1) }
func BenchmarkPrepare784B4(b *testing.B) { benchPrepare(b, 784, 4) }
