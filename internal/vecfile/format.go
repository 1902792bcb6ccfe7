package vecfile

import (
	"path/filepath"
	"strconv"
	"strings"
)

// Format is the layout of a vector file. The zero Format is invalid.
type Format uint8

// The supported formats; the package documentation describes each layout.
const (
	FVecs Format = iota + 1 // TEXMEX .fvecs: per row int32 dim + dim float32
	BVecs                   // TEXMEX .bvecs: per row int32 dim + dim uint8
	IVecs                   // TEXMEX .ivecs: per row int32 dim + dim int32
	FBin                    // big-ann .fbin: uint32 n, uint32 dim, n*dim float32
	U8Bin                   // big-ann .u8bin: uint32 n, uint32 dim, n*dim uint8
	I8Bin                   // big-ann .i8bin: uint32 n, uint32 dim, n*dim int8
	IBin                    // big-ann .ibin: uint32 n, uint32 dim, n*dim int32
	NPY                     // NumPy .npy, 2-D C-order array; element type in the header
)

// formatInfo describes one Format.
type formatInfo struct {
	ext  string // file extension including the dot
	elem Elem   // element type; 0 for NPY, whose header names it
	vecs bool   // TEXMEX layout: an int32 dim before every row
	bin  bool   // big-ann layout: uint32 n, uint32 dim before all rows
}

var formats = [...]formatInfo{
	FVecs: {ext: ".fvecs", elem: Float32, vecs: true},
	BVecs: {ext: ".bvecs", elem: Uint8, vecs: true},
	IVecs: {ext: ".ivecs", elem: Int32, vecs: true},
	FBin:  {ext: ".fbin", elem: Float32, bin: true},
	U8Bin: {ext: ".u8bin", elem: Uint8, bin: true},
	I8Bin: {ext: ".i8bin", elem: Int8, bin: true},
	IBin:  {ext: ".ibin", elem: Int32, bin: true},
	NPY:   {ext: ".npy"},
}

// info returns the description of f; ok is false for an invalid Format.
func (f Format) info() (fi formatInfo, ok bool) {
	if f == 0 || int(f) >= len(formats) {
		return formatInfo{}, false
	}
	return formats[f], true
}

// String returns the format's name, its extension without the dot ("fvecs").
func (f Format) String() string {
	if fi, ok := f.info(); ok {
		return fi.ext[1:]
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Elem returns the element type that f implies, or 0 for NPY (whose header
// names the element type) and for an invalid Format.
func (f Format) Elem() Elem {
	fi, _ := f.info()
	return fi.elem
}

// cropSuffix marks the cropped subsets of big-ann-benchmarks files, such as
// "base.1B.u8bin.crop_nb_10000000".
const cropSuffix = ".crop_nb_"

// FormatFromPath returns the format named by the extension of path
// (".fvecs", ".bvecs", ".ivecs", ".fbin", ".u8bin", ".i8bin", ".ibin",
// ".npy"; case does not matter). A big-ann crop suffix ".crop_nb_N" after the
// extension is skipped. An unknown extension gives an error wrapping
// ErrFormat.
func FormatFromPath(path string) (Format, error) {
	name := strings.ToLower(filepath.Base(path))
	if i := strings.LastIndex(name, cropSuffix); i > 0 && isDigits(name[i+len(cropSuffix):]) {
		name = name[:i]
	}
	ext := filepath.Ext(name)
	for f := FVecs; f <= NPY; f++ {
		if formats[f].ext == ext {
			return f, nil
		}
	}
	return 0, errorf(path, ErrFormat, "unknown file extension %q (want .fvecs, .bvecs, .ivecs, .fbin, .u8bin, .i8bin, .ibin or .npy)", filepath.Ext(path))
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
