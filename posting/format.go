// Package posting holds Shoal's posting lists: the on-disk encoding of the
// vectors that belong to one head (SPANN §3), and the Store that keeps them.
//
// # Encoding, version 1
//
// A posting is one contiguous byte string, little-endian throughout, so a
// query reads it with one I/O and scores it without copying:
//
//	offset        size          field
//	0             1             format version (1)
//	1             1             element type (vec.ElemType: 1 float32, 2 uint8, 3 int8, 4 float16)
//	2             2             dim
//	4             4             n, number of entries
//	8             8·n           ids (uint64, external vector ids)
//	8+8n          n             versions (uint8, one per entry; see below)
//	…             0–3           zero padding to a multiple of 4 from offset 0
//	vecOff        n·dim·size    vectors, row-major, in the element type
//	end-4         4             CRC-32C (Castagnoli) of every byte before it
//
// Entries are sorted by distance to the head, nearest first, at build time.
//
// Each entry's version byte is SPFresh's per-vector version of the copy:
// the version (0–127) its vector had when the copy was written. The
// offline build writes 0; each upsert of the id, and each reassignment of
// its vector to other postings, raises it by one, wrapping. The index
// keeps every id's current version in memory (its version map,
// index/versions.go); an entry whose version is not its id's current one,
// or whose id is deleted, is a stale copy, and readers skip it until a
// rewrite of the posting drops it. The encoding does not interpret the
// byte.
//
// The format version byte at offset 0 is another thing: later versions of
// the format (which will add tenant data after the vectors) must bump it,
// and Decode rejects versions it does not know rather than guessing.
package posting

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/vec"
)

// FormatVersion is the encoding version written by Encode.
const FormatVersion = 1

const (
	headerSize = 8
	crcSize    = 4
	// MaxDim is the largest dimension the encoding can hold.
	MaxDim = 1<<16 - 1
)

// ErrCorrupt reports stored bytes that fail their checks: a posting that
// does not decode (wrong length, unknown version or element type, a
// checksum mismatch), or damaged data of a store. It matches errs.Corrupt
// (index.ErrCorrupt) under errors.Is, so that the layers above see one
// kind of damage whichever layer found it.
var ErrCorrupt error = corruptError{}

type corruptError struct{}

func (corruptError) Error() string        { return "posting: corrupt data" }
func (corruptError) Is(target error) bool { return target == errs.Corrupt }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Posting is a decoded posting list. After Decode its slices alias the
// encoded bytes; they are valid only as long as those bytes are.
type Posting struct {
	Elem     vec.ElemType
	Dim      int
	IDs      []uint64
	Versions []uint8
	// Vectors holds len(IDs) rows of Dim elements as raw little-endian bytes
	// (version 1); nil for a quantized posting.
	Vectors []byte

	// Version 2 (codes.go): Codes holds len(IDs) codes of CodeSize bytes,
	// Bits per dimension, relative to the head whose CenterStamp is Stamp.
	// CodeSize is 0 for a posting of rows.
	Codes    []byte
	CodeSize int
	Bits     int
	Stamp    uint32
}

// Len returns the number of entries.
func (p *Posting) Len() int { return len(p.IDs) }

// Row returns the raw bytes of entry i's vector.
func (p *Posting) Row(i int) []byte {
	rb := p.Dim * p.Elem.Size()
	return p.Vectors[i*rb : (i+1)*rb]
}

// vectorOffset returns the offset of the vector block for n entries.
func vectorOffset(n int) int {
	off := headerSize + 9*n
	return (off + 3) &^ 3
}

// EncodedSize returns the number of bytes Encode writes for n entries.
func EncodedSize(elem vec.ElemType, dim, n int) int {
	return vectorOffset(n) + n*dim*elem.Size() + crcSize
}

// Encode appends the encoding of p to dst and returns the extended slice.
// It panics if p is inconsistent (a bug in the caller, not bad input).
func Encode(dst []byte, p *Posting) []byte {
	n := len(p.IDs)
	if !p.Elem.Valid() || p.Dim <= 0 || p.Dim > MaxDim {
		panic(fmt.Sprintf("posting: Encode: bad element type %d or dim %d", p.Elem, p.Dim))
	}
	if len(p.Versions) != n || len(p.Vectors) != n*p.Dim*p.Elem.Size() {
		panic(fmt.Sprintf("posting: Encode: %d ids, %d versions, %d vector bytes", n, len(p.Versions), len(p.Vectors)))
	}
	dst, b := grow(dst, EncodedSize(p.Elem, p.Dim, n))
	putHeader(b, FormatVersion, p)
	putEntries(b, headerSize, p)
	copy(b[vectorOffset(n):], p.Vectors)
	seal(b)
	return dst
}

// The steps both encodings share: the first 8 header bytes (version,
// element type, dim, n), the ids and versions after the header, and the
// trailing checksum.

// grow appends size zero bytes to dst and returns dst and the new bytes.
func grow(dst []byte, size int) ([]byte, []byte) {
	start := len(dst)
	dst = append(dst, make([]byte, size)...)
	return dst, dst[start:]
}

// putHeader writes the shared header bytes of p, of encoding version.
func putHeader(b []byte, version byte, p *Posting) {
	b[0] = version
	b[1] = byte(p.Elem)
	binary.LittleEndian.PutUint16(b[2:], uint16(p.Dim))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(p.IDs)))
}

// putEntries writes p's ids, then its versions, from offset off.
func putEntries(b []byte, off int, p *Posting) {
	for _, id := range p.IDs {
		binary.LittleEndian.PutUint64(b[off:], id)
		off += 8
	}
	copy(b[off:], p.Versions)
}

// seal writes the CRC-32C of everything before the last crcSize bytes.
func seal(b []byte) {
	body := len(b) - crcSize
	binary.LittleEndian.PutUint32(b[body:], crc32.Checksum(b[:body], castagnoli))
}

// checkSeal verifies seal's checksum and returns the length before it.
func checkSeal(b []byte) (int, error) {
	body := len(b) - crcSize
	if got, want := crc32.Checksum(b[:body], castagnoli), binary.LittleEndian.Uint32(b[body:]); got != want {
		return 0, fmt.Errorf("%w: checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	return body, nil
}

// readHeader returns the element type, dim and entry count of the shared
// header bytes, checked as far as they go alone.
func readHeader(b []byte) (vec.ElemType, int, int, error) {
	elem := vec.ElemType(b[1])
	dim := int(binary.LittleEndian.Uint16(b[2:]))
	n := int(binary.LittleEndian.Uint32(b[4:]))
	switch {
	case !elem.Valid():
		return 0, 0, 0, fmt.Errorf("%w: unknown element type %d", ErrCorrupt, b[1])
	case dim == 0:
		return 0, 0, 0, fmt.Errorf("%w: dim 0", ErrCorrupt)
	case n > len(b):
		// Bound n by the length before multiplying, so sizes cannot overflow.
		return 0, 0, 0, fmt.Errorf("%w: %d entries in %d bytes", ErrCorrupt, n, len(b))
	}
	return elem, dim, n, nil
}

// readEntries decodes n ids into p.IDs (reusing its capacity) and aliases
// p.Versions, from offset off of b.
func readEntries(b []byte, off, n int, p *Posting) {
	if cap(p.IDs) < n {
		p.IDs = make([]uint64, n)
	}
	p.IDs = p.IDs[:n]
	for i := range p.IDs {
		p.IDs[i] = binary.LittleEndian.Uint64(b[off:])
		off += 8
	}
	p.Versions = b[off : off+n]
}

// Decode parses b, a posting of version 1 (rows) or 2 (codes, codes.go),
// into p without copying: p's slices alias b. IDs are
// decoded into p.IDs, reusing its capacity. Any malformed input returns an
// error wrapping ErrCorrupt; Decode never panics.
func Decode(b []byte, p *Posting) error {
	if len(b) < headerSize+crcSize {
		return fmt.Errorf("%w: %d bytes is shorter than a header", ErrCorrupt, len(b))
	}
	if b[0] == CodesVersion {
		return decodeCodes(b, p)
	}
	if b[0] != FormatVersion {
		return fmt.Errorf("%w: unknown format version %d", ErrCorrupt, b[0])
	}
	elem, dim, n, err := readHeader(b)
	if err != nil {
		return err
	}
	if want := EncodedSize(elem, dim, n); want != len(b) {
		return fmt.Errorf("%w: %d entries of dim %d need %d bytes, have %d", ErrCorrupt, n, dim, want, len(b))
	}
	body, err := checkSeal(b)
	if err != nil {
		return err
	}
	p.Elem, p.Dim = elem, dim
	readEntries(b, headerSize, n, p)
	p.Vectors = b[vectorOffset(n):body]
	p.Codes, p.CodeSize, p.Bits, p.Stamp = nil, 0, 0, 0
	return nil
}
