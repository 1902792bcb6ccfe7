package vec

import (
	"fmt"
	"unsafe"
)

// The conversions below reinterpret memory in place, so that vectors read
// from a file or mmap are used without a copy. They use the machine's byte
// order (little-endian on every platform Shoal supports); code that defines
// an on-disk format must say so.

// BytesToF32 returns b viewed as float32s, sharing its memory. The caller
// guarantees that b starts on a 4-byte boundary and holds a whole number of
// float32s; breaking either is a bug and panics rather than silently reading
// misaligned or truncated data.
func BytesToF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	p := unsafe.SliceData(b)
	if len(b)%4 != 0 || uintptr(unsafe.Pointer(p))%4 != 0 {
		panic(fmt.Sprintf("vec: BytesToF32: %d bytes at %p is not a whole, aligned float32 slice", len(b), p))
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), len(b)/4)
}

// F32ToBytes returns v viewed as its raw bytes, sharing its memory.
func F32ToBytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*4)
}

// BytesToI8 returns b viewed as int8s, sharing its memory.
func BytesToI8(b []byte) []int8 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

// BytesToF16 returns b viewed as binary16 bit patterns (see Float16bits),
// sharing its memory. As with BytesToF32, the caller guarantees that b
// starts on a 2-byte boundary and holds a whole number of halves; breaking
// either is a bug and panics.
func BytesToF16(b []byte) []uint16 {
	if len(b) == 0 {
		return nil
	}
	p := unsafe.SliceData(b)
	if len(b)%2 != 0 || uintptr(unsafe.Pointer(p))%2 != 0 {
		panic(fmt.Sprintf("vec: BytesToF16: %d bytes at %p is not a whole, aligned float16 slice", len(b), p))
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(p)), len(b)/2)
}

// F16ToBytes returns v viewed as its raw bytes, sharing its memory.
func F16ToBytes(v []uint16) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*2)
}
