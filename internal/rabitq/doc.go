// Package rabitq quantizes vectors into RaBitQ codes and estimates
// distances from them with an error bound, so that search can score
// compact codes and rerank exactly only the candidates whose bound can
// still reach the top k.
//
// Papers: J. Gao and C. Long, "RaBitQ: Quantizing High-Dimensional Vectors
// with a Theoretical Error Bound for Approximate Nearest Neighbor Search",
// SIGMOD 2024 (arXiv 2405.12497); J. Gao, Y. Gou, Y. Xu, Y. Yang, C. Long
// and R. C.-W. Wong, "Practical and Asymptotically Optimal Quantization of
// High-Dimensional Vectors in Euclidean Space for Approximate Nearest
// Neighbor Search" (extended RaBitQ), SIGMOD 2025 (arXiv 2409.09913). The
// factor formulation and the rotation follow the description of
// VectorDB-NTU/RaBitQ-Library in the design note for issue 15 (§1); no code
// is taken from it.
//
// # The math, in brief
//
// A seeded orthonormal rotation P (FhtRotator; DenseRotator is the Haar
// reference) maps vectors of dimension D, zero-padded to D′ (a multiple of
// 64), into a space where every coordinate carries an even share of every
// vector. A vector o is coded relative to a center c (the posting's
// head): with r′ = P(o−c), a B-bit code is u ∈ [0, 2^B−1]^D′ and
// y = u − (2^B−1)/2, where y_i has the sign of r′_i; for B = 1,
// y_i = ±½, and for B > 1 the magnitudes |y_i| = e_i + ½ are chosen by
// the extended-RaBitQ rescale search, which maximises the cosine between
// y and r′ exactly over all scales. With n = ‖r′‖, ρ = ⟨y, r′⟩,
// κ = ⟨y, Pc⟩ and a = ρ/(n‖y‖), the estimate of ⟨o−c, v⟩ for any v is
// (n²/ρ)·⟨y, Pv⟩, unbiased over the random rotation (RaBitQ Thm 3.1).
// Taking v = q − c and expanding the distance:
//
//	L2:   ‖o−q‖²  ≈ n² + 2(n²/ρ)κ + ‖q−c‖² − 2(n²/ρ)·⟨y, Pq⟩
//	IP:   −⟨o,q⟩  ≈ −⟨o−c,c⟩ + (n²/ρ)κ − ⟨q,c⟩ − (n²/ρ)·⟨y, Pq⟩
//
// so the query is rotated once and never re-centred: the center enters
// through per-vector factors (Factors, fixed at encode time, computed in
// float64) and one Center per (query, center) pair. Cosine is the inner
// product of vectors the caller has normalised, with Shoal's distance
// −cos.
//
// The kernels need ⟨y, Pq⟩ with integers only: the query is quantized to
// Bq bits, q̃_i = v_l + Δ·q̄_i, with a fixed pseudo-random dither per
// dimension so that rounding is unbiased (RaBitQ §3.3.1), and
// ⟨u, q̄⟩ = Σ_j Σ_k 2^(j+k)·popcount(u⁽ʲ⁾ ∧ q̄⁽ᵏ⁾), where u⁽ʲ⁾ is bit j of
// every u_i and q̄⁽ᵏ⁾ bit k of every q̄_i, packed in uint64 words.
//
// # Kernels
//
// As in internal/vec, the scoring kernel exists as an unpacking reference
// (score_ref.go, the oracle), a generic popcount loop over uint64 words
// (score_generic.go, math/bits.OnesCount64), and AVX2 assembly for the
// default 1-bit code and 4-bit query (score_amd64.s, nibble-table
// popcount over 256-bit steps), chosen once at init() when
// golang.org/x/sys/cpu reports AVX2. -tags noasm leaves the assembly out;
// Impl reports the choice. Every kernel returns the same integer sums, so
// estimates are bit-identical across them.
//
// # Error bound
//
// Query.Estimate returns the estimate d̂ and the interval
//
//	d̂ ± (ε0·Err·‖q−c‖ + z·Quant·Δ/2)
//
// The first term is RaBitQ's bound (Thm 3.2):
// |⟨ō,q̂⟩/⟨ō,ô⟩ − ⟨ô,q̂⟩| ≤ ε0·√((1−a²)/a²)/√(D′−1) except with
// probability at most 2·exp(−c0·ε0²) for a Haar-random P; scaled to the
// distance it is Err = m·n·√((1/a²−1)/(D′−1)), m = 2 for L2 and 1 for
// inner product. The error is close to normal with that scale as its
// standard deviation, so ε0 counts standard deviations: the interval
// fails for about 2Φ(−ε0) of (vector, query) pairs — 5.7 % at the
// papers' ε0 = 1.9, 1 % at 2.58, 0.27 % at 3 — and each side fails half
// as often. The tests measure exactly this for the fast rotation and the
// Haar one. The second term covers the query's rounding: each
// coordinate's error has mean 0 and standard deviation at most Δ/2, so
// |Rescale|·⟨y, q̃−q′⟩ has standard deviation at most Quant·Δ/2 and
// z (default 3) of those are added. Search relies on one consequence: if
// every candidate whose Lower is at most the k-th smallest Upper is
// reranked exactly, the exact top k is found unless a bound fails near the
// threshold (tested directly, TestRerankOfBoundedCandidatesIsExact).
//
// # Byte layout of a code
//
// CodeSize(D′, B) = B·D′/8 + 16 bytes:
//
//	planes   B × (D′/64) little-endian uint64 words, plane-major:
//	         word w of plane p at byte (p·D′/64 + w)·8; coordinate i is
//	         bit i%64 of word i/64. Plane p holds bit B−1−p of u_i, so
//	         plane 0 is the sign plane and the first D′/8 bytes of a
//	         B-bit code are the 1-bit code of the same vector.
//	         u_i = 2^(B−1) + e_i for r′_i ≥ 0, 2^(B−1) − 1 − e_i otherwise.
//	factors  4 little-endian float32: Add, Rescale, Err, Quant (Factors).
//
// A vector equal to its center has an all-zero code and zero factors; its
// estimate is exactly Center.Add with an empty interval.
//
// # Thread-safety
//
// Quantizer and the rotators are immutable and safe for concurrent use.
// Encoder and Query are workspaces: one per goroutine. Encode, Prepare,
// Estimate and Rotate do not allocate.
package rabitq
