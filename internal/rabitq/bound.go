package rabitq

// Estimate is an estimated distance with the interval that contains the
// true distance except with small probability (see the package
// documentation): Lower ≤ Dist ≤ Upper.
type Estimate struct {
	Dist, Lower, Upper float32
}

// Intersect combines two estimates of the same vector's distance, say
// from two postings that hold it relative to different centers (design
// note §1.5): the interval is the intersection, and the estimate the one
// with the narrower interval, clamped into it. If the intervals are
// disjoint (a bound failed), the result is still well formed: the
// narrower estimate with its own interval.
func (e Estimate) Intersect(o Estimate) Estimate {
	if o.Upper-o.Lower < e.Upper-e.Lower {
		e, o = o, e
	}
	lo, hi := max(e.Lower, o.Lower), min(e.Upper, o.Upper)
	if lo > hi {
		return e
	}
	return Estimate{Dist: min(max(e.Dist, lo), hi), Lower: lo, Upper: hi}
}

// MayBeat reports whether the true distance can be below threshold, the
// k-th smallest upper bound of a search: candidates for which it is false
// need no exact rerank, because k others are certainly closer.
func (e Estimate) MayBeat(threshold float32) bool { return e.Lower <= threshold }
