package rabitq

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

// FuzzEncodeEstimate encodes a vector built from the fuzz input against a
// center (sometimes equal to it, sometimes differing in one coordinate),
// then scores the code and arbitrary bytes as a code: nothing may panic,
// the kernel must match the reference, and finite inputs of moderate size
// must give finite factors and an ordered interval.
func FuzzEncodeEstimate(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(1), uint8(0), uint8(0))
	f.Add(make([]byte, 64), uint8(4), uint8(1), uint8(1))
	f.Add([]byte{0xff, 0x7f, 0x80, 0, 1, 0, 0, 0x80}, uint8(8), uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, bits, mode, metric uint8) {
		const d = 70
		o := Options{Dim: d, Bits: int(bits%8) + 1, Metric: vec.L2, Seed: 1}
		if metric%2 == 1 {
			o.Metric = vec.InnerProduct
		}
		z, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		ov, cv := make([]float32, d), make([]float32, d)
		for i := range ov {
			var b byte
			if len(data) > 0 {
				b = data[i%len(data)]
			}
			ov[i] = float32(int8(b)) / 16
			cv[i] = float32(i%5) / 4
		}
		switch mode % 3 {
		case 1:
			copy(ov, cv) // vector equal to its center
		case 2:
			copy(ov, cv)
			ov[int(bits)%d] += 1e-3 // a tiny residual in one coordinate
		}
		oc, cc := rotated(t, z, ov), rotated(t, z, cv)
		code := encode(t, z.NewEncoder(), oc, cc)
		fs := ReadFactors(code)
		for _, x := range []float32{fs.Add, fs.Rescale, fs.Err, fs.Quant} {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("non-finite factors %+v", fs)
			}
		}
		if fs.Err < 0 || fs.Quant < 0 {
			t.Fatalf("negative error scales %+v", fs)
		}
		q := z.NewQuery()
		if err := q.Prepare(cv); err != nil {
			t.Fatal(err)
		}
		ctr := q.Center(cc)
		est := q.Estimate(code, ctr)
		if !(est.Lower <= est.Dist && est.Dist <= est.Upper) {
			t.Fatalf("interval out of order: %+v", est)
		}
		if want := q.estimateRef(code, ctr); est != want {
			t.Fatalf("Estimate %+v, reference %+v", est, want)
		}
		// Arbitrary bytes as a code: no panic, kernel equals reference.
		junk := make([]byte, z.CodeSize())
		for i := range junk {
			if len(data) > 0 {
				junk[i] = data[(i*7)%len(data)] ^ byte(i)
			}
		}
		binary.LittleEndian.PutUint32(junk[len(junk)-4:], math.Float32bits(1))
		if got, want := q.Estimate(junk, ctr), q.estimateRef(junk, ctr); !sameBits(got, want) {
			t.Fatalf("junk code: Estimate %+v, reference %+v", got, want)
		}
	})
}

// sameBits compares estimates bit for bit, so that NaNs from junk factors
// compare equal to themselves.
func sameBits(a, b Estimate) bool {
	return math.Float32bits(a.Dist) == math.Float32bits(b.Dist) &&
		math.Float32bits(a.Lower) == math.Float32bits(b.Lower) &&
		math.Float32bits(a.Upper) == math.Float32bits(b.Upper)
}
