package vec

import "fmt"

// The kernel in use for each operation. They are set exactly once, by the
// init() of distance_amd64.go or distance_noasm.go, and only read after, so
// they need no synchronisation. Calling through a variable costs one
// indirect call, which is small beside even a 32-dimensional kernel and
// lets the choice be made once instead of on every call.
var (
	l2SquaredF32Impl      func(a, b []float32) float32
	dotF32Impl            func(a, b []float32) float32
	l2SquaredU8Impl       func(a, b []uint8) float32
	dotU8Impl             func(a, b []uint8) float32
	l2SquaredI8Impl       func(a, b []int8) float32
	dotI8Impl             func(a, b []int8) float32
	l2SquaredF16Impl      func(q []float32, v []uint16) float32
	dotF16Impl            func(q []float32, v []uint16) float32
	l2SquaredF32BatchImpl func(q, data, out []float32)
	dotF32BatchImpl       func(q, data, out []float32)

	implName string
)

// useGeneric installs the portable Go kernels.
func useGeneric() {
	l2SquaredF32Impl = l2SquaredF32Generic
	dotF32Impl = dotF32Generic
	l2SquaredU8Impl = l2SquaredU8Generic
	dotU8Impl = dotU8Generic
	l2SquaredI8Impl = l2SquaredI8Generic
	dotI8Impl = dotI8Generic
	l2SquaredF16Impl = l2SquaredF16Generic
	dotF16Impl = dotF16Generic
	l2SquaredF32BatchImpl = l2SquaredF32BatchGeneric
	dotF32BatchImpl = dotF32BatchGeneric
	implName = "generic"
}

// Impl names the kernels chosen at start-up, for logs and benchmark output:
// "avx2+fma" for the amd64 assembly, "generic" for the portable Go loops.
func Impl() string { return implName }

// The exported kernels check lengths themselves because the assembly
// trusts them: a mismatch would otherwise read past the end of a slice.
// The check is one predictable branch, and keeping the failure path in a
// separate function leaves the wrappers small enough to inline.

// L2SquaredF32 returns the squared Euclidean distance between a and b.
// It panics if their lengths differ.
func L2SquaredF32(a, b []float32) float32 {
	if len(a) != len(b) {
		panicLengths("L2SquaredF32", len(a), len(b))
	}
	return l2SquaredF32Impl(a, b)
}

// DotF32 returns the dot product of a and b; the InnerProduct and Cosine
// distances are its negation. It panics if their lengths differ.
func DotF32(a, b []float32) float32 {
	if len(a) != len(b) {
		panicLengths("DotF32", len(a), len(b))
	}
	return dotF32Impl(a, b)
}

// L2SquaredU8 returns the squared Euclidean distance between a and b,
// summed exactly in integers and rounded to float32 once. It panics if
// their lengths differ.
func L2SquaredU8(a, b []uint8) float32 {
	if len(a) != len(b) {
		panicLengths("L2SquaredU8", len(a), len(b))
	}
	return l2SquaredU8Impl(a, b)
}

// DotU8 returns the dot product of a and b, summed exactly in integers and
// rounded to float32 once. It panics if their lengths differ.
func DotU8(a, b []uint8) float32 {
	if len(a) != len(b) {
		panicLengths("DotU8", len(a), len(b))
	}
	return dotU8Impl(a, b)
}

// L2SquaredI8 returns the squared Euclidean distance between a and b,
// summed exactly in integers and rounded to float32 once. It panics if
// their lengths differ.
func L2SquaredI8(a, b []int8) float32 {
	if len(a) != len(b) {
		panicLengths("L2SquaredI8", len(a), len(b))
	}
	return l2SquaredI8Impl(a, b)
}

// DotI8 returns the dot product of a and b, summed exactly in integers and
// rounded to float32 once. It panics if their lengths differ.
func DotI8(a, b []int8) float32 {
	if len(a) != len(b) {
		panicLengths("DotI8", len(a), len(b))
	}
	return dotI8Impl(a, b)
}

// L2SquaredF16 returns the squared Euclidean distance between the float32
// query q and the Float16 vector v (binary16 bit patterns, see
// Float16bits). Each half is widened to float32 exactly, so the result is
// L2SquaredF32(q, w) for w the widened v, to within float32 rounding. It
// panics if their lengths differ.
func L2SquaredF16(q []float32, v []uint16) float32 {
	if len(q) != len(v) {
		panicLengths("L2SquaredF16", len(q), len(v))
	}
	return l2SquaredF16Impl(q, v)
}

// DotF16 returns the dot product of the float32 query q and the Float16
// vector v, widening each half exactly as L2SquaredF16 does. It panics if
// their lengths differ.
func DotF16(q []float32, v []uint16) float32 {
	if len(q) != len(v) {
		panicLengths("DotF16", len(q), len(v))
	}
	return dotF16Impl(q, v)
}

// L2SquaredF32Batch sets out[i] to L2SquaredF32(q, row i) for the
// len(out) rows of len(q) components stored one after another in data.
// Scanning a posting list this way saves a call per row. It panics unless
// len(data) == len(q)*len(out).
func L2SquaredF32Batch(q, data []float32, out []float32) {
	if len(data) != len(q)*len(out) {
		panicBatch("L2SquaredF32Batch", len(q), len(data), len(out))
	}
	l2SquaredF32BatchImpl(q, data, out)
}

// DotF32Batch sets out[i] to DotF32(q, row i) — the dot product, not yet
// negated into a distance — for the len(out) rows of len(q) components
// stored one after another in data. It panics unless
// len(data) == len(q)*len(out).
func DotF32Batch(q, data []float32, out []float32) {
	if len(data) != len(q)*len(out) {
		panicBatch("DotF32Batch", len(q), len(data), len(out))
	}
	dotF32BatchImpl(q, data, out)
}

func panicLengths(op string, la, lb int) {
	panic(fmt.Sprintf("vec: %s: vectors of different lengths %d and %d", op, la, lb))
}

func panicBatch(op string, dim, ldata, lout int) {
	panic(fmt.Sprintf("vec: %s: %d data values are not %d rows of dimension %d", op, ldata, lout, dim))
}
