package vecfile

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// npyFileVersion returns an .npy file of the given major version (1, 2 or 3)
// with dict as its header, padded to 64 bytes, followed by data.
func npyFileVersion(major byte, dict string, data []byte) []byte {
	if major == 1 {
		return numpyFile(dict, 64, data)
	}
	size := (12 + len(dict) + 1 + 63) / 64 * 64
	b := []byte(npyMagic)
	b = append(b, major, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(size-12))
	b = append(b, dict...)
	b = append(b, strings.Repeat(" ", size-len(b)-1)...)
	b = append(b, '\n')
	return append(b, data...)
}

// TestNPYBadHeader checks that headers this package cannot read give
// ErrFormat with a message that says why.
func TestNPYBadHeader(t *testing.T) {
	data := make([]byte, 24) // 2×3 float32
	tests := []struct {
		name string
		dict string
		want string
	}{
		{"fortran order", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "fortran_order is True; only C-order arrays are supported"},
		{"3-D shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 1), }", "shape (2, 3, 1) is 3-D, want a 2-D"},
		{"1-D shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", "shape (6,) is 1-D"},
		{"0-D shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "shape () is 0-D"},
		{"float64", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", `unsupported dtype "<f8", want '<f4', '|u1', '|i1' or '<i4'`},
		{"big-endian", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", `unsupported dtype ">f4" (big-endian)`},
		{"unknown dtype", "{'descr': '<U8', 'fortran_order': False, 'shape': (2, 3), }", `unsupported dtype "<U8"`},
		{"structured dtype", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3), }", "structured dtypes are not supported"},
		{"missing key", "{'descr': '<f4', 'fortran_order': False, }", `no "shape" key`},
		{"extra key", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }", `unexpected key "extra"`},
		{"duplicate key", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", `duplicate key "descr"`},
		{"not a dict", "[1, 2]", "want '{'"},
		{"negative shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", "want a non-negative integer"},
		{"zero dim", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }", "dimension 0 out of range"},
		{"huge dim", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1048577), }", "dimension 1048577 out of range"},
		{"int shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", "shape (6) is not a tuple"},
		{"overflowing shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 3), }", "overflows int64"},
		{"too large shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 1024), }", "is too large"},
		{"text after dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x", "unexpected 'x' after the header dict"},
		{"unterminated string", "{'descr: '<f4'", "want ':'"},
		{"open string", "{'descr", "unterminated string"},
		{"bad bool", "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", "want True or False"},
		{"bool prefix", "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2, 3), }", "want True or False"},
		{"missing comma", "{'descr': '<f4' 'fortran_order': False}", "want ',' or '}'"},
		{"empty header", "", "want '{', got end of header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeBytes(t, t.TempDir(), "a.npy", numpyFile(tt.dict, 64, data))
			_, err := Open(path)
			wantErr(t, err, ErrFormat, path, "offset", tt.want)
		})
	}
}

// TestNPYBadPreamble checks the magic, version and header length.
func TestNPYBadPreamble(t *testing.T) {
	good := numpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 64, make([]byte, 24))
	patch := func(off int, b ...byte) []byte {
		c := append([]byte(nil), good...)
		copy(c[off:], b)
		return c
	}
	tests := []struct {
		name     string
		file     []byte
		sentinel error
		want     string
	}{
		{"bad magic", patch(0, 'X'), ErrFormat, `bad npy magic "XNUMPY" at offset 0`},
		{"lower-case magic", patch(1, 'n'), ErrFormat, "bad npy magic"},
		{"not npy", []byte("PK\x03\x04 a zip file"), ErrFormat, "bad npy magic"},
		{"short non-npy", []byte("ab"), ErrFormat, "bad npy magic"},
		{"version 4.0", patch(6, 4, 0), ErrFormat, "unsupported npy version 4.0 at offset 6"},
		{"version 1.1", patch(6, 1, 1), ErrFormat, "unsupported npy version 1.1"},
		{"version 0.0", patch(6, 0, 0), ErrFormat, "unsupported npy version 0.0"},
		{"header past end", patch(8, 0xff, 0xff), ErrTruncated, "the npy header at offset 10 is 65535 bytes long"},
		{"huge v2 header", patch(6, 2, 0, 0, 0, 0, 0x10), ErrFormat, "npy header length 268435456 at offset 8 exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeBytes(t, t.TempDir(), "a.npy", tt.file)
			_, err := Open(path)
			wantErr(t, err, tt.sentinel, path, tt.want)
		})
	}
}

// TestNPYHeaderVariants reads headers that NumPy, other writers or old
// versions produce.
func TestNPYHeaderVariants(t *testing.T) {
	f32 := le(float32(1), float32(2), float32(3), float32(4), float32(5), float32(6))
	tests := []struct {
		name  string
		major byte
		dict  string
		data  []byte
		elem  Elem
		rows  int
	}{
		{"double quotes", 1, `{"descr": "<f4", "fortran_order": False, "shape": (2, 3)}`, f32, Float32, 2},
		{"no spaces", 1, "{'descr':'<f4','fortran_order':False,'shape':(2,3)}", f32, Float32, 2},
		{"other key order", 1, "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4', }", f32, Float32, 2},
		{"python 2 longs", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", f32, Float32, 2},
		{"trailing comma in shape", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3,), }", f32, Float32, 2},
		{"version 2.0", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32, Float32, 2},
		{"version 3.0", 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32, Float32, 2},
		{"<u1", 1, "{'descr': '<u1', 'fortran_order': False, 'shape': (2, 3), }", make([]byte, 6), Uint8, 2},
		{"|i1", 1, "{'descr': '|i1', 'fortran_order': False, 'shape': (3, 2), }", make([]byte, 6), Int8, 3},
		{"<i4", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 6), }", f32, Int32, 1},
		{"no rows", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", nil, Float32, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeBytes(t, t.TempDir(), "a.npy", npyFileVersion(tt.major, tt.dict, tt.data))
			r := openKind(t, path)
			if r.Elem() != tt.elem || r.Len() != tt.rows || r.Len()*r.RowBytes() != len(tt.data) {
				t.Fatalf("got %v × %d rows of %d bytes, want %v × %d rows, %d bytes in all",
					r.Elem(), r.Len(), r.RowBytes(), tt.elem, tt.rows, len(tt.data))
			}
			if got := nextAll(t, r, 2); fmt.Sprint(got) != fmt.Sprint(tt.data) {
				t.Fatalf("rows %v, want %v", got, tt.data)
			}
		})
	}
}
