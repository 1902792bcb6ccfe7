package filter

import (
	"fmt"
	"math"
)

// Mode picks the strategy of a filtered search (index.SearchParams.Filter).
// All of them return only vectors that satisfy the filter.
type Mode uint8

const (
	// Auto lets the planner choose by the number of vectors the filter
	// selects: at most the brute-force threshold, pre-filtering; more,
	// in-scan filtering with the probe budget (NProbe, or a tenant's
	// SearchEF) raised by the inverse selectivity, at most maxProbe-fold.
	Auto Mode = iota
	// Pre always scores every selected vector: exact, and as slow as the
	// selection is large.
	Pre
	// InScan always filters while scanning, at the budget given: the
	// baseline whose recall collapses on selective filters.
	InScan
)

// String returns the mode's name as the CLI spells it.
func (m Mode) String() string {
	switch m {
	case Auto:
		return "auto"
	case Pre:
		return "pre"
	case InScan:
		return "inscan"
	}
	return fmt.Sprintf("FilterMode(%d)", m)
}

// Plan is what a filtered search did.
type Plan uint8

const (
	// PlanNone: the search had no filter.
	PlanNone Plan = iota
	// PlanPre: every selected vector was scored from its stored vector.
	PlanPre
	// PlanScan: the shared postings were read, rows outside the selection
	// dropped while scoring.
	PlanScan
	// PlanShortlists: the tenant's shortlists were read, rows outside the
	// selection dropped while scoring.
	PlanShortlists
)

// String returns the plan's name.
func (p Plan) String() string {
	switch p {
	case PlanNone:
		return "none"
	case PlanPre:
		return "pre"
	case PlanScan:
		return "scan"
	case PlanShortlists:
		return "shortlists"
	}
	return fmt.Sprintf("FilterPlan(%d)", p)
}

const (
	DefaultMaxProbe = 256
	// probeExp is α in the planner's raise of NProbe (SearchEF) by
	// (1/selectivity)^α. On GloVe-100 (shoal labelbench), with NProbe at
	// the unfiltered recall@10 ≈ 0.9 operating point, in-scan filtering
	// needed ≈3× the heads at 10 % and ≈10× at 1 % for the same recall:
	// α ≈ 0.5. (α = 1 would keep the matching vectors scored constant,
	// more than needed: the k filtered nearest are not spread as thinly
	// as the matches.)
	probeExp = 0.5
	// headCost is what reading and scoring one posting costs in the
	// in-scan plan, in units of reading and scoring one stored vector in
	// the pre-filter plan (GloVe-100 f16, 2-core box, postings by direct
	// I/O without cache, build rows from the page cache: 20–30 µs a
	// posting with its routing; 1 µs a sparse vector, 0.45 µs at 10 %
	// density, where coalesced reads copy most of the rows file). Time
	// alone would say ≈50 on that box; 30 leaves a dense selection to the
	// in-scan plan, which reads a bounded number of bytes, where the
	// pre-filter would read the whole rows file from the page cache (or
	// the disk, for a data set larger than memory). rowCost is the
	// same for one shortlist row (not measured: rows are read as postings
	// are).
	headCost = 30
	rowCost  = 0.25
)

// Query describes a filtered search to plan: the filter selects Matches
// of Base ids (the live ids, or the tenant's list); Probe is the budget
// an unfiltered search would use (NProbe, or SearchEF when Shortlists: a
// tenant searching its shortlists); ForcePre asks for the pre-filter (a
// tenant's brute-force mode).
type Query struct {
	Matches, Base uint64
	Probe         int
	Shortlists    bool
	ForcePre      bool
	Mode          Mode
	// BruteMax, if set, is the pre-filter threshold in selected vectors;
	// MaxProbe bounds the raise of Probe as a multiple of it
	// (DefaultMaxProbe when 0).
	BruteMax, MaxProbe int
}

// Choose plans q (Curator-style selectivity planning). Plans:
//
//   - pre-filter: score exactly the Matches vectors. Cost ∝ Matches;
//     recall 1.
//   - in-scan: read what an unfiltered search reads with Probe raised to
//     Probe·(1/s)^α for selectivity s (at most MaxProbe-fold), and drop
//     rows outside the selection while scoring. Cost ∝ Probe/s^α; recall
//     holds because the k nearest selected vectors lie among the nearest
//     postings of the query, only farther out.
//
// Auto picks the cheaper by the cost model (headCost, rowCost), or
// pre-filters when Matches ≤ BruteMax if that is set. Pre and ForcePre
// always pre-filter; InScan scans at the budget given. Choose returns the
// plan and, for a scan, the probe budget to use.
func Choose(q Query) (Plan, int) {
	maxProbe := q.MaxProbe
	if maxProbe <= 0 {
		maxProbe = DefaultMaxProbe
	}
	probe := q.Probe
	if q.Mode != InScan {
		f := math.Pow(float64(max(q.Base, 1))/float64(max(q.Matches, 1)), probeExp)
		probe = max(probe, int(math.Ceil(float64(probe)*math.Min(f, float64(maxProbe)))))
	}
	scanCost := float64(probe) * headCost
	if q.Shortlists {
		scanCost = float64(probe) * rowCost
	}
	pre := q.Matches == 0 || q.Mode == Pre || q.ForcePre
	if !pre && q.Mode == Auto {
		if q.BruteMax > 0 {
			pre = q.Matches <= uint64(q.BruteMax)
		} else {
			pre = float64(q.Matches) <= scanCost
		}
	}
	switch {
	case pre:
		return PlanPre, q.Probe
	case q.Shortlists:
		return PlanShortlists, probe
	}
	return PlanScan, probe
}
