package index

import (
	"sync/atomic"
	"time"
)

// holdHist counts how long background maintenance held the writer lock,
// each hold in a power-of-two bucket of microseconds, so that Stats can
// report a percentile of the time upserts may wait behind maintenance.
// Safe for concurrent use.
type holdHist struct {
	buckets [40]atomic.Int64 // bucket i: holds of [2^(i-1), 2^i) µs
	max     atomic.Int64     // nanoseconds
}

func (h *holdHist) add(d time.Duration) {
	us := uint64(d / time.Microsecond)
	i := 0
	for us > 0 && i < len(h.buckets)-1 {
		us >>= 1
		i++
	}
	h.buckets[i].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// quantile returns the upper bound of the bucket holding the q-quantile
// (0 < q ≤ 1), at most the longest hold; 0 when nothing was recorded.
func (h *holdHist) quantile(q float64) time.Duration {
	var n [len(holdHist{}.buckets)]int64
	var total int64
	for i := range h.buckets {
		n[i] = h.buckets[i].Load()
		total += n[i]
	}
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total)+0.999999) - 1
	var seen int64
	for i, c := range n {
		seen += c
		if seen > rank {
			return min(time.Duration(1<<i)*time.Microsecond, time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// lockMaint takes the writer lock for maintenance; unlockMaint releases
// it and records the hold (graceUnlocked records and restarts it around
// its grace period).
func (ix *Index) lockMaint() {
	ix.wmu.Lock()
	ix.heldSince = time.Now()
}

func (ix *Index) unlockMaint() {
	ix.holds.add(time.Since(ix.heldSince))
	ix.wmu.Unlock()
}
