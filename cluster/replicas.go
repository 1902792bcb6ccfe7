package cluster

import "github.com/shoaldb/shoal/internal/vec"

// ReplicaRule holds the parameters of SelectReplicas: SPANN's closure
// assignment with the RNG rule (§3.2).
type ReplicaRule struct {
	// Replicas bounds the heads kept.
	Replicas int
	// RNGFactor: candidate h_i is skipped if some kept h_j has
	// RNGFactor·d(h_i,h_j) < d(x,h_i).
	RNGFactor float64
	// ClosureEpsilon is ε₁: only heads with d(x,h) ≤ (1+ε₁)·d(x,h₁) are
	// kept, when Closure is set (not for inner product).
	ClosureEpsilon float64
	Closure        bool
}

// SelectReplicas appends to kept the heads among cands (x's candidate
// heads in t, nearest first) that x is stored in. SPANN §3.2: h_i is kept
// only if d(x,h_i) ≤ (1+ε₁)·d(x,h_1), and no already kept h_j has
// RNGFactor·d(h_i,h_j) < d(x,h_i) — a vector is replicated to heads in
// different directions, not to a cluster of near-duplicate heads. The RNG
// test uses squared L2 whatever the metric.
func SelectReplicas(t *Tree, r ReplicaRule, x []float32, cands, kept []Candidate) []Candidate {
	if len(cands) == 0 {
		return kept
	}
	limit := float32((1 + r.ClosureEpsilon) * float64(cands[0].Dist))
	for _, c := range cands {
		if len(kept) == r.Replicas {
			break
		}
		if r.Closure && len(kept) > 0 && c.Dist > limit {
			break
		}
		hc := t.Head(int(c.Leaf))
		dxc := c.Dist
		if !r.Closure {
			dxc = vec.L2SquaredF32(x, hc)
		}
		ok := true
		for _, k := range kept {
			if float32(r.RNGFactor)*vec.L2SquaredF32(hc, t.Head(int(k.Leaf))) < dxc {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	return kept
}
