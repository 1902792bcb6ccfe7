package vec

import (
	"slices"
	"testing"
)

func TestBytesF32RoundTrip(t *testing.T) {
	v := []float32{1, -2.5, 3e10}
	b := F32ToBytes(v)
	if len(b) != 12 {
		t.Fatalf("F32ToBytes of 3 floats gave %d bytes, want 12", len(b))
	}
	// Little-endian 1.0 is 00 00 80 3f.
	if want := []byte{0, 0, 0x80, 0x3f}; !slices.Equal(b[:4], want) {
		t.Errorf("F32ToBytes(1.0) = % x, want % x", b[:4], want)
	}
	back := BytesToF32(b)
	if !slices.Equal(back, v) {
		t.Errorf("BytesToF32(F32ToBytes(%v)) = %v", v, back)
	}
	back[0] = 7
	if v[0] != 7 {
		t.Errorf("BytesToF32 copied; want it to share memory with its argument")
	}
}

func TestBytesToI8SharesMemory(t *testing.T) {
	b := []byte{0, 127, 128, 255}
	got := BytesToI8(b)
	if want := []int8{0, 127, -128, -1}; !slices.Equal(got, want) {
		t.Errorf("BytesToI8(% x) = %v, want %v", b, got, want)
	}
	got[0] = -1
	if b[0] != 0xff {
		t.Errorf("BytesToI8 copied; want it to share memory with its argument")
	}
}

func TestByteConversionsOfEmpty(t *testing.T) {
	if got := BytesToF32(nil); len(got) != 0 {
		t.Errorf("BytesToF32(nil) = %v, want empty", got)
	}
	if got := F32ToBytes([]float32{}); len(got) != 0 {
		t.Errorf("F32ToBytes(empty) = %v, want empty", got)
	}
	if got := BytesToI8([]byte{}); len(got) != 0 {
		t.Errorf("BytesToI8(empty) = %v, want empty", got)
	}
}

func TestBytesToF32PanicsOnBadInput(t *testing.T) {
	buf := F32ToBytes(make([]float32, 4)) // 4-byte aligned
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"length not a multiple of 4", buf[:6]},
		{"misaligned start", buf[1:5]},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("BytesToF32 accepted %s", c.name)
				}
			}()
			BytesToF32(c.b)
		})
	}
}

func TestBytesF16RoundTrip(t *testing.T) {
	v := []uint16{0x3c00, 0xc000, 0x7bff}
	b := F16ToBytes(v)
	if len(b) != 6 {
		t.Fatalf("F16ToBytes of 3 halves gave %d bytes, want 6", len(b))
	}
	// Little-endian 1.0 is 00 3c.
	if want := []byte{0, 0x3c}; !slices.Equal(b[:2], want) {
		t.Errorf("F16ToBytes(1.0) = % x, want % x", b[:2], want)
	}
	back := BytesToF16(b)
	if !slices.Equal(back, v) {
		t.Errorf("BytesToF16(F16ToBytes(%v)) = %v", v, back)
	}
	back[0] = 0x4000
	if v[0] != 0x4000 {
		t.Errorf("BytesToF16 copied; want it to share memory with its argument")
	}
}

func TestF16ByteConversionsOfEmpty(t *testing.T) {
	if got := BytesToF16(nil); len(got) != 0 {
		t.Errorf("BytesToF16(nil) = %v, want empty", got)
	}
	if got := F16ToBytes([]uint16{}); len(got) != 0 {
		t.Errorf("F16ToBytes(empty) = %v, want empty", got)
	}
}

func TestBytesToF16PanicsOnBadInput(t *testing.T) {
	buf := F16ToBytes(make([]uint16, 4)) // 2-byte aligned
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"odd length", buf[:3]},
		{"misaligned start", buf[1:3]},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("BytesToF16 accepted %s", c.name)
				}
			}()
			BytesToF16(c.b)
		})
	}
}
