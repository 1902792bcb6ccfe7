package index_test

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/shoaldb/shoal/index"
)

// Build an index of 5,000 random 32-dimensional vectors, open it, and find
// the nearest neighbours of one of them.
func Example() {
	const n, dim = 5000, 32
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = rng.Float32()
	}
	tmp, err := os.MkdirTemp("", "shoal-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "index")

	m, err := index.Build(dir, index.SliceSource(data, dim), &index.Options{Metric: index.L2, Ratio: 0.05})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("indexed", m.Count, "vectors")

	ix, err := index.Open(dir, &index.Options{CacheBytes: 8 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer ix.Close()

	query := data[42*dim : 43*dim] // vector 42 itself
	res, err := ix.Search(query, 3, &index.SearchParams{NProbe: 16})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("nearest: id %d at distance %g\n", res[0].ID, res[0].Distance)
	// Output:
	// indexed 5000 vectors
	// nearest: id 42 at distance 0
}

// Payloads and named labels: an indexed payload field becomes a label a
// filter can name.
func ExampleIndex_UpsertWithPayloads() {
	tmp, err := os.MkdirTemp("", "shoal-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "index")
	if _, err := index.Create(dir, 2, nil); err != nil {
		log.Fatal(err)
	}
	ix, err := index.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ix.Close()
	if err := ix.SetIndexedFields([]string{"color"}); err != nil {
		log.Fatal(err)
	}
	err = ix.UpsertWithPayloads(0, []uint64{1, 2, 3}, [][]float32{{0, 0}, {1, 1}, {5, 5}}, nil, [][]byte{
		[]byte(`{"color": "red", "name": "origin"}`),
		[]byte(`{"color": "blue", "name": "one"}`),
		[]byte(`{"color": "red", "name": "far"}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	f, err := ix.ParseFilter("color=red")
	if err != nil {
		log.Fatal(err)
	}
	res, err := ix.Search([]float32{1, 1}, 1, &index.SearchParams{Filter: f})
	if err != nil {
		log.Fatal(err)
	}
	p, err := ix.Payload(res[0].ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res[0].ID, string(p))
	// Output: 1 {"color":"red","name":"origin"}
}
