package benchcli

import (
	"fmt"
	"math/rand/v2"
)

// churnStream is the PCG stream of the churn schedule, apart from the
// streams of gen and of the index build that share the seed.
const churnStream = 0x636875726e // "churn"

// churnPlan is the schedule of the churn benchmark over a file of n rows,
// in which row i always has id i:
//
//   - rows [0, initial) are built offline;
//   - batch j upserts rows [lo, hi), then deletes its ids deletes;
//   - the deletes of all batches together are one random subset of all n
//     ids (built or upserted), each id deleted once and only after it was
//     inserted, spread so that after batch j about (j+1)/len(batches) of
//     the subset is gone.
//
// This is SPFresh's update workload (§5.1): a steady stream of inserts of
// new vectors and deletes of old ones at a fixed ratio.
type churnPlan struct {
	n, initial int
	batches    []churnBatch
	deleted    []bool // by id: deleted by some batch
}

// churnBatch is one step of a churnPlan.
type churnBatch struct {
	lo, hi  int
	deletes []uint64
}

// planChurn makes the schedule: rows past initial upserted batch rows at a
// time, and nDelete of the n ids, drawn with seed, deleted along the way.
// It needs 0 < initial < n, batch ≥ 1 and 0 ≤ nDelete ≤ n.
func planChurn(n, initial, batch, nDelete int, seed uint64) *churnPlan {
	if initial <= 0 || initial >= n || batch < 1 || nDelete < 0 || nDelete > n {
		panic(fmt.Sprintf("benchcli: planChurn(n %d, initial %d, batch %d, nDelete %d)", n, initial, batch, nDelete))
	}
	rng := rand.New(rand.NewPCG(seed, churnStream))
	p := &churnPlan{n: n, initial: initial, deleted: make([]bool, n)}

	// The subset: rejection sampling of the smaller of it and its
	// complement, so that it costs O(n) whatever the fraction.
	pick, want := true, nDelete
	if nDelete > n/2 {
		pick, want = false, n-nDelete
		for i := range p.deleted {
			p.deleted[i] = true
		}
	}
	for got := 0; got < want; {
		if i := rng.IntN(n); p.deleted[i] != pick {
			p.deleted[i] = pick
			got++
		}
	}

	for lo := initial; lo < n; lo += batch {
		p.batches = append(p.batches, churnBatch{lo: lo, hi: min(lo+batch, n)})
	}
	// An id can be deleted from the batch that inserts it on (built ids:
	// from the first batch). Each batch deletes its share of the subset
	// from the pool of such ids not yet deleted, at random; when the pool
	// runs short (ids drawn late in the file), the next batches catch up,
	// and the last one, after which every id is inserted, finishes.
	var pool []uint64
	addPool := func(lo, hi int) {
		for id := lo; id < hi; id++ {
			if p.deleted[id] {
				pool = append(pool, uint64(id))
			}
		}
	}
	addPool(0, initial)
	done := 0
	for j := range p.batches {
		b := &p.batches[j]
		addPool(b.lo, b.hi)
		target := int(int64(nDelete) * int64(j+1) / int64(len(p.batches)))
		need := min(target-done, len(pool))
		for range need {
			k := rng.IntN(len(pool))
			b.deletes = append(b.deletes, pool[k])
			pool[k] = pool[len(pool)-1]
			pool = pool[:len(pool)-1]
		}
		done += need
	}
	if done != nDelete || len(pool) != 0 {
		panic(fmt.Sprintf("benchcli: churn plan deletes %d of %d ids, %d left", done, nDelete, len(pool)))
	}
	return p
}

// live returns the ids (rows) not deleted by the plan, ascending.
func (p *churnPlan) live() []int {
	rows := make([]int, 0, p.n)
	for id, d := range p.deleted {
		if !d {
			rows = append(rows, id)
		}
	}
	return rows
}
