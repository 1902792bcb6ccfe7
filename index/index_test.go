package index

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

// clustered returns n points of dim around c Gaussian centres; queries
// drawn with the same seed share the centres.
func clustered(n, dim, c int, seed, qseed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := make([]float32, c*dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64() * 4)
	}
	rng = rand.New(rand.NewPCG(seed, qseed))
	data := make([]float32, n*dim)
	for i := 0; i < n; i++ {
		ctr := centres[rng.IntN(c)*dim:]
		for d := 0; d < dim; d++ {
			data[i*dim+d] = ctr[d] + float32(rng.NormFloat64())
		}
	}
	return data
}

// exact returns the ids of the k nearest rows of data to q under m.
func exact(data []float32, dim int, q []float32, k int, m Metric) []uint64 {
	type cand struct {
		id uint64
		d  float32
	}
	var all []cand
	for i := 0; i < len(data)/dim; i++ {
		r := data[i*dim : (i+1)*dim]
		var d float32
		switch m {
		case L2:
			d = vec.L2SquaredF32(q, r)
		case InnerProduct:
			d = -vec.DotF32(q, r)
		case Cosine:
			d = -vec.DotF32(q, r) / float32(math.Sqrt(float64(vec.Norm2F32(r)*vec.Norm2F32(q))))
		}
		all = append(all, cand{uint64(i), d})
	}
	slices.SortStableFunc(all, func(a, b cand) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return 0
	})
	ids := make([]uint64, k)
	for i := range ids {
		ids[i] = all[i].id
	}
	return ids
}

func recall(got []Result, want []uint64) float64 {
	hit := 0
	for _, r := range got {
		if slices.Contains(want, r.ID) {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

func buildTest(t *testing.T, data []float32, dim int, o *Options) (*Index, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ix")
	if _, err := Build(dir, SliceSource(data, dim), o); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix, dir
}

func TestSearchRecall(t *testing.T) {
	const dim, n = 24, 20000
	for _, m := range []Metric{L2, InnerProduct, Cosine} {
		t.Run(m.String(), func(t *testing.T) {
			data := clustered(n, dim, 40, 1, 1)
			ix, _ := buildTest(t, data, dim, &Options{Metric: m, Ratio: 0.05})
			qs := clustered(100, dim, 40, 1, 99)
			var sum float64
			for i := 0; i < 100; i++ {
				q := qs[i*dim : (i+1)*dim]
				res, err := ix.Search(q, 10, &SearchParams{NProbe: 32})
				if err != nil {
					t.Fatal(err)
				}
				if len(res) != 10 {
					t.Fatalf("query %d: %d results, want 10", i, len(res))
				}
				for j := 1; j < len(res); j++ {
					if res[j].Distance < res[j-1].Distance || res[j].ID == res[j-1].ID {
						t.Fatalf("query %d: results not sorted and distinct: %v", i, res)
					}
				}
				sum += recall(res, exact(data, dim, q, 10, m))
			}
			if r := sum / 100; r < 0.9 {
				t.Fatalf("recall@10 = %.3f at nprobe 32, want >= 0.9", r)
			}
		})
	}
}

func TestIntegerIndexes(t *testing.T) {
	for _, elem := range []ElemType{Uint8, Int8} {
		t.Run(elem.String(), func(t *testing.T) { testIntegerIndex(t, elem) })
	}
}

func testIntegerIndex(t *testing.T, elem ElemType) {
	const dim, n = 16, 5000
	rng := rand.New(rand.NewPCG(2, 2))
	raw := make([]byte, n*dim)
	f := make([]float32, n*dim)
	for i := range raw {
		raw[i] = byte(rng.IntN(256))
		f[i] = float32(raw[i])
		if elem == Int8 {
			f[i] = float32(int8(raw[i]))
		}
	}
	dir := filepath.Join(t.TempDir(), "ix")
	if _, err := Build(dir, byteSource{raw, dim, elem}, &Options{Ratio: 0.05}); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if ix.Manifest().Elem != elem {
		t.Fatalf("index elem %v, want %v", ix.Manifest().Elem, elem)
	}
	var sum float64
	for i := 0; i < 50; i++ {
		q := f[i*dim : (i+1)*dim]
		res, err := ix.Search(q, 10, &SearchParams{NProbe: 64})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].ID != uint64(i) || res[0].Distance != 0 {
			t.Fatalf("query = row %d: nearest %v, want the row itself at distance 0", i, res[0])
		}
		sum += recall(res, exact(f, dim, q, 10, L2))
	}
	if r := sum / 50; r < 0.8 {
		t.Fatalf("%v recall@10 = %.3f, want >= 0.8", elem, r)
	}
}

type byteSource struct {
	raw  []byte
	dim  int
	elem ElemType
}

func (s byteSource) Len() int       { return len(s.raw) / s.dim }
func (s byteSource) Dim() int       { return s.dim }
func (s byteSource) Elem() ElemType { return s.elem }
func (s byteSource) ReadRows(start, n int, dst []byte) error {
	copy(dst, s.raw[start*s.dim:(start+n)*s.dim])
	return nil
}

func TestEveryVectorReachable(t *testing.T) {
	// With a tiny posting cap most replicas are dropped, but every vector
	// keeps its primary posting: searching for it with its own vector finds it.
	const dim, n = 8, 3000
	data := clustered(n, dim, 5, 3, 3)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.02, PostingCap: 16})
	m := ix.Manifest()
	if m.Dropped == 0 {
		t.Fatalf("expected the cap of 16 to drop replicas; manifest %+v", m)
	}
	seen := make(map[uint64]int)
	err := ix.ScanPostings(func(p *PostingInfo) error {
		for _, v := range p.IDs {
			seen[v]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("postings hold %d distinct vectors, want all %d", len(seen), n)
	}
}

func TestReopen(t *testing.T) {
	const dim = 8
	data := clustered(2000, dim, 10, 4, 4)
	ix, dir := buildTest(t, data, dim, &Options{Ratio: 0.05})
	q := data[:dim]
	before, err := ix.Search(q, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	after, err := ix2.Search(q, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatalf("results differ after reopen: %v vs %v", before, after)
	}
	if _, err := ix.Search(q, 5, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Search on a closed index: %v, want ErrClosed", err)
	}
}

// failingSource fails every read after the first `after` calls.
type failingSource struct {
	Source
	calls, after int64
}

var errDisk = errors.New("disk on fire")

func (s *failingSource) ReadRows(start, n int, dst []byte) error {
	if atomic.AddInt64(&s.calls, 1) > s.after {
		return errDisk
	}
	return s.Source.ReadRows(start, n, dst)
}

func TestInterruptedBuildIsNoIndex(t *testing.T) {
	const dim = 8
	data := clustered(5000, dim, 10, 5, 5)
	// The sample and assignment passes read 5 chunks each; fail while
	// postings are being written.
	dir := filepath.Join(t.TempDir(), "ix")
	_, err := Build(dir, &failingSource{Source: SliceSource(data, dim), after: 100}, &Options{Ratio: 0.05})
	if !errors.Is(err, errDisk) {
		t.Fatalf("Build with a failing source: %v, want the read error", err)
	}
	if _, err := Open(dir, nil); !errors.Is(err, ErrNoIndex) {
		t.Fatalf("Open after an interrupted build: %v, want ErrNoIndex", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "nothing"), nil); !errors.Is(err, ErrNoIndex) {
		t.Fatalf("Open of a missing directory: %v, want ErrNoIndex", err)
	}
}

func TestBuildRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Build(dir, SliceSource(clustered(100, 4, 2, 6, 6), 4), nil)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("Build into a non-empty dir: %v, want ErrExists", err)
	}
}

func TestBadInput(t *testing.T) {
	const dim = 8
	data := clustered(1000, dim, 4, 7, 7)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05})
	nan := make([]float32, dim)
	nan[3] = float32(math.NaN())
	cases := []struct {
		name string
		q    []float32
		k    int
		want error
	}{
		{"short", make([]float32, dim-1), 10, ErrDimensionMismatch},
		{"long", make([]float32, dim+1), 10, ErrDimensionMismatch},
		{"nan", nan, 10, ErrNotFinite},
		{"k0", make([]float32, dim), 0, ErrBadInput},
	}
	for _, c := range cases {
		if _, err := ix.Search(c.q, c.k, nil); !errors.Is(err, c.want) {
			t.Errorf("%s: Search = %v, want %v", c.name, err, c.want)
		}
	}
	bad := slices.Clone(data)
	bad[dim*500+2] = float32(math.Inf(1))
	_, err := Build(filepath.Join(t.TempDir(), "x"), SliceSource(bad, dim), nil)
	if !errors.Is(err, ErrNotFinite) {
		t.Fatalf("Build with an Inf: %v, want ErrNotFinite", err)
	}
	if _, err := Build(filepath.Join(t.TempDir(), "y"), SliceSource(nil, dim), nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Build of nothing: %v, want ErrEmpty", err)
	}
}

func TestConcurrentSearch(t *testing.T) {
	const dim = 16
	data := clustered(8000, dim, 20, 8, 8)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05})
	qs := clustered(64, dim, 20, 8, 88)
	want := make([][]Result, 64)
	for i := range want {
		r, err := ix.Search(qs[i*dim:(i+1)*dim], 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = r
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < 64; i += 4 {
				r, err := ix.Search(qs[i*dim:(i+1)*dim], 10, nil)
				if err != nil || !slices.Equal(r, want[i]) {
					t.Errorf("query %d concurrently: %v, %v; want %v", i, r, err, want[i])
				}
			}
		}(g)
	}
	batch := make([][]float32, 64)
	for i := range batch {
		batch[i] = qs[i*dim : (i+1)*dim]
	}
	got, err := ix.SearchBatch(batch, 10, nil)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("SearchBatch query %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestCorruptPostingIsAnError(t *testing.T) {
	const dim = 8
	data := clustered(3000, dim, 10, 9, 9)
	ix, dir := buildTest(t, data, dim, &Options{Ratio: 0.05})
	ix.Close()
	segs, err := filepath.Glob(filepath.Join(dir, "postings-*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segment files in %s: %v", dir, err)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 0xff // inside the first posting's ids
	if err := os.WriteFile(segs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	ix2, err := Open(dir, &Options{CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	var sawCorrupt bool
	for i := 0; i < 3000 && !sawCorrupt; i += 7 {
		_, err := ix2.Search(data[i*dim:(i+1)*dim], 10, &SearchParams{NProbe: 64})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("search over a corrupt posting: %v, want ErrCorrupt", err)
			}
			sawCorrupt = true
		}
	}
	if !sawCorrupt {
		t.Fatal("no search reported the corrupt posting")
	}
}

func TestQueryOnAHeadIsNotOverPruned(t *testing.T) {
	// With one head per vector, a query equal to a vector sits on its head
	// (routing distance 0); pruning relative to that distance must not
	// drop every other posting.
	const dim = 4
	data := clustered(200, dim, 3, 10, 10)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 1, Replicas: 1})
	if ix.Manifest().Heads < 150 {
		t.Fatalf("built %d heads for 200 vectors, want about one each", ix.Manifest().Heads)
	}
	res, err := ix.Search(data[:dim], 10, &SearchParams{NProbe: 32})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 10 || res[0].ID != 0 {
		t.Fatalf("got %d results starting %v, want 10 starting with vector 0", len(res), res)
	}
}

func TestStoreFloatsAsUint8(t *testing.T) {
	const dim, n = 8, 2000
	rng := rand.New(rand.NewPCG(11, 11))
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = float32(rng.IntN(256)) // pixel-like: exact integers
	}
	dirF := filepath.Join(t.TempDir(), "f32")
	dirU := filepath.Join(t.TempDir(), "u8")
	if _, err := Build(dirF, SliceSource(data, dim), &Options{Ratio: 0.05}); err != nil {
		t.Fatal(err)
	}
	m, err := Build(dirU, SliceSource(data, dim), &Options{Ratio: 0.05, Elem: Uint8})
	if err != nil {
		t.Fatal(err)
	}
	if m.Elem != Uint8 {
		t.Fatalf("stored as %v, want uint8", m.Elem)
	}
	ixF, _ := Open(dirF, nil)
	defer ixF.Close()
	ixU, _ := Open(dirU, nil)
	defer ixU.Close()
	for i := 0; i < 20; i++ {
		q := data[i*dim : (i+1)*dim]
		a, err1 := ixF.Search(q, 5, nil)
		b, err2 := ixU.Search(q, 5, nil)
		if err1 != nil || err2 != nil || !slices.Equal(a, b) {
			t.Fatalf("query %d: float32 index %v (%v), uint8 index %v (%v); want the same", i, a, err1, b, err2)
		}
	}
	data[5*dim+3] = 0.5
	_, err = Build(filepath.Join(t.TempDir(), "bad"), SliceSource(data, dim), &Options{Ratio: 0.05, Elem: Uint8})
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "row 5") {
		t.Fatalf("Build of a non-integer value as uint8: %v, want ErrBadInput naming row 5", err)
	}
}

func TestStoreFloatsAsFloat16(t *testing.T) {
	const dim, n = 24, 8000
	for _, m := range []Metric{L2, Cosine} {
		t.Run(m.String(), func(t *testing.T) {
			data := clustered(n, dim, 30, 4, 4)
			ix, _ := buildTest(t, data, dim, &Options{Metric: m, Ratio: 0.05, Elem: Float16})
			if ix.Manifest().Elem != Float16 {
				t.Fatalf("stored as %v", ix.Manifest().Elem)
			}
			qs := clustered(50, dim, 30, 4, 77)
			var sum float64
			for i := 0; i < 50; i++ {
				q := qs[i*dim : (i+1)*dim]
				res, err := ix.Search(q, 10, &SearchParams{NProbe: 32})
				if err != nil {
					t.Fatal(err)
				}
				sum += recall(res, exact(data, dim, q, 10, m))
			}
			if r := sum / 50; r < 0.9 {
				t.Fatalf("recall@10 = %.3f, want >= 0.9", r)
			}
			// Get returns the vector as rounded: within half precision.
			got, err := ix.Get(3)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(data[3*dim : 4*dim])
			if m == Cosine {
				vec.Normalize(want)
			}
			for d := range want {
				if diff := math.Abs(float64(got[d] - want[d])); diff > math.Abs(float64(want[d]))/1024+1e-7 {
					t.Fatalf("dim %d: got %v, want %v (float16)", d, got[d], want[d])
				}
			}
		})
	}
	_, err := Build(filepath.Join(t.TempDir(), "big"), SliceSource([]float32{1, 70000}, 2), &Options{Elem: Float16})
	if !errors.Is(err, ErrBadInput) {
		t.Fatalf("Build of 70000 as float16: %v, want ErrBadInput", err)
	}
}

// TestSearchContext checks that a search gives up when its context is
// done: before it starts, and between routing and reading.
func TestSearchContext(t *testing.T) {
	const dim, n = 8, 2000
	data := clustered(n, dim, 10, 71, 72)
	ix, _ := buildTest(t, data, dim, &Options{Ratio: 0.05})
	q := data[:dim]
	if res, err := ix.SearchContext(context.Background(), q, 5, nil); err != nil || len(res) != 5 {
		t.Fatalf("SearchContext with a live context = %v, %v", res, err)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ix.SearchContext(done, q, 5, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("SearchContext with a cancelled context: %v, want context.Canceled", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	testHookRouted = cancel
	defer func() { testHookRouted = nil }()
	if _, err := ix.SearchContext(ctx, q, 5, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("SearchContext cancelled after routing: %v, want context.Canceled", err)
	}
}
