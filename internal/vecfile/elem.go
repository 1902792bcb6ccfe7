package vecfile

import "strconv"

// Elem is the element type of the vectors in a file.
type Elem uint8

// The supported element types. The zero Elem is invalid.
const (
	Float32 Elem = 1 // IEEE 754 binary32
	Uint8   Elem = 2 // unsigned byte (bvecs, u8bin, npy |u1)
	Int8    Elem = 3 // signed byte (i8bin, npy |i1)
	Int32   Elem = 4 // signed 32-bit integer, usually ids (ivecs, ibin, npy <i4)
)

// Size returns the size of one element in bytes, or 0 for an invalid Elem.
func (e Elem) Size() int {
	switch e {
	case Float32, Int32:
		return 4
	case Uint8, Int8:
		return 1
	}
	return 0
}

// String returns the Go name of the element type ("float32", "uint8", ...).
func (e Elem) String() string {
	switch e {
	case Float32:
		return "float32"
	case Uint8:
		return "uint8"
	case Int8:
		return "int8"
	case Int32:
		return "int32"
	}
	return "Elem(" + strconv.Itoa(int(e)) + ")"
}

// valid reports whether e is one of the supported element types.
func (e Elem) valid() bool { return e.Size() != 0 }
