package rabitq

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
)

// The statistical tests use fixed seeds, so they are deterministic; the
// thresholds are the papers' claims with room for sampling noise, not
// values fitted to these seeds.

type sample struct {
	est, flt Estimate // with the quantized query, and with the float query
	exact    float64
	// codeSlack and querySlack are the two terms of the bound for
	// ε0 = 1 and z = 1: Err·‖q−c‖ and Quant·Δ/2.
	codeSlack, querySlack float64
}

func newSample(q *Query, code []byte, ctr Center, exact float64) sample {
	f := ReadFactors(code)
	return sample{
		est: q.Estimate(code, ctr), flt: q.estimateFloatRef(code, ctr), exact: exact,
		codeSlack: float64(f.Err) * ctr.Err, querySlack: float64(f.Quant) * q.delta / 2,
	}
}

// gaussianSamples encodes nv Gaussian vectors around a Gaussian center and
// scores them against nq Gaussian queries.
func gaussianSamples(t *testing.T, z *Quantizer, nq, nv int, seed string) []sample {
	d := z.Dim()
	r := newRand(seed)
	cv := gaussian(r, d, 1)
	c := rotated(t, z, cv)
	e, q := z.NewEncoder(), z.NewQuery()
	vs := make([][]float32, nv)
	codes := make([][]byte, nv)
	for i := range vs {
		vs[i] = gaussian(r, d, 1)
		for x := range vs[i] {
			vs[i][x] += cv[x]
		}
		codes[i] = encode(t, e, rotated(t, z, vs[i]), c)
	}
	var out []sample
	for range nq {
		qv := gaussian(r, d, 1)
		if err := q.Prepare(qv); err != nil {
			t.Fatal(err)
		}
		ctr := q.Center(c)
		for i, code := range codes {
			out = append(out, newSample(q, code, ctr, exactDist(z.Options().Metric, vs[i], qv)))
		}
	}
	return out
}

// gaussianPairs scores n independent (vector, query) pairs around one
// center. Errors of pairs that share a vector or a query are correlated
// (for a fixed vector the error is linear in q−c), so a mean over a grid
// of vectors × queries would not shrink as 1/√n. Each query is its vector
// plus Gaussian noise, so ⟨o−c, q−c⟩ is far from zero and a misscaled
// estimator shows up as a bias (with independent queries the error would
// average out by symmetry whatever the scale).
func gaussianPairs(t *testing.T, z *Quantizer, n int, seed string) []sample {
	d := z.Dim()
	r := newRand(seed)
	cv := gaussian(r, d, 1)
	c := rotated(t, z, cv)
	e, q := z.NewEncoder(), z.NewQuery()
	out := make([]sample, 0, n)
	for range n {
		o := gaussian(r, d, 1)
		for x := range o {
			o[x] += cv[x]
		}
		code := encode(t, e, rotated(t, z, o), c)
		qv := gaussian(r, d, 0.7)
		for x := range qv {
			qv[x] += o[x]
		}
		if err := q.Prepare(qv); err != nil {
			t.Fatal(err)
		}
		out = append(out, newSample(q, code, q.Center(c), exactDist(z.Options().Metric, o, qv)))
	}
	return out
}

// TestEstimatorIsUnbiased: the mean error of the estimate is zero within
// 3σ/√n, with the float query (RaBitQ Thm 3.1, extended RaBitQ §3) and
// with the dithered 4-bit query (RaBitQ §3.3.1).
func TestEstimatorIsUnbiased(t *testing.T) {
	skipIfShort(t)
	for _, d := range []int{100, 784} {
		for _, m := range []vec.Metric{vec.L2, vec.InnerProduct} {
			for _, bits := range []int{1, 2, 4, 8} {
				if d > 128 && bits != 1 && bits != 4 {
					continue // the high-dimensional case only at the default widths, for time
				}
				name := fmt.Sprintf("d=%d/%v/B=%d", d, m, bits)
				z := mustNew(t, Options{Dim: d, Bits: bits, Metric: m, Seed: 1})
				s := gaussianPairs(t, z, 2000, name)
				for _, which := range []string{"quantized query", "float query"} {
					var sum, sum2 float64
					for _, x := range s {
						est := x.est
						if which == "float query" {
							est = x.flt
						}
						err := float64(est.Dist) - x.exact
						sum += err
						sum2 += err * err
					}
					n := float64(len(s))
					mean := sum / n
					sd := math.Sqrt(sum2/n - mean*mean)
					if math.Abs(mean) > 3*sd/math.Sqrt(n) {
						t.Errorf("%s, %s: mean error %.4g, want |mean| ≤ 3σ/√n = %.4g", name, which, mean, 3*sd/math.Sqrt(n))
					}
				}
			}
		}
	}
}

// violationRates returns the fraction of samples whose true distance
// falls outside the interval at (eps0, z): with the quantized query (both
// bound terms) and with the float query (the code term alone).
func violationRates(s []sample, eps0, z float64) (quant, float float64) {
	var vq, vf int
	for _, x := range s {
		if math.Abs(float64(x.est.Dist)-x.exact) > eps0*x.codeSlack+z*x.querySlack {
			vq++
		}
		if math.Abs(float64(x.flt.Dist)-x.exact) > eps0*x.codeSlack {
			vf++
		}
	}
	return float64(vq) / float64(len(s)), float64(vf) / float64(len(s))
}

// gaussianTail is 2Φ(−ε): the estimator's error is close to normal with
// standard deviation at most the bound's scale √((1/a²−1)/(D′−1)) (RaBitQ
// §3.2), so ε0 counts standard deviations and this is the failure rate to
// expect when ⟨ô, q̂⟩ ≈ 0, as for Gaussian data.
func gaussianTail(eps float64) float64 { return math.Erfc(eps / math.Sqrt2) }

// checkBound asserts the failure rates against theory: at ε0 = 1.9 the
// code term alone fails for about 2Φ(−1.9) ≈ 5.7 % of pairs, and no more
// than that plus sampling noise; at ε0 = 3 below 1 %, with and without
// query quantization. The query term only widens the interval.
func checkBound(t *testing.T, name string, s []sample, tight bool) {
	t.Helper()
	n := float64(len(s))
	for _, eps := range []float64{DefaultEps0, 3} {
		vq, vf := violationRates(s, eps, DefaultQueryZ)
		p := gaussianTail(eps)
		noise := 4 * math.Sqrt(p/n)
		t.Logf("%s ε0=%.1f: violation rate %.4f (quantized query), %.4f (float query); 2Φ(−ε0) = %.4f", name, eps, vq, vf, p)
		if vf > p+noise || vq > p+noise {
			t.Errorf("%s ε0=%.1f: violation rates %.4f / %.4f, want ≤ 2Φ(−ε0) + 4σ = %.4f", name, eps, vq, vf, p+noise)
		}
		if eps == 3 && (vf >= 0.01 || vq >= 0.01) {
			t.Errorf("%s ε0=3: violation rates %.4f / %.4f, want < 0.01", name, vq, vf)
		}
		// The bound is not vacuous: on isotropic data it is close to the
		// error's real spread.
		if tight && eps == DefaultEps0 && vf < p/2 {
			t.Errorf("%s ε0=%.1f: float-query violation rate %.4f, want near 2Φ(−ε0) = %.4f (bound too loose?)", name, eps, vf, p)
		}
	}
	var cs, qs float64
	for _, x := range s {
		cs += x.codeSlack
		qs += x.querySlack
	}
	t.Logf("%s: query-term / code-term slack at z=3, ε0=1.9: %.2f", name, 3*qs/(DefaultEps0*cs))
}

// TestBoundViolationRateGaussian checks the bound's failure rate on
// isotropic data against theory (checkBound), for the fast and the Haar
// rotation: the fast rotation must do as well as the one the analysis
// assumes.
func TestBoundViolationRateGaussian(t *testing.T) {
	skipIfShort(t)
	for _, d := range []int{128, 784} {
		for _, m := range []vec.Metric{vec.L2, vec.InnerProduct} {
			for _, bits := range []int{1, 4} {
				for _, rot := range []RotationKind{RotationFht, RotationDense} {
					if rot == RotationDense && d > 128 {
						continue
					}
					name := fmt.Sprintf("d=%d/%v/B=%d/rot=%d", d, m, bits, rot)
					z := mustNew(t, Options{Dim: d, Bits: bits, Metric: m, Seed: 2, Rotation: rot})
					checkBound(t, name, gaussianSamples(t, z, 25, 200, name), true)
				}
			}
		}
	}
}

// clusteredSet is a clustered data set encoded against its cluster means.
type clusteredSet struct {
	z       *Quantizer
	vs      [][]float32
	of      []int
	centers [][]float32 // rotated
	codes   [][]byte
	queries [][]float32
}

func newClusteredSet(t *testing.T, o Options, n, k, nq int) *clusteredSet {
	z := mustNew(t, o)
	r := newRand(fmt.Sprintf("clustered/%+v", o))
	all, of := clustered(r, n+nq, k, o.Dim)
	if o.Metric == vec.Cosine {
		for i := range all {
			all[i] = normalize(all[i])
		}
	}
	s := &clusteredSet{z: z, vs: all[:n], of: of[:n], queries: all[n:]}
	for j := range k {
		s.centers = append(s.centers, rotated(t, z, mean(s.vs, s.of, j)))
	}
	e := z.NewEncoder()
	for i, v := range s.vs {
		s.codes = append(s.codes, encode(t, e, rotated(t, z, v), s.centers[s.of[i]]))
	}
	return s
}

// TestBoundViolationRateClustered repeats the bound check on clustered
// data offset from the origin, where the query is far from the center and
// its quantization error is largest.
func TestBoundViolationRateClustered(t *testing.T) {
	skipIfShort(t)
	for _, d := range []int{128, 784} {
		for _, m := range []vec.Metric{vec.L2, vec.InnerProduct, vec.Cosine} {
			for _, bits := range []int{1, 4} {
				o := Options{Dim: d, Bits: bits, Metric: m, Seed: 3}
				cs := newClusteredSet(t, o, 3000, 16, 8)
				q := cs.z.NewQuery()
				var s []sample
				for _, qv := range cs.queries {
					if err := q.Prepare(qv); err != nil {
						t.Fatal(err)
					}
					ctrs := make([]Center, len(cs.centers))
					for j, c := range cs.centers {
						ctrs[j] = q.Center(c)
					}
					for i, code := range cs.codes {
						ctr := ctrs[cs.of[i]]
						s = append(s, newSample(q, code, ctr, exactDist(m, cs.vs[i], qv)))
					}
				}
				checkBound(t, fmt.Sprintf("d=%d/%v/B=%d", d, m, bits), s, false)
			}
		}
	}
}

// TestRerankOfBoundedCandidatesIsExact is the property search relies on:
// rerank exactly every vector whose lower bound is at most the k-th
// smallest upper bound, and the top k of those is the exact top k.
func TestRerankOfBoundedCandidatesIsExact(t *testing.T) {
	skipIfShort(t)
	const k = 10
	for _, d := range []int{128, 784} {
		for _, m := range []vec.Metric{vec.L2, vec.InnerProduct, vec.Cosine} {
			for _, bits := range []int{1, 4} {
				name := fmt.Sprintf("d=%d/%v/B=%d", d, m, bits)
				cs := newClusteredSet(t, Options{Dim: d, Bits: bits, Metric: m, Seed: 4}, 3000, 16, 10)
				q := cs.z.NewQuery()
				ests := make([]Estimate, len(cs.codes))
				uppers := make([]float32, len(cs.codes))
				reranked := 0
				for qi, qv := range cs.queries {
					if err := q.Prepare(qv); err != nil {
						t.Fatal(err)
					}
					for i, code := range cs.codes {
						ests[i] = q.Estimate(code, q.Center(cs.centers[cs.of[i]]))
						uppers[i] = ests[i].Upper
					}
					slices.Sort(uppers)
					kth := uppers[k-1]
					type hit struct {
						id int
						d  float64
					}
					var cand, all []hit
					for i, v := range cs.vs {
						h := hit{i, exactDist(m, v, qv)}
						all = append(all, h)
						if ests[i].MayBeat(kth) {
							cand = append(cand, h)
						}
					}
					reranked += len(cand)
					byDist := func(s []hit) []int {
						sort.Slice(s, func(a, b int) bool { return s[a].d < s[b].d })
						ids := make([]int, 0, k)
						for _, h := range s[:min(k, len(s))] {
							ids = append(ids, h.id)
						}
						return ids
					}
					if got, want := byDist(cand), byDist(all); !slices.Equal(got, want) {
						t.Errorf("%s query %d: reranked top-%d %v, exact %v (%d candidates)", name, qi, k, got, want, len(cand))
					}
				}
				frac := float64(reranked) / float64(len(cs.queries)*len(cs.codes))
				t.Logf("%s: reranked %.1f%% of vectors", name, 100*frac)
				if frac >= 1 {
					t.Errorf("%s: the bounds pruned nothing", name)
				}
			}
		}
	}
}

// skipIfShort skips the statistical tests, which take tens of seconds on
// a small machine, under -short.
func skipIfShort(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical test; skipped with -short")
	}
}
