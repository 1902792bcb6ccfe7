package synth

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/internal/vecfile"
)

// Random streams: the model, the base vectors and the queries each draw
// from their own PCG streams, and every block of blockRows vectors from its
// own, so the output does not depend on how many goroutines generate it.
const (
	streamModel = iota
	streamBase
	streamQuery
)

const (
	blockRows   = 1024 // vectors per random stream
	chunkBlocks = 16   // blocks generated in parallel, then written
)

// blockRand returns the random source of block b of a stream.
func blockRand(seed uint64, stream, b int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x6a09e667f3bcc908, uint64(stream)<<48|uint64(b)))
}

// model is a fitted instance of the Spec mixture. It is read-only
// after newModel and safe for concurrent use.
type model struct {
	dim, rank int
	seed      uint64
	noise     float64
	basis     []float64 // dim rows of rank: row d holds coordinate d of the basis vectors
	mean      []float64 // dim
	centres   []float64 // clusters rows of rank
	factors   []float64 // clusters matrices rank×rank, row-major: x = centre + F·z
	cumWeight []float64 // cumulative cluster probabilities; the last is 1
	elem      vecfile.Elem
	quant     quantizer // for elem Uint8
}

func newModel(s Spec) *model {
	rng := blockRand(s.Seed, streamModel, 0)
	m := &model{dim: s.Dim, rank: s.Rank, seed: s.Seed, noise: s.Noise}
	m.basis = orthonormalBasis(rng, s.Dim, s.Rank)

	groups := max(1, int(math.Round(math.Sqrt(float64(s.Clusters)))))
	super := normals(rng, groups*s.Rank, 1)
	m.centres = make([]float64, s.Clusters*s.Rank)
	for c := range s.Clusters {
		g := rng.IntN(groups)
		for r := range s.Rank {
			m.centres[c*s.Rank+r] = super[g*s.Rank+r] + 0.7*rng.NormFloat64()
		}
	}

	// Column j of a cluster's factor has scale spread·(1+j)^-0.3, jittered:
	// a decaying spectrum, mixed by the Gaussian entries into a random
	// orientation.
	m.factors = make([]float64, s.Clusters*s.Rank*s.Rank)
	inv := 1 / math.Sqrt(float64(s.Rank))
	for c := range s.Clusters {
		spread := s.Spread * math.Exp(0.35*rng.NormFloat64())
		f := m.factors[c*s.Rank*s.Rank : (c+1)*s.Rank*s.Rank]
		for j := range s.Rank {
			scale := spread * math.Pow(float64(1+j), -0.3) * math.Exp(0.25*rng.NormFloat64()) * inv
			for i := range s.Rank {
				f[i*s.Rank+j] = scale * rng.NormFloat64()
			}
		}
	}

	m.cumWeight = make([]float64, s.Clusters)
	total := 0.0
	for c := range m.cumWeight {
		total += math.Exp(rng.NormFloat64())
		m.cumWeight[c] = total
	}
	for c := range m.cumWeight {
		m.cumWeight[c] /= total
	}
	m.cumWeight[s.Clusters-1] = 1

	m.mean = normals(rng, s.Dim, 0.5)
	m.elem = s.Elem
	if m.elem == vecfile.Uint8 {
		m.quant = newQuantizer(m)
	}
	return m
}

// normals returns n draws of N(0, sd²).
func normals(rng *rand.Rand, n int, sd float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = sd * rng.NormFloat64()
	}
	return v
}

// orthonormalBasis returns rank orthonormal vectors of R^dim (rank ≤ dim), stored
// as dim rows of rank: Gram–Schmidt, applied twice for accuracy, to
// Gaussian vectors.
func orthonormalBasis(rng *rand.Rand, dim, rank int) []float64 {
	vecs := make([][]float64, rank)
	for r := range vecs {
		v := normals(rng, dim, 1)
		for range 2 {
			for _, u := range vecs[:r] {
				dot := 0.0
				for d := range v {
					dot += v[d] * u[d]
				}
				for d := range v {
					v[d] -= dot * u[d]
				}
			}
		}
		norm := 0.0
		for _, x := range v {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		for d := range v {
			v[d] /= norm
		}
		vecs[r] = v
	}
	basis := make([]float64, dim*rank)
	for r, v := range vecs {
		for d, x := range v {
			basis[d*rank+r] = x
		}
	}
	return basis
}

// scratch is one goroutine's workspace for draw.
type scratch struct{ z, latent []float64 }

// draw writes one vector into out.
func (m *model) draw(rng *rand.Rand, out []float32, ws *scratch) {
	c := sort.SearchFloat64s(m.cumWeight, rng.Float64())
	R := m.rank
	for i := range ws.z {
		ws.z[i] = rng.NormFloat64()
	}
	f := m.factors[c*R*R : (c+1)*R*R]
	centre := m.centres[c*R : (c+1)*R]
	for i := range R {
		s := centre[i]
		for j, fij := range f[i*R : (i+1)*R] {
			s += fij * ws.z[j]
		}
		ws.latent[i] = s
	}
	for d := range out {
		s := m.mean[d] + m.noise*rng.NormFloat64()
		for r, b := range m.basis[d*R : (d+1)*R] {
			s += b * ws.latent[r]
		}
		out[d] = float32(s)
	}
}

// fill generates rows [first, first+len(out)/dim) of a stream into out;
// first must be a multiple of blockRows. Blocks are drawn in parallel.
func (m *model) fill(stream, first int, out []float32) {
	n := len(out) / m.dim
	blocks := (n + blockRows - 1) / blockRows
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(blocks, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			ws := &scratch{z: make([]float64, m.rank), latent: make([]float64, m.rank)}
			for {
				b := int(next.Add(1)) - 1
				if b >= blocks {
					return
				}
				rng := blockRand(m.seed, stream, first/blockRows+b)
				for i := b * blockRows; i < min((b+1)*blockRows, n); i++ {
					m.draw(rng, out[i*m.dim:(i+1)*m.dim], ws)
				}
			}
		})
	}
	wg.Wait()
}

// sample returns rows [first, first+n) of a stream; first must be a
// multiple of blockRows.
func (m *model) sample(stream, first, n int) []float32 {
	out := make([]float32, n*m.dim)
	m.fill(stream, first, out)
	return out
}

// writeFile writes n rows of a stream to path in format f, as the model's
// element type, chunkRows rows at a time (rounded up to whole blocks, so
// the bytes do not depend on it), calling progress with the rows written
// so far. Only one chunk is ever in memory. It checks ctx between chunks.
func (m *model) writeFile(ctx context.Context, path string, f vecfile.Format, stream, n, chunkRows int, progress func(done int)) error {
	w, err := createFile(path, f, m.elem, m.dim)
	if err != nil {
		return err
	}
	chunk := max(1, (chunkRows+blockRows-1)/blockRows) * blockRows
	buf := make([]float32, min(n, chunk)*m.dim)
	var bytes []byte
	if m.elem == vecfile.Uint8 {
		bytes = make([]byte, len(buf))
	}
	for done := 0; done < n; {
		if err := ctx.Err(); err != nil {
			w.Close()
			return err
		}
		rows := min(n-done, chunk)
		m.fill(stream, done, buf[:rows*m.dim])
		if bytes != nil {
			m.quant.quantize(buf[:rows*m.dim], bytes)
			err = w.Write(bytes[:rows*m.dim])
		} else {
			err = w.WriteFloat32(buf[:rows*m.dim])
		}
		if err != nil {
			w.Close()
			return err
		}
		done += rows
		progress(done)
	}
	return w.Close()
}

// BaseVectors returns the N base vectors of spec, row-major, as Generate
// writes them to base.fvecs, computed in memory (as float32, before any
// uint8 quantisation). The spec must be valid once its defaults are filled
// in.
func BaseVectors(spec Spec) []float32 {
	spec.EnsureDefaults()
	return newModel(spec).sample(streamBase, 0, spec.N)
}
