package posting

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

func randomPosting(rng *rand.Rand, elem vec.ElemType, dim, n int) *Posting {
	p := &Posting{Elem: elem, Dim: dim}
	for i := 0; i < n; i++ {
		p.IDs = append(p.IDs, rng.Uint64())
		p.Versions = append(p.Versions, uint8(rng.IntN(256)))
	}
	p.Vectors = make([]byte, n*dim*elem.Size())
	for i := range p.Vectors {
		p.Vectors[i] = byte(rng.IntN(256))
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, elem := range []vec.ElemType{vec.Float32, vec.Uint8, vec.Int8} {
		for _, dim := range []int{1, 3, 100, 128, 784} {
			for _, n := range []int{0, 1, 2, 3, 5, 118} {
				p := randomPosting(rng, elem, dim, n)
				b := Encode([]byte("prefix"), p)[len("prefix"):]
				if len(b) != EncodedSize(elem, dim, n) {
					t.Fatalf("%v dim %d n %d: encoded %d bytes, EncodedSize says %d", elem, dim, n, len(b), EncodedSize(elem, dim, n))
				}
				var q Posting
				if err := Decode(b, &q); err != nil {
					t.Fatalf("%v dim %d n %d: %v", elem, dim, n, err)
				}
				if q.Elem != elem || q.Dim != dim || q.Len() != n {
					t.Fatalf("decoded %v/%d/%d, want %v/%d/%d", q.Elem, q.Dim, q.Len(), elem, dim, n)
				}
				for i := range p.IDs {
					if q.IDs[i] != p.IDs[i] || q.Versions[i] != p.Versions[i] || !bytes.Equal(q.Row(i), p.Row(i)) {
						t.Fatalf("%v dim %d n %d: entry %d differs after round trip", elem, dim, n, i)
					}
				}
			}
		}
	}
}

func TestVectorsAligned(t *testing.T) {
	for n := 0; n < 9; n++ {
		if off := vectorOffset(n); off%4 != 0 {
			t.Fatalf("vector block of %d entries at offset %d, want a multiple of 4", n, off)
		}
	}
}

func TestDecodeDetectsCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	b := Encode(nil, randomPosting(rng, vec.Float32, 16, 10))
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x10
		var p Posting
		if err := Decode(c, &p); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipping a bit of byte %d: Decode = %v, want ErrCorrupt", i, err)
		}
	}
	for _, cut := range []int{0, 1, 7, len(b) - 1} {
		var p Posting
		if err := Decode(b[:cut], &p); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: Decode = %v, want ErrCorrupt", cut, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 3))
	f.Add(Encode(nil, randomPosting(rng, vec.Float32, 4, 3)))
	f.Add(Encode(nil, randomPosting(rng, vec.Uint8, 7, 1)))
	f.Add([]byte{1, 1, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0})
	f.Add(EncodeCodes(nil, randomCodes(rng, 70, 2, 3)))
	f.Add(EncodeCodes(nil, randomCodes(rng, 5, 1, 0)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Posting
		if err := Decode(b, &p); err != nil {
			return
		}
		// A posting that decodes must re-encode to the same bytes.
		enc := Encode
		if p.Quantized() {
			enc = EncodeCodes
		}
		if got := enc(nil, &p); !bytes.Equal(got, b) {
			t.Fatalf("decoded posting re-encodes differently")
		}
	})
}
