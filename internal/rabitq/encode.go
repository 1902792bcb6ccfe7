package rabitq

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/shoaldb/shoal/internal/vec"
)

// FactorBytes is the size of the factors that follow the code planes.
const FactorBytes = 16

// Factors are the per-vector scalars stored after a code (design note
// §1.2). With the query-side terms of Center and ⟨y, q′⟩ from the
// kernels, the estimated distance is
//
//	d̂ = Add + Center.Add + Rescale·⟨y, q′⟩
//
// and its error is at most ε0·Err·Center.Err + z·Quant·Δq/2 except with
// small probability (see the package documentation).
type Factors struct {
	// Add is the part of the distance that depends on the vector and the
	// center only: L2: n² + 2·(n²/ρ)·κ; inner product: −⟨r,c⟩ + (n²/ρ)·κ.
	Add float32
	// Rescale multiplies ⟨y, q′⟩: −2n²/ρ (L2) or −n²/ρ (inner product).
	Rescale float32
	// Err is the error-bound scale for ε0 = 1 and ‖q−c‖ = 1:
	// m·n·√((1/a² − 1)/(D′ − 1)) with a = ρ/(n‖y‖), m = 2 (L2) or 1.
	Err float32
	// Quant is |Rescale|·‖y‖, the scale of the error that quantizing the
	// query adds.
	Quant float32
}

// ReadFactors returns the factors of a code. It panics if code is shorter
// than FactorBytes.
func ReadFactors(code []byte) Factors {
	f := code[len(code)-FactorBytes:]
	return Factors{
		Add:     math.Float32frombits(binary.LittleEndian.Uint32(f[0:])),
		Rescale: math.Float32frombits(binary.LittleEndian.Uint32(f[4:])),
		Err:     math.Float32frombits(binary.LittleEndian.Uint32(f[8:])),
		Quant:   math.Float32frombits(binary.LittleEndian.Uint32(f[12:])),
	}
}

func putFactors(f []byte, fs Factors) {
	binary.LittleEndian.PutUint32(f[0:], math.Float32bits(fs.Add))
	binary.LittleEndian.PutUint32(f[4:], math.Float32bits(fs.Rescale))
	binary.LittleEndian.PutUint32(f[8:], math.Float32bits(fs.Err))
	binary.LittleEndian.PutUint32(f[12:], math.Float32bits(fs.Quant))
}

// Encoder turns rotated vectors into codes. It holds scratch space, so
// Encode does not allocate; an Encoder is not safe for concurrent use.
type Encoder struct {
	z *Quantizer
	r []float64 // residual r′ = o′ − c′
	e []int32   // extended-code magnitudes e_i
	// Rescale search: coordinates by decreasing |r_i|, the coordinate
	// of each step in sweep order, and the merge heap.
	order    []int32
	abs, inv []float64 // |r_i| and 1/|r_i| in that order
	ev       []int32
	h        eventHeap
}

// NewEncoder returns an Encoder for z.
func (z *Quantizer) NewEncoder() *Encoder {
	e := &Encoder{z: z, r: make([]float64, z.dpad), e: make([]int32, z.dpad)}
	if b := z.opts.Bits - 1; b > 0 {
		e.order = make([]int32, 0, z.dpad)
		e.abs = make([]float64, 0, z.dpad)
		e.inv = make([]float64, 0, z.dpad)
		e.ev = make([]int32, 0, z.dpad*(1<<b-1))
		e.h = make(eventHeap, 0, 1<<b-1)
	}
	return e
}

// Encode writes into dst (length CodeSize) the code of the rotated vector
// o relative to the rotated center c (both length D′, from Rotate). The
// factors are computed in float64 and stored as float32. A vector equal to
// its center gets an all-zero code and factors that make the estimate
// exactly the distance to the center, with a zero error bound.
func (e *Encoder) Encode(dst []byte, o, c []float32) error {
	z := e.z
	if len(o) != z.dpad || len(c) != z.dpad || len(dst) != z.CodeSize() {
		return fmt.Errorf("%w: Encode o %d, c %d, dst %d; want %d, %d, %d",
			ErrLength, len(o), len(c), len(dst), z.dpad, z.dpad, z.CodeSize())
	}
	var n2 float64
	for i := range e.r {
		d := float64(o[i]) - float64(c[i])
		e.r[i] = d
		n2 += d * d
	}
	planes := dst[:len(dst)-FactorBytes]
	clear(planes)
	if n2 == 0 {
		putFactors(dst[len(planes):], Factors{})
		return nil
	}
	bits := z.opts.Bits
	switch {
	case bits == 1:
		clear(e.e)
	case z.opts.ExactScale:
		e.rescale(bits - 1)
	default:
		e.rescaleFixed(bits-1, z.scale/math.Sqrt(n2))
	}
	// u_i = sign·2^b + (e_i if positive else 2^b−1−e_i), so that
	// y_i = u_i − (2^B−1)/2 = ±(e_i + ½). Plane p holds bit B−1−p of u:
	// the sign plane comes first, so the first D′/8 bytes of any code are
	// its 1-bit code.
	b := bits - 1
	mask := int32(1)<<b - 1
	var rho, y2, kappa, rc float64
	for i, r := range e.r {
		mag := float64(e.e[i]) + 0.5
		u := e.e[i] | 1<<b
		y := mag
		if r < 0 {
			u = mask - e.e[i]
			y = -mag
		}
		rho += y * r
		y2 += mag * mag
		kappa += y * float64(c[i])
		rc += r * float64(c[i])
		word, bit := i/64, uint(i%64)
		for p := range bits {
			if u>>(bits-1-p)&1 == 1 {
				off := (p*z.words + word) * 8
				w := binary.LittleEndian.Uint64(planes[off:])
				binary.LittleEndian.PutUint64(planes[off:], w|1<<bit)
			}
		}
	}
	n := math.Sqrt(n2)
	s := n2 / rho
	a := rho / (n * math.Sqrt(y2))
	errUnit := n * math.Sqrt(max(0, 1/(a*a)-1)/float64(z.dpad-1))
	m := 1.0
	var add float64
	if z.opts.Metric == vec.L2 {
		m = 2
		add = n2 + 2*s*kappa
	} else {
		add = -rc + s*kappa
	}
	putFactors(dst[len(planes):], Factors{
		Add:     float32(add),
		Rescale: float32(-m * s),
		Err:     float32(m * errUnit),
		Quant:   float32(m * s * math.Sqrt(y2)),
	})
	return nil
}

// rescale chooses the magnitudes e_i ∈ [0, 2^b−1] of an extended code
// (extended RaBitQ §3.2): e_i = min(⌊t·|r_i|⌋, 2^b−1) for the scale t
// that maximises the cosine between y = ±(e + ½) and r. As t grows, the
// e_i step up one at a time, coordinate i to k at t = k/|r_i|; the sweep
// visits every step in order, keeping Σ(e_i+½)|r_i| and Σ(e_i+½)², and
// then replays the steps up to the best state. For each k the steps come
// in order of decreasing |r_i|, so the sweep sorts the coordinates once
// and merges 2^b−1 lists through a heap of that size: O(D′ log D′ +
// D′·2^b·b).
func (e *Encoder) rescale(b int) { e.rescaleSearch(b) }

// rescaleFixed sets e_i = min(⌊t·|r_i|⌋, 2^b−1) for the given t: the fast
// variant of extended RaBitQ, with t = t0/‖r‖ and t0 the typical best
// scale of a vector of this dimension and these bits (fixedScale). The
// estimator stays unbiased and its bound exact for the code chosen (the
// factors are computed from it); only the cosine between y and r, and so
// the bound's width, is a little worse than the searched scale's.
func (e *Encoder) rescaleFixed(b int, t float64) {
	top := int32(1)<<b - 1
	for i, r := range e.r {
		k := int32(math.Abs(r) * t)
		e.e[i] = min(max(k, 0), top)
	}
}

// rescaleSearch finds the scale exactly (see rescale) and returns the
// scale t, times ‖r‖, at which the best state holds: the middle of the
// interval of t over which it does.
func (e *Encoder) rescaleSearch(b int) float64 {
	top := int32(1)<<b - 1
	clear(e.e)
	e.ev = e.ev[:0]
	e.order = e.order[:0]
	var num, den float64
	for i, r := range e.r {
		a := math.Abs(r)
		num += 0.5 * a
		den += 0.25
		if a > 0 {
			e.order = append(e.order, int32(i))
		}
	}
	slices.SortFunc(e.order, func(x, y int32) int {
		ax, ay := math.Abs(e.r[x]), math.Abs(e.r[y])
		switch {
		case ax > ay:
			return -1
		case ax < ay:
			return 1
		}
		return int(x - y)
	})
	e.abs, e.inv = e.abs[:0], e.inv[:0]
	for _, i := range e.order {
		a := math.Abs(e.r[i])
		e.abs = append(e.abs, a)
		e.inv = append(e.inv, 1/a)
	}
	e.h = e.h[:0]
	if len(e.order) > 0 {
		for k := int32(1); k <= top; k++ {
			e.h = append(e.h, event{t: float64(k) * e.inv[0], k: k})
		}
	}
	e.h.init()
	// The cosine num/√den is compared as num²/den, cross-multiplied, to
	// keep divisions and square roots out of the loop (num > 0 throughout
	// since some |r_i| > 0).
	bestNum2, bestDen, bestAt := num*num, den, 0
	var bestT, nextT float64
	for len(e.h) > 0 {
		ev := &e.h[0]
		k := float64(ev.k - 1)
		num += e.abs[ev.pos]
		den += 2*k + 2 // (k+1.5)² − (k+0.5)²
		e.ev = append(e.ev, e.order[ev.pos])
		better := num*num*bestDen > bestNum2*den
		if better {
			bestNum2, bestDen, bestAt, bestT = num*num, den, len(e.ev), ev.t
		}
		if ev.pos++; int(ev.pos) < len(e.order) {
			ev.t = float64(ev.k) * e.inv[ev.pos]
			e.h.down(0)
		} else {
			e.h.pop0()
		}
		if better {
			nextT = 2 * bestT
			if len(e.h) > 0 {
				nextT = e.h[0].t
			}
		}
	}
	for _, i := range e.ev[:bestAt] {
		e.e[i]++
	}
	var n2 float64
	for _, r := range e.r {
		n2 += r * r
	}
	return (bestT + nextT) / 2 * math.Sqrt(n2)
}

// fixedScales caches fixedScale by (D′, b).
var fixedScales sync.Map // [2]int → float64

// fixedScale returns t0 for codes of b+1 bits in dimension dpad: the
// median, over 33 Gaussian vectors drawn from a fixed seed, of the best
// scale times the vector's norm. A Gaussian vector is what a residual
// looks like after the random rotation, so t0/‖r‖ is close to the best
// scale of any vector; the same (dpad, b) gives the same t0 everywhere.
func fixedScale(dpad, b int) float64 {
	key := [2]int{dpad, b}
	if v, ok := fixedScales.Load(key); ok {
		return v.(float64)
	}
	z := &Quantizer{opts: Options{Bits: b + 1}, dpad: dpad, words: dpad / 64}
	e := z.NewEncoder()
	rng := rand.New(rand.NewPCG(0x5ca1e, uint64(dpad)<<8|uint64(b)))
	ts := make([]float64, 33)
	for j := range ts {
		for i := range e.r {
			e.r[i] = rng.NormFloat64()
		}
		ts[j] = e.rescaleSearch(b)
	}
	slices.Sort(ts)
	t := ts[len(ts)/2]
	fixedScales.Store(key, t)
	return t
}

// event is the next step of list k of the rescale sweep: coordinate
// order[pos] reaches magnitude k at scale t.
type event struct {
	t      float64
	k, pos int32
}

// eventHeap is a binary min-heap on (t, k); k breaks ties so the sweep,
// and so the code, is deterministic.
type eventHeap []event

func (h eventHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *eventHeap) pop0() {
	old := *h
	n := len(old) - 1
	old[0] = old[n]
	*h = old[:n]
	if n > 0 {
		h.down(0)
	}
}

func (h eventHeap) down(i int) {
	// Sift the element at i down by moving children up into the hole and
	// writing it once at the end.
	n := len(h)
	x := h[i]
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && (h[r].t < h[l].t || (h[r].t == h[l].t && h[r].k < h[l].k)) {
			m = r
		}
		if !(h[m].t < x.t || (h[m].t == x.t && h[m].k < x.k)) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = x
}
