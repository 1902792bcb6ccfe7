package synth

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/shoaldb/shoal/index"
)

// BenchmarkExactTopK1kx64kx128 scores 1,000 queries against 65,536
// 128-d rows for the top 100, as gt does per 8 chunks.
func BenchmarkExactTopK1kx64kx128(b *testing.B) {
	const n, nq, dim, k = 1 << 16, 1000, 128, 100
	rng := rand.New(rand.NewPCG(1, 2))
	base := make([]float32, n*dim)
	for i := range base {
		base[i] = float32(rng.IntN(256))
	}
	qs := make([]float32, nq*dim)
	for i := range qs {
		qs[i] = float32(rng.IntN(256))
	}
	src := index.SliceSource(base, dim)
	b.ResetTimer()
	for range b.N {
		if _, err := exactTopK(context.Background(), src, nil, qs, k, index.L2, truthChunkRows(dim), nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*n*nq/b.Elapsed().Seconds()/1e6, "Mdist/s")
}
