package rabitq

import (
	"fmt"
	"math"

	"github.com/shoaldb/shoal/internal/vec"
)

// Query is a query prepared for scoring codes: rotated once, then
// quantized to Bq bits per dimension with a seeded dither, and kept in
// bit planes for the popcount kernels. The query is not re-centred per
// posting: the center enters only through the code's factors and the
// per-center Center (design note §1.2), so one Query scores codes of every
// center. A Query is a workspace: reuse it across queries with Prepare; it
// is not safe for concurrent use.
type Query struct {
	z      *Quantizer
	rot    []float32 // q′ = P·q
	qbar   []uint8   // quantized coordinates q̄_i ∈ [0, 2^Bq−1]
	planes []uint64  // plane-major: planes[k·D′/64 + w] is bit k of q̄ in word w
	low    float64   // v_l: q̃_i = low + delta·q̄_i
	delta  float64
	sumQ   float64 // Σ q̃_i
	normSq float64 // ‖q‖²
	eps0   float64 // ε0 of the bounds (SetEps0), 0 for the quantizer's
}

// SetEps0 sets the ε0 of the bounds Estimate returns for this query (0
// or less: the quantizer's Options.Eps0): larger is a wider, safer
// interval.
func (q *Query) SetEps0(e float64) { q.eps0 = e }

// NewQuery returns an empty Query for z; call Prepare before scoring.
func (z *Quantizer) NewQuery() *Query {
	return &Query{
		z:      z,
		rot:    make([]float32, z.dpad),
		qbar:   make([]uint8, z.dpad),
		planes: make([]uint64, z.words*z.opts.QueryBits),
	}
}

// Prepare rotates v (length D) and quantizes it. It does not allocate.
func (q *Query) Prepare(v []float32) error {
	if len(v) != q.z.opts.Dim {
		return fmt.Errorf("%w: query has %d dims, want %d", ErrLength, len(v), q.z.opts.Dim)
	}
	q.z.rot.Rotate(q.rot, v)
	q.quantize()
	return nil
}

// PrepareRotated takes an already rotated query (length D′).
func (q *Query) PrepareRotated(v []float32) error {
	if len(v) != q.z.dpad {
		return fmt.Errorf("%w: rotated query has %d dims, want %d", ErrLength, len(v), q.z.dpad)
	}
	copy(q.rot, v)
	q.quantize()
	return nil
}

// Rotated returns q′, the rotated query; the slice is the Query's own and
// changes with the next Prepare.
func (q *Query) Rotated() []float32 { return q.rot }

// quantize sets q̄_i = ⌊(q′_i − v_l)/Δ + u_i⌋ with u_i ∈ [0,1) a fixed
// pseudo-random dither per dimension, so that E[q̃_i] = q′_i: the
// rounding error of every coordinate has mean zero and magnitude below Δ
// (RaBitQ §3.3.1 randomises the rounding the same way).
func (q *Query) quantize() {
	bq := q.z.opts.QueryBits
	top := float64(int(1)<<bq - 1)
	lo, hi := math.Inf(1), math.Inf(-1)
	q.normSq = 0
	for _, v := range q.rot {
		x := float64(v)
		lo = min(lo, x)
		hi = max(hi, x)
		q.normSq += x * x
	}
	q.low = lo
	q.delta = (hi - lo) / top
	clear(q.planes)
	var sumBar uint64
	seed := q.z.opts.Seed ^ 0x6469746865722121 // "dither!!"
	for i, v := range q.rot {
		var bar float64
		if q.delta > 0 {
			u := float64(splitmix64(seed+uint64(i))>>11) / (1 << 53)
			bar = math.Floor((float64(v)-lo)/q.delta + u)
			bar = min(max(bar, 0), top)
		}
		qb := uint8(bar)
		q.qbar[i] = qb
		sumBar += uint64(qb)
		w, bit := i/64, uint(i%64)
		for k := range bq {
			q.planes[k*q.z.words+w] |= uint64(qb>>k&1) << bit
		}
	}
	q.sumQ = q.delta*float64(sumBar) + float64(len(q.rot))*lo
}

// splitmix64 is the SplitMix64 finaliser: a fixed, platform-independent
// hash for the dither.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Center holds the query-side terms for one encoding center c: Add is
// ‖q−c‖² (L2) or −⟨q,c⟩ (inner product, cosine), and Err is ‖q−c‖.
// They are one number each per center and query, and the router usually
// has them already (CenterL2, CenterIP).
type Center struct {
	Add, Err float64
}

// CenterL2 returns the Center for an L2 quantizer from the exact squared
// distance between query and center.
func CenterL2(distSq float64) Center {
	return Center{Add: distSq, Err: math.Sqrt(max(distSq, 0))}
}

// CenterIP returns the Center for an inner-product or cosine quantizer
// from ⟨q,c⟩, ‖q‖² and ‖c‖².
func CenterIP(qDotC, qNormSq, cNormSq float64) Center {
	return Center{Add: -qDotC, Err: math.Sqrt(max(qNormSq-2*qDotC+cNormSq, 0))}
}

// Center computes the Center for a rotated center c (length D′) in
// float64.
func (q *Query) Center(c []float32) Center {
	if len(c) != q.z.dpad {
		panic(fmt.Sprintf("rabitq: center has %d dims, want %d", len(c), q.z.dpad))
	}
	var d2, dot float64
	for i, v := range c {
		x, y := float64(q.rot[i]), float64(v)
		d2 += (x - y) * (x - y)
		dot += x * y
	}
	if q.z.opts.Metric == vec.L2 {
		return Center{Add: d2, Err: math.Sqrt(d2)}
	}
	return Center{Add: -dot, Err: math.Sqrt(d2)}
}

// Estimate scores one code (length CodeSize) against the query relative to
// its center: the estimated distance in the quantizer's metric and the
// interval that holds the true distance with high probability. It does
// not allocate. A code of the wrong length is a caller bug and panics.
func (q *Query) Estimate(code []byte, ctr Center) Estimate {
	z := q.z
	if len(code) != z.CodeSize() {
		panic(fmt.Sprintf("rabitq: code of %d bytes, want %d", len(code), z.CodeSize()))
	}
	ip, pc := dotCodeImpl(code[:len(code)-FactorBytes], z.opts.Bits, z.words, q.planes, z.opts.QueryBits)
	return q.finish(ip, pc, ReadFactors(code), ctr)
}

// EstimatePlanes is Estimate for layouts that keep the code planes
// (Bits·D′/8 bytes) apart from the factors, such as a posting stored as
// arrays of codes and of factors.
func (q *Query) EstimatePlanes(planes []byte, f Factors, ctr Center) Estimate {
	z := q.z
	if len(planes) != z.CodeSize()-FactorBytes {
		panic(fmt.Sprintf("rabitq: code planes of %d bytes, want %d", len(planes), z.CodeSize()-FactorBytes))
	}
	ip, pc := dotCodeImpl(planes, z.opts.Bits, z.words, q.planes, z.opts.QueryBits)
	return q.finish(ip, pc, f, ctr)
}

// yDotQ turns the kernel's integer sums into ⟨y, q̃⟩:
// ⟨y, q̃⟩ = Δ·Σu_i q̄_i + v_l·Σu_i − ((2^B−1)/2)·Σq̃_i.
func (q *Query) yDotQ(ip, pc uint64) float64 {
	half := float64(int(1)<<q.z.opts.Bits-1) / 2
	return q.delta*float64(ip) + q.low*float64(pc) - half*q.sumQ
}

func (q *Query) finish(ip, pc uint64, f Factors, ctr Center) Estimate {
	d := float64(f.Add) + ctr.Add + float64(f.Rescale)*q.yDotQ(ip, pc)
	eps0 := q.z.opts.Eps0
	if q.eps0 > 0 {
		eps0 = q.eps0
	}
	slack := eps0*float64(f.Err)*ctr.Err + q.z.opts.QueryZ*float64(f.Quant)*q.delta/2
	return Estimate{Dist: float32(d), Lower: float32(d - slack), Upper: float32(d + slack)}
}
