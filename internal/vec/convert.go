package vec

import (
	"fmt"
	"math"
)

// ToFloat32 widens raw, one little-endian row of elem values, into dst
// (len(dst) values).
func ToFloat32(elem ElemType, raw []byte, dst []float32) {
	switch elem {
	case Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
		}
	case Uint8:
		for i := range dst {
			dst[i] = float32(raw[i])
		}
	case Int8:
		for i := range dst {
			dst[i] = float32(int8(raw[i]))
		}
	case Float16:
		for i := range dst {
			dst[i] = Float16frombits(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
	}
}

// FromFloat32 writes v as one little-endian row of elem values into raw.
// Integer types take only exact integers in range, so the conversion is
// lossless or an error; Float16 rounds to nearest (lossy) and rejects
// values beyond its range.
func FromFloat32(elem ElemType, v []float32, raw []byte) error {
	switch elem {
	case Float32:
		copy(raw, F32ToBytes(v))
	case Float16:
		for i, x := range v {
			if x >= 65520 || x <= -65520 {
				return fmt.Errorf("value %v at dimension %d is beyond float16's range (±65504)", x, i)
			}
		}
		F32ToF16(BytesToF16(raw[:2*len(v)]), v)
	case Uint8, Int8:
		lo, hi := 0.0, 255.0
		if elem == Int8 {
			lo, hi = -128, 127
		}
		for i, x := range v {
			f := float64(x)
			if f != math.Trunc(f) || f < lo || f > hi {
				return fmt.Errorf("value %v at dimension %d is not an exact %v", x, i, elem)
			}
			if elem == Int8 {
				raw[i] = byte(int8(f))
			} else {
				raw[i] = uint8(f)
			}
		}
	}
	return nil
}
