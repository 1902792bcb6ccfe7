package vec

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownElemType is returned, wrapped, by ParseElemType for a name it
// does not know.
var ErrUnknownElemType = errors.New("shoal: unknown element type")

// ElemType is the scalar type of a vector's components. The values are
// stored on disk, so existing ones must never be renumbered.
type ElemType uint8

const (
	// Float32 is an IEEE-754 single-precision component (4 bytes).
	Float32 ElemType = 1
	// Uint8 is an unsigned byte component, e.g. scalar-quantised data.
	Uint8 ElemType = 2
	// Int8 is a signed byte component, e.g. symmetric quantisation.
	Int8 ElemType = 3
	// Float16 is an IEEE-754 half-precision (binary16) component (2 bytes).
	// Storing float32 input as Float16 is lossy: the significand keeps 11
	// bits instead of 24 (a relative error of up to 2^-11), fewer still
	// below 2^-14, and rounding sends magnitudes of 65520 and more to ±Inf
	// and those of 2^-25 and less to ±0 (see Float16bits). Queries stay
	// float32; the kernels widen each stored half exactly.
	Float16 ElemType = 4
)

// Size returns the number of bytes one component occupies, or 0 for an
// invalid ElemType.
func (e ElemType) Size() int {
	switch e {
	case Float32:
		return 4
	case Float16:
		return 2
	case Uint8, Int8:
		return 1
	}
	return 0
}

// String returns the canonical name ("float32", "uint8", "int8",
// "float16"), which
// ParseElemType accepts; an invalid value prints as "ElemType(N)".
func (e ElemType) String() string {
	switch e {
	case Float32:
		return "float32"
	case Uint8:
		return "uint8"
	case Int8:
		return "int8"
	case Float16:
		return "float16"
	}
	return fmt.Sprintf("ElemType(%d)", uint8(e))
}

// Valid reports whether e is one of the defined element types.
func (e ElemType) Valid() bool {
	return e == Float32 || e == Uint8 || e == Int8 || e == Float16
}

// ParseElemType returns the ElemType named by s, ignoring case. It accepts
// the canonical names and the short forms "f32", "u8", "i8" and "f16";
// anything else yields an error wrapping ErrUnknownElemType.
func ParseElemType(s string) (ElemType, error) {
	switch strings.ToLower(s) {
	case "float32", "f32":
		return Float32, nil
	case "uint8", "u8":
		return Uint8, nil
	case "int8", "i8":
		return Int8, nil
	case "float16", "f16":
		return Float16, nil
	}
	return 0, fmt.Errorf("%q: %w", s, ErrUnknownElemType)
}
