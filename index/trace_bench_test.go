package index_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/shoaldb/shoal/index"
)

// benchIndex builds and opens an index of n random dim-dimensional
// vectors and returns it with its data.
func benchIndex(b testing.TB, n, dim int) (*index.Index, []float32) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = rng.Float32()
	}
	dir := filepath.Join(b.TempDir(), "index")
	if _, err := index.Build(dir, index.SliceSource(data, dim), &index.Options{Metric: index.L2, Ratio: 0.05}); err != nil {
		b.Fatal(err)
	}
	ix, err := index.Open(dir, &index.Options{CacheBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	return ix, data
}

// BenchmarkSearch5k times one query of 5,000 32-dimensional vectors
// (postings cached), through Search and through SearchContext with a
// context that carries no span: tracing off must cost nothing here.
func BenchmarkSearch5k(b *testing.B) {
	const n, dim = 5000, 32
	ix, data := benchIndex(b, n, dim)
	p := &index.SearchParams{NProbe: 16}
	b.Run("Search", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			q := data[(i%n)*dim : (i%n+1)*dim]
			if _, err := ix.Search(q, 10, p); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("SearchContext", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		i := 0
		for b.Loop() {
			q := data[(i%n)*dim : (i%n+1)*dim]
			if _, err := ix.SearchContext(ctx, q, 10, p); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
