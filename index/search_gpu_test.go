package index

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/gpu"
)

// TestSearchBatchAccelMatchesCPU: SearchBatch routing on a backend (the
// CPU one, which runs the batched tree search of the device path) returns
// what it returns routing query by query, for every metric, before and
// after the tree generation changes.
func TestSearchBatchAccelMatchesCPU(t *testing.T) {
	const dim, n, nq = 24, 20000, 300
	for _, m := range []Metric{L2, InnerProduct, Cosine} {
		t.Run(m.String(), func(t *testing.T) {
			data := clustered(n, dim, 40, 1, 1)
			ix, _ := buildTest(t, data, dim, &Options{Metric: m, Ratio: 0.05, Workers: 2})
			raw := clustered(nq, dim, 40, 1, 99)
			qs := make([][]float32, nq)
			for i := range qs {
				qs[i] = raw[i*dim : (i+1)*dim]
			}
			for _, sp := range []*SearchParams{nil, {NProbe: 8}, {NProbe: 16, Epsilon: -1}, {NProbe: 4, Beam: 2}} {
				ix.opts.GPUBackend = nil
				want, err := ix.SearchBatch(qs, 10, sp)
				if err != nil {
					t.Fatal(err)
				}
				for i := range qs[:20] {
					one, err := ix.Search(qs[i], 10, sp)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(one, want[i]) {
						t.Fatalf("query %d: SearchBatch %v, Search %v", i, want[i], one)
					}
				}
				ix.useDevice(ix.opts.GPU, gpu.CPU())
				for round := 0; round < 2; round++ {
					got, err := ix.SearchBatch(qs, 10, sp)
					if err != nil {
						t.Fatal(err)
					}
					for i := range qs {
						if !slices.Equal(got[i], want[i]) {
							t.Fatalf("params %+v round %d query %d: accelerated %v, CPU %v", sp, round, i, got[i], want[i])
						}
					}
					ix.treeGen.Add(1) // the device's tree is reloaded
				}
				if !ix.dev.Resident() {
					t.Fatal("no tree on the backend after an accelerated SearchBatch")
				}
				ix.useDevice(ix.opts.GPU, nil)
			}
		})
	}
}

// TestSearchBatchAccelErrors: a bad query fails the batch naming it, on
// both paths; Auto without a device routes on the CPU.
func TestSearchBatchAccelErrors(t *testing.T) {
	const dim, n = 8, 2000
	data := clustered(n, dim, 10, 1, 1)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05, Workers: 2})
	qs := [][]float32{data[:dim], data[dim : 2*dim], data[:dim-1]}
	for _, be := range []gpu.Backend{nil, gpu.CPU()} {
		ix.useDevice(ix.opts.GPU, be)
		if _, err := ix.SearchBatch(qs, 5, nil); !errors.Is(err, ErrDimensionMismatch) {
			t.Fatalf("backend %v: SearchBatch with a short query: %v, want ErrDimensionMismatch", be, err)
		}
		res, err := ix.SearchBatch(qs[:2], 5, nil)
		if err != nil || len(res) != 2 || res[0][0].ID != 0 || res[1][0].ID != 1 {
			t.Fatalf("backend %v: SearchBatch: %v, %v", be, res, err)
		}
	}
	ix.useDevice(gpu.Auto, nil)
	res, err := ix.SearchBatch(qs[:2], 5, nil)
	if err != nil || res[0][0].ID != 0 {
		t.Fatalf("GPU auto: SearchBatch: %v, %v", res, err)
	}
}

// TestSearchBatchAccelConcurrentUpdates: accelerated SearchBatch while
// upserts split postings (the device's tree goes stale and is reloaded)
// still finds the vectors no writer touches (run with -race).
func TestSearchBatchAccelConcurrentUpdates(t *testing.T) {
	const dim, n = 8, 2000
	data := clustered(n, dim, 10, 7, 7)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05, PostingCap: 40, NoSync: true})
	ix.useDevice(ix.opts.GPU, gpu.CPU())
	qs := make([][]float32, 200)
	for i := range qs {
		qs[i] = data[i*dim : (i+1)*dim]
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(3, 9))
		for r := 0; r < 60; r++ {
			ids := make([]uint64, 8)
			vs := make([][]float32, 8)
			for i := range ids {
				ids[i] = uint64(n + r*8 + i)
				vs[i] = randVec(rng, dim)
			}
			if err := ix.Upsert(ids, vs); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	rounds := 0
	for {
		select {
		case <-done:
			if rounds == 0 || ix.treeGen.Load() == 0 {
				t.Logf("%d rounds, tree generation %d", rounds, ix.treeGen.Load())
			}
			return
		default:
		}
		res, err := ix.SearchBatch(qs, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for i, r := range res {
			if len(r) > 0 && r[0].ID == uint64(i) {
				found++
			}
		}
		if found < len(qs)*9/10 {
			t.Fatalf("round %d: %d of %d queries find themselves first", rounds, found, len(qs))
		}
		rounds++
	}
}

// useDevice makes the open index route SearchBatch by mode and backend,
// as if it had been opened with them.
func (ix *Index) useDevice(mode gpu.Mode, backend gpu.Backend) {
	ix.dev.Close()
	ix.opts.GPU, ix.opts.GPUBackend = mode, backend
	ix.dev = gpu.NewRouter(mode, backend, nil)
}
