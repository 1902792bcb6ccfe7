package topk

// Dist is the constraint on distances: the ordered basic types. Floating
// point NaN has no place in the order; callers must not push it.
type Dist interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr |
		~float32 | ~float64
}

// ID is the constraint on IDs, which break ties between equal distances:
// the integer types.
type ID interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// Item is a candidate: its distance and its ID.
type Item[D Dist, I ID] struct {
	Dist D
	ID   I
}

// Less reports whether a ranks before b: nearer, or as near with a smaller
// ID. Callers that want another tie-break map their IDs onto one that
// orders as they want (e.g. int32 ids as uint32 so that -1 ranks last).
func (a Item[D, I]) Less(b Item[D, I]) bool {
	return a.Dist < b.Dist || (a.Dist == b.Dist && a.ID < b.ID)
}
