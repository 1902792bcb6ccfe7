package vecfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// These tests pin the byte layout against files built by hand from the
// format descriptions, not by this package's Writer.

// le builds little-endian bytes from uint32 and float32 values.
func le(vals ...any) []byte {
	var b []byte
	for _, v := range vals {
		switch v := v.(type) {
		case uint32:
			b = binary.LittleEndian.AppendUint32(b, v)
		case float32:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		case int:
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		default:
			panic(fmt.Sprintf("le: %T", v))
		}
	}
	return b
}

// numpyFile returns an .npy version 1.0 file as NumPy writes it: the
// preamble and dict padded with spaces and '\n' to a multiple of align.
func numpyFile(dict string, align int, data []byte) []byte {
	size := (10 + len(dict) + 1 + align - 1) / align * align
	b := []byte(npyMagic + "\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(size-10))
	b = append(b, dict...)
	b = append(b, strings.Repeat(" ", size-len(b)-1)...)
	b = append(b, '\n')
	return append(b, data...)
}

var goldenData = le(float32(1), float32(2), float32(3), float32(4), float32(5), float32(6))

// goldenFiles holds a 2×3 float32 array [[1 2 3] [4 5 6]] in every float
// layout, byte for byte as other tools write it.
var goldenFiles = []struct {
	name string
	file []byte
}{
	{"a.fvecs", le(3, float32(1), float32(2), float32(3), 3, float32(4), float32(5), float32(6))},
	{"a.fbin", append(le(2, 3), goldenData...)},
	// NumPy >= 1.17 pads the header to 128 bytes; older versions to 64.
	{"new.npy", numpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 128, goldenData)},
	{"old.npy", numpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 64, goldenData)},
}

func TestReadGoldenFiles(t *testing.T) {
	for _, g := range goldenFiles {
		t.Run(g.name, func(t *testing.T) {
			path := writeBytes(t, t.TempDir(), g.name, g.file)
			got, dim, err := ReadFloat32(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := "[1 2 3 4 5 6]"; dim != 3 || fmt.Sprint(got) != want {
				t.Fatalf("got %v (dim %d), want %s (dim 3)", got, dim, want)
			}
		})
	}
}

func TestWriterGoldenBytes(t *testing.T) {
	for _, g := range goldenFiles[:2] {
		t.Run(g.name, func(t *testing.T) {
			f, _ := FormatFromPath(g.name)
			path := filepath.Join(t.TempDir(), g.name)
			w, err := Create(path, f, 3)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(goldenData); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, path); !bytes.Equal(got, g.file) {
				t.Fatalf("wrote\n% x\nwant\n% x", got, g.file)
			}
		})
	}
}

func TestWriterNPYHeader(t *testing.T) {
	tests := []struct {
		elem  Elem
		dim   int
		rows  int
		descr string
	}{
		{Float32, 3, 2, "<f4"},
		{Uint8, 784, 5, "|u1"},
		{Int8, 1, 0, "|i1"},
		{Int32, 100, 1, "<i4"},
	}
	for _, tt := range tests {
		t.Run(tt.descr, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.npy")
			w, err := CreateNPY(path, tt.elem, tt.dim)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(testRows(tt.elem, tt.rows, tt.dim)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			b := readFile(t, path)
			if !bytes.HasPrefix(b, []byte(npyMagic+"\x01\x00")) {
				t.Fatalf("file starts % x, want the npy 1.0 magic", b[:8])
			}
			off := 10 + int(binary.LittleEndian.Uint16(b[8:]))
			if off%64 != 0 {
				t.Errorf("data offset %d is not a multiple of 64", off)
			}
			hdr := string(b[10:off])
			dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }", tt.descr, tt.rows, tt.dim)
			if strings.TrimRight(hdr, " \n") != dict || !strings.HasSuffix(hdr, " \n") {
				t.Errorf("header %q, want %q padded with spaces and '\\n'", hdr, dict)
			}
			if want := off + tt.rows*tt.dim*tt.elem.Size(); len(b) != want {
				t.Errorf("file size %d, want %d", len(b), want)
			}
		})
	}
}
