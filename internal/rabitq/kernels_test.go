package rabitq

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// kernel is one implementation of dotCodeImpl under test.
type kernel struct {
	name string
	fn   func(planes []byte, nbits, words int, qp []uint64, bq int) (ip, pc uint64)
}

// kernels lists every implementation that can run here; the assembly ones
// add themselves in score_amd64_test.go.
var kernels = []kernel{{"generic", dotCodeGeneric}}

// randomPlanes returns n random code plane bytes and bq·words random
// query plane words: every bit pattern, not only those Encode produces.
func randomPlanes(r *rand.Rand, nbits, words, bq int) ([]byte, []uint64) {
	planes := make([]byte, nbits*words*8)
	for i := range planes {
		planes[i] = byte(r.Uint32())
	}
	qp := make([]uint64, bq*words)
	for i := range qp {
		qp[i] = r.Uint64()
	}
	return planes, qp
}

// qbarOf unpacks plane-major query planes into q̄_i for the reference.
func qbarOf(qp []uint64, words, bq int) []uint8 {
	q := make([]uint8, words*64)
	for i := range q {
		for k := range bq {
			q[i] |= uint8(qp[k*words+i/64]>>(i%64)&1) << k
		}
	}
	return q
}

// TestKernelsOnRandomBits holds every kernel to the reference on random
// bit patterns, for every padded width up to 24 words (so every tail
// length of the 4-word assembly steps) and every B and Bq; the sums must
// be equal.
func TestKernelsOnRandomBits(t *testing.T) {
	for _, k := range kernels {
		for words := 1; words <= 24; words++ {
			for nbits := 1; nbits <= 8; nbits++ {
				for _, bq := range []int{1, 4, 8} {
					name := fmt.Sprintf("%s/words=%d/B=%d/Bq=%d", k.name, words, nbits, bq)
					r := newRand(name)
					planes, qp := randomPlanes(r, nbits, words, bq)
					gi, gp := k.fn(planes, nbits, words, qp, bq)
					ri, rp := dotCodeRef(planes, nbits, words, qbarOf(qp, words, bq))
					if gi != ri || gp != rp {
						t.Fatalf("%s: sums (%d, %d), reference (%d, %d)", name, gi, gp, ri, rp)
					}
				}
			}
		}
	}
}
