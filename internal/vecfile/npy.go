package vecfile

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// NumPy .npy layout (NEP 1, numpy.org/neps/nep-0001-npy-format.html):
//
//	offset 0  "\x93NUMPY"
//	offset 6  uint8 major version (1, 2 or 3), uint8 minor version (0)
//	offset 8  header length L: uint16 (1.0) or uint32 (2.0, 3.0), little-endian
//	offset 10 (1.0) or 12 (2.0, 3.0): L bytes of header, a Python dict literal
//	          {'descr': '<f4', 'fortran_order': False, 'shape': (rows, dim), }
//	          padded with spaces to make the data offset a multiple of 64 and
//	          ended by '\n'. 1.0 and 2.0 headers are latin-1, 3.0 is UTF-8;
//	          everything this package accepts is ASCII, so both read alike.
//	then      rows*dim elements in C (row-major) order.

// npyMagic starts every .npy file.
const npyMagic = "\x93NUMPY"

// maxNPYHeader bounds the header length read from a file, so that a corrupt
// length cannot make Open allocate gigabytes. NumPy's own reader refuses
// headers over 10000 bytes by default.
const maxNPYHeader = 1 << 20

// npyHeader is the decoded header of an .npy file.
type npyHeader struct {
	elem    Elem
	rows    int64
	dim     int64
	dataOff int64 // offset of the first element
}

// npyPreamble decodes the fixed part of an .npy file from its first bytes b
// (up to 12 of them; fewer if the file is shorter). It returns the offset of
// the header dict and the dict's length. size is the file size, used in the
// messages.
func npyPreamble(path string, b []byte, size int64) (hdrOff, hdrLen int64, err error) {
	n := min(len(b), len(npyMagic))
	if string(b[:n]) != npyMagic[:n] {
		return 0, 0, errorf(path, ErrFormat, "bad npy magic %q at offset 0, want %q", b[:n], npyMagic)
	}
	if len(b) < 8 {
		return 0, 0, errorf(path, ErrTruncated, "truncated at offset %d: file size %d is shorter than the 8-byte npy magic and version", size, size)
	}
	major, minor := b[6], b[7]
	var lenSize int
	switch {
	case major == 1 && minor == 0:
		lenSize = 2
	case (major == 2 || major == 3) && minor == 0:
		lenSize = 4
	default:
		return 0, 0, errorf(path, ErrFormat, "unsupported npy version %d.%d at offset 6 (want 1.0, 2.0 or 3.0)", major, minor)
	}
	hdrOff = int64(8 + lenSize)
	if int64(len(b)) < hdrOff {
		return 0, 0, errorf(path, ErrTruncated, "truncated at offset %d: file size %d is shorter than the %d-byte npy %d.0 preamble", size, size, hdrOff, major)
	}
	if lenSize == 2 {
		hdrLen = int64(binary.LittleEndian.Uint16(b[8:]))
	} else {
		hdrLen = int64(binary.LittleEndian.Uint32(b[8:]))
	}
	if hdrLen > maxNPYHeader {
		return 0, 0, errorf(path, ErrFormat, "npy header length %d at offset 8 exceeds %d bytes", hdrLen, maxNPYHeader)
	}
	if hdrOff+hdrLen > size {
		return 0, 0, errorf(path, ErrTruncated, "truncated at offset %d: the npy header at offset %d is %d bytes long, so it ends at offset %d", size, hdrOff, hdrLen, hdrOff+hdrLen)
	}
	return hdrOff, hdrLen, nil
}

// parseNPYHeader decodes the header dict text found at offset hdrOff.
func parseNPYHeader(path string, text []byte, hdrOff int64) (npyHeader, error) {
	p := pyParser{path: path, s: text, base: hdrOff}
	h := npyHeader{dataOff: hdrOff + int64(len(text))}
	var (
		descr   string
		fortran bool
		shape   []int64
		seen    = map[string]bool{}
	)
	p.space()
	if err := p.expect('{'); err != nil {
		return h, err
	}
	for {
		p.space()
		if p.peek() == '}' {
			p.pos++
			break
		}
		keyAt := p.pos
		key, err := p.str()
		if err != nil {
			return h, err
		}
		if seen[key] {
			return h, p.errAt(keyAt, "duplicate key %q", key)
		}
		seen[key] = true
		p.space()
		if err := p.expect(':'); err != nil {
			return h, err
		}
		p.space()
		switch key {
		case "descr":
			if p.peek() != '\'' && p.peek() != '"' {
				return h, p.errAt(p.pos, "'descr' is not a plain dtype string (structured dtypes are not supported)")
			}
			descr, err = p.str()
		case "fortran_order":
			fortran, err = p.boolean()
		case "shape":
			shape, err = p.intTuple()
		default:
			return h, p.errAt(keyAt, "unexpected key %q (want exactly 'descr', 'fortran_order', 'shape')", key)
		}
		if err != nil {
			return h, err
		}
		p.space()
		if p.peek() == ',' {
			p.pos++
		} else if p.peek() != '}' {
			return h, p.errAt(p.pos, "want ',' or '}' in header dict, got %s", p.near())
		}
	}
	if p.space(); p.pos != len(p.s) {
		return h, p.errAt(p.pos, "unexpected %s after the header dict", p.near())
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, errorf(path, ErrFormat, "npy header at offset %d has no %q key", hdrOff, k)
		}
	}

	switch descr {
	case "<f4":
		h.elem = Float32
	case "<i4":
		h.elem = Int32
	case "|u1", "<u1", ">u1", "=u1", "u1":
		h.elem = Uint8
	case "|i1", "<i1", ">i1", "=i1", "i1":
		h.elem = Int8
	default:
		hint := ""
		if strings.HasPrefix(descr, ">") {
			hint = " (big-endian)"
		}
		return h, errorf(path, ErrFormat, "npy header at offset %d: unsupported dtype %q%s, want '<f4', '|u1', '|i1' or '<i4'", hdrOff, descr, hint)
	}
	if fortran {
		return h, errorf(path, ErrFormat, "npy header at offset %d: fortran_order is True; only C-order arrays are supported (save numpy.ascontiguousarray(a))", hdrOff)
	}
	if len(shape) != 2 {
		return h, errorf(path, ErrFormat, "npy header at offset %d: shape %s is %d-D, want a 2-D (rows, dim) array", hdrOff, fmtShape(shape), len(shape))
	}
	h.rows, h.dim = shape[0], shape[1]
	if h.dim < 1 || h.dim > MaxDim {
		return h, errorf(path, ErrFormat, "npy header at offset %d: dimension %d out of range [1, %d]", hdrOff, h.dim, MaxDim)
	}
	if h.rows > (math.MaxInt64-h.dataOff)/(h.dim*int64(h.elem.Size())) {
		return h, errorf(path, ErrFormat, "npy header at offset %d: shape %s is too large", hdrOff, fmtShape(shape))
	}
	return h, nil
}

// fmtShape formats a shape as Python prints a tuple.
func fmtShape(shape []int64) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(v, 10))
	}
	if len(shape) == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}

// pyParser reads the subset of Python literal syntax that .npy headers use:
// a dict with string keys whose values are strings, booleans and tuples of
// non-negative integers.
type pyParser struct {
	path string
	s    []byte
	pos  int
	base int64 // file offset of s[0], for messages
}

func (p *pyParser) errAt(pos int, format string, args ...any) error {
	return errorf(p.path, ErrFormat, "npy header at offset %d: %s", p.base+int64(pos), fmt.Sprintf(format, args...))
}

// near describes the input at p.pos for an error message.
func (p *pyParser) near() string {
	if p.pos >= len(p.s) {
		return "end of header"
	}
	return strconv.QuoteRune(rune(p.s[p.pos]))
}

func (p *pyParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *pyParser) space() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *pyParser) expect(c byte) error {
	if p.pos >= len(p.s) || p.s[p.pos] != c {
		return p.errAt(p.pos, "want %q, got %s", c, p.near())
	}
	p.pos++
	return nil
}

// str reads a quoted string without escape sequences (none occur in the
// keys and dtypes this package accepts).
func (p *pyParser) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.errAt(p.pos, "want a quoted string, got %s", p.near())
	}
	start := p.pos + 1
	for i := start; i < len(p.s); i++ {
		switch p.s[i] {
		case q:
			p.pos = i + 1
			return string(p.s[start:i]), nil
		case '\\':
			return "", p.errAt(i, "escape sequences in strings are not supported")
		case '\n':
			return "", p.errAt(p.pos, "unterminated string")
		}
	}
	return "", p.errAt(p.pos, "unterminated string")
}

func (p *pyParser) boolean() (bool, error) {
	rest := p.s[p.pos:]
	switch {
	case hasWord(rest, "True"):
		p.pos += 4
		return true, nil
	case hasWord(rest, "False"):
		p.pos += 5
		return false, nil
	}
	return false, p.errAt(p.pos, "want True or False, got %s", p.near())
}

// hasWord reports whether b starts with word not followed by an identifier
// character.
func hasWord(b []byte, word string) bool {
	if len(b) < len(word) || string(b[:len(word)]) != word {
		return false
	}
	if len(b) == len(word) {
		return true
	}
	c := b[len(word)]
	return !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
}

// intTuple reads a tuple of non-negative integers: "()", "(3,)", "(3, 4)".
// Python 2 long literals ("3L"), which old NumPy wrote, are accepted.
func (p *pyParser) intTuple() ([]int64, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	var out []int64
	for {
		p.space()
		if p.peek() == ')' {
			p.pos++
			// "(3)" is not a tuple in Python but an int; NumPy never writes it.
			return out, nil
		}
		v, err := p.int()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
			if len(out) == 1 {
				return nil, p.errAt(p.pos, "shape (%d) is not a tuple", v)
			}
		default:
			return nil, p.errAt(p.pos, "want ',' or ')' in shape, got %s", p.near())
		}
		if len(out) > 32 { // NumPy's NPY_MAXDIMS is 32 (64 since 2.0); far beyond 2 anyway
			return nil, p.errAt(p.pos, "shape has more than 32 dimensions")
		}
	}
}

// int reads a non-negative decimal integer.
func (p *pyParser) int() (int64, error) {
	start := p.pos
	var v int64
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		d := int64(p.s[p.pos] - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, p.errAt(start, "integer in shape overflows int64")
		}
		v = v*10 + d
		p.pos++
	}
	if p.pos == start {
		return 0, p.errAt(p.pos, "want a non-negative integer in shape, got %s", p.near())
	}
	if p.peek() == 'L' {
		p.pos++
	}
	return v, nil
}

// npyDescr returns the dtype string that NumPy writes for e.
func npyDescr(e Elem) string {
	switch e {
	case Float32:
		return "<f4"
	case Uint8:
		return "|u1"
	case Int8:
		return "|i1"
	case Int32:
		return "<i4"
	}
	panic(fmt.Sprintf("vecfile: npyDescr of invalid %v", e))
}

// encodeNPYHeader returns a version 1.0 preamble and header for a (rows, dim)
// array of e, padded as NumPy pads it: the data offset is a multiple of 64 and
// at least minSize bytes (0 for the natural size).
func encodeNPYHeader(e Elem, rows int64, dim int, minSize int) []byte {
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }", npyDescr(e), rows, dim)
	size := len(npyMagic) + 4 + len(dict) + 1 // preamble, dict, '\n'
	size = max(size, minSize)
	size = (size + 63) &^ 63
	b := make([]byte, 0, size)
	b = append(b, npyMagic...)
	b = append(b, 1, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(size-10))
	b = append(b, dict...)
	for len(b) < size-1 {
		b = append(b, ' ')
	}
	return append(b, '\n')
}

// npyHeaderSize returns the size of the header encodeNPYHeader writes for
// dim with any row count up to math.MaxInt64.
func npyHeaderSize(e Elem, dim int) int {
	return len(encodeNPYHeader(e, math.MaxInt64, dim, 0))
}
