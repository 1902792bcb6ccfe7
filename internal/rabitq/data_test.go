package rabitq

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

// clustered returns n vectors around k cluster centers, all offset from
// the origin by a constant so that the uncentred query is far from zero
// (as with MNIST's non-negative pixels), and each vector's cluster.
func clustered(r *rand.Rand, n, k, d int) ([][]float32, []int) {
	centers := make([][]float32, k)
	for j := range centers {
		centers[j] = gaussian(r, d, 1)
		for i := range centers[j] {
			centers[j][i] += 2
		}
	}
	vs := make([][]float32, n)
	of := make([]int, n)
	for i := range vs {
		j := r.IntN(k)
		of[i] = j
		spread := 0.3 + 0.4*r.Float64()
		v := gaussian(r, d, spread/math.Sqrt(float64(d))*4)
		for x := range v {
			v[x] += centers[j][x]
		}
		vs[i] = v
	}
	return vs, of
}

// mean returns the coordinate-wise mean of the vectors with of[i] == j.
func mean(vs [][]float32, of []int, j int) []float32 {
	d := len(vs[0])
	s := make([]float64, d)
	n := 0
	for i, v := range vs {
		if of[i] != j {
			continue
		}
		n++
		for x := range v {
			s[x] += float64(v[x])
		}
	}
	m := make([]float32, d)
	for x := range m {
		m[x] = float32(s[x] / float64(max(n, 1)))
	}
	return m
}

// exactDist is the metric's distance in float64: ‖o−q‖² or −⟨o,q⟩.
func exactDist(m vec.Metric, o, q []float32) float64 {
	var s float64
	for i := range o {
		if m == vec.L2 {
			d := float64(o[i]) - float64(q[i])
			s += d * d
		} else {
			s -= float64(o[i]) * float64(q[i])
		}
	}
	return s
}

func normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(s))
	}
	return out
}

func mustNew(t testing.TB, o Options) *Quantizer {
	t.Helper()
	z, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return z
}

func rotated(t testing.TB, z *Quantizer, v []float32) []float32 {
	t.Helper()
	out := make([]float32, z.PaddedDim())
	if err := z.Rotate(out, v); err != nil {
		t.Fatal(err)
	}
	return out
}

func encode(t testing.TB, e *Encoder, o, c []float32) []byte {
	t.Helper()
	code := make([]byte, e.z.CodeSize())
	if err := e.Encode(code, o, c); err != nil {
		t.Fatal(err)
	}
	return code
}
