package posting

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/shoaldb/shoal/internal/rabitq"
	"github.com/shoaldb/shoal/internal/vec"
)

// randomCodes returns a quantized posting of n random codes of dim
// dimensions at bits bits per dimension.
func randomCodes(rng *rand.Rand, dim, bits, n int) *Posting {
	p := &Posting{Elem: vec.Float32, Dim: dim, Bits: bits, CodeSize: rabitq.CodeSize(rabitq.PaddedDim(dim), bits), Stamp: rng.Uint32() | 1}
	code := make([]byte, p.CodeSize)
	for range n {
		for i := range code {
			code[i] = byte(rng.UintN(256))
		}
		p.AddCode(rng.Uint64(), uint8(rng.UintN(128)), code)
	}
	return p
}

func TestCodesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ dim, bits, n int }{{1, 1, 1}, {64, 1, 0}, {100, 4, 7}, {784, 1, 33}, {128, 8, 3}} {
		p := randomCodes(rng, c.dim, c.bits, c.n)
		b := EncodeCodes([]byte{9}, p)[1:]
		if len(b) != CodesEncodedSize(p.CodeSize, c.n) {
			t.Fatalf("%+v: %d bytes, want %d", c, len(b), CodesEncodedSize(p.CodeSize, c.n))
		}
		var d Posting
		if err := Decode(b, &d); err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if !d.Quantized() || d.Vectors != nil || d.Bits != c.bits || d.Dim != c.dim || d.Stamp != p.Stamp || d.CodeSize != p.CodeSize {
			t.Fatalf("%+v: decoded header %+v", c, d)
		}
		for i := range c.n {
			if d.IDs[i] != p.IDs[i] || d.Versions[i] != p.Versions[i] || !bytes.Equal(d.Code(i), p.Code(i)) {
				t.Fatalf("%+v: entry %d differs", c, i)
			}
		}
		if off := codeOffset(c.n); off%8 != 0 {
			t.Fatalf("code offset %d not 8-aligned", off)
		}
		// A row posting decoded into the same Posting clears the codes.
		if err := Decode(Encode(nil, randomPosting(rng, vec.Uint8, 3, 2)), &d); err != nil || d.Quantized() || d.Codes != nil {
			t.Fatalf("v1 after v2: err %v, quantized %v", err, d.Quantized())
		}
	}
}

func TestCodesDecodeDetectsCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	b := EncodeCodes(nil, randomCodes(rng, 96, 2, 5))
	var p Posting
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x10
		if err := Decode(c, &p); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped byte %d: err %v", i, err)
		}
	}
	for _, n := range []int{0, 10, len(b) - 1} {
		if err := Decode(b[:n], &p); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: err %v", n, err)
		}
	}
}

func TestCenterStamp(t *testing.T) {
	a := []float32{1, 2, 3}
	b := []float32{1, 2, 3.0000002}
	if CenterStamp(a) == CenterStamp(b) || CenterStamp(a) != CenterStamp([]float32{1, 2, 3}) {
		t.Fatal("stamp does not tell centroids apart")
	}
	if CenterStamp(nil) == 0 || CenterStamp(make([]float32, 1000)) == 0 {
		t.Fatal("stamp 0")
	}
}
