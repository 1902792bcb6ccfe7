package rabitq

import (
	"hash/fnv"
	"math/rand/v2"
)

// testDims are the dimensions every kernel is checked on: below, at and
// above a 64-word boundary, non-powers of two, and the MNIST and
// large-embedding widths.
var testDims = []int{1, 2, 63, 64, 65, 96, 100, 128, 784, 1536}

// newRand returns a generator seeded from a name, so each subtest has its
// own fixed stream.
func newRand(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(h.Sum64(), 1))
}

func gaussian(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}
