package filter

import (
	"slices"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
)

// Source gives the ids that carry each label. Eval only reads its
// bitmaps; a Source used by concurrent Evals must be safe for that.
type Source interface {
	// Bitmap returns the ids with label id; nil when none has it.
	Bitmap(label uint32) *roaring64.Bitmap
}

// Universe returns the ids NOT complements against: every id that can be
// selected (for an index, its live ids). Eval calls it at most once, and
// only for an expression that needs it.
type Universe func() *roaring64.Bitmap

// Eval returns the ids that e selects. e must be valid (Validate).
//
// The result may be one of src's bitmaps or the universe itself, not a
// copy: the caller must treat it as read-only. AND and OR work on the
// arguments smallest first, and NOT under an AND is a difference from
// the other arguments, so the universe is only touched by an expression
// that is all negative (`NOT 3`, `NOT 3 AND NOT 4`, `NOT 3 OR 4`).
func Eval(e *Expr, src Source, universe Universe) *roaring64.Bitmap {
	ev := evaluator{src: src, universe: universe}
	bm, _ := ev.eval(e)
	return bm
}

type evaluator struct {
	src      Source
	universe Universe
	uni      *roaring64.Bitmap
}

func (ev *evaluator) all() *roaring64.Bitmap {
	if ev.uni == nil {
		if ev.universe != nil {
			ev.uni = ev.universe()
		}
		if ev.uni == nil {
			ev.uni = roaring64.New()
		}
	}
	return ev.uni
}

// eval returns e's ids; owned says whether the bitmap is a fresh one the
// caller may change.
func (ev *evaluator) eval(e *Expr) (bm *roaring64.Bitmap, owned bool) {
	switch e.Op {
	case OpLabel:
		if bm := ev.src.Bitmap(e.Label); bm != nil {
			return bm, false
		}
		return roaring64.New(), true
	case OpNot:
		x, _ := ev.eval(e.Args[0])
		return roaring64.AndNot(ev.all(), x), true
	case OpOr:
		if len(e.Args) == 1 {
			return ev.eval(e.Args[0])
		}
		parts := make([]*roaring64.Bitmap, len(e.Args))
		for i, a := range e.Args {
			parts[i], _ = ev.eval(a)
		}
		return roaring64.FastOr(parts...), true
	case OpAnd:
		return ev.and(e.Args)
	}
	panic("filter: Eval of an invalid expression: " + e.Op.String())
}

// and intersects the positive arguments, smallest first, then takes the
// negative ones (NOT x) away.
func (ev *evaluator) and(args []*Expr) (*roaring64.Bitmap, bool) {
	var pos, neg []*roaring64.Bitmap
	for _, a := range args {
		if a.Op == OpNot {
			x, _ := ev.eval(a.Args[0])
			neg = append(neg, x)
			continue
		}
		x, _ := ev.eval(a)
		pos = append(pos, x)
	}
	var out *roaring64.Bitmap
	owned := false
	switch len(pos) {
	case 0:
		out, owned = ev.all(), false
	case 1:
		out = pos[0]
	default:
		slices.SortFunc(pos, func(a, b *roaring64.Bitmap) int {
			ca, cb := a.GetCardinality(), b.GetCardinality()
			switch {
			case ca < cb:
				return -1
			case ca > cb:
				return 1
			}
			return 0
		})
		out, owned = roaring64.And(pos[0], pos[1]), true
		for _, x := range pos[2:] {
			if out.IsEmpty() {
				break
			}
			out.And(x)
		}
	}
	for _, x := range neg {
		if out.IsEmpty() {
			break
		}
		if !owned {
			out, owned = roaring64.AndNot(out, x), true
			continue
		}
		out.AndNot(x)
	}
	return out, owned
}

// Counts gives how many ids carry each label.
type Counts func(label uint32) uint64

// Estimate returns the expected number of the n ids of the universe that
// e selects, from the label counts alone, treating labels as independent:
// a label selects a fraction p = count/n, AND multiplies fractions, OR
// takes 1 − ∏(1 − p), NOT 1 − p. It is exact for a single label and its
// negation; correlated labels make it wrong either way. e must be valid.
func Estimate(e *Expr, count Counts, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return fraction(e, count, float64(n)) * float64(n)
}

func fraction(e *Expr, count Counts, n float64) float64 {
	switch e.Op {
	case OpLabel:
		return min(1, float64(count(e.Label))/n)
	case OpNot:
		return 1 - fraction(e.Args[0], count, n)
	case OpAnd:
		f := 1.0
		for _, a := range e.Args {
			f *= fraction(a, count, n)
		}
		return f
	case OpOr:
		g := 1.0
		for _, a := range e.Args {
			g *= 1 - fraction(a, count, n)
		}
		return 1 - g
	}
	panic("filter: Estimate of an invalid expression: " + e.Op.String())
}
