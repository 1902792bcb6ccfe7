package posting

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/shoaldb/shoal/internal/rabitq"
)

// # Encoding, version 2: quantized postings
//
// A quantized index (issue 15) stores in each posting, instead of the
// rows, one RaBitQ code per entry (package internal/rabitq), relative to
// the posting's head; the rows are stored once elsewhere and read only to
// rerank. Little-endian throughout:
//
//	offset        size          field
//	0             1             format version (2)
//	1             1             element type of the index's rows
//	2             2             dim (of the rows, before padding)
//	4             4             n, number of entries
//	8             1             bits per dimension of the codes (1–8)
//	9             3             zero
//	12            4             center stamp: CenterStamp of the head the
//	                            codes are relative to, when they were encoded
//	16            8·n           ids (uint64)
//	16+8n         n             versions (uint8), as in version 1
//	…             0–7           zero padding to a multiple of 8
//	codeOff       n·codeSize    codes, entry after entry (planes, factors)
//	end-4         4             CRC-32C of every byte before it
//
// codeSize is rabitq.CodeSize(rabitq.PaddedDim(dim), bits), a multiple
// of 8, so codes start 8-byte aligned in an aligned buffer.
//
// The center stamp lets a reader tell whether the head it routed with is
// the one the codes were encoded against: a split moves a head, and a
// search that routed before the split may read the posting written after
// it. A reader whose stamp differs treats the codes' bounds as unknown.

// CodesVersion is the encoding version of quantized postings.
const CodesVersion = 2

const codesHeaderSize = 16

// codeOffset returns the offset of the code block for n entries.
func codeOffset(n int) int {
	off := codesHeaderSize + 9*n
	return (off + 7) &^ 7
}

// CodesEncodedSize returns the bytes EncodeCodes writes for n entries of
// codeSize bytes each.
func CodesEncodedSize(codeSize, n int) int {
	return codeOffset(n) + n*codeSize + crcSize
}

// CenterStamp returns the stamp of a head's centroid: the CRC-32C of its
// float32 values' bytes, never 0 (0 marks "no center").
func CenterStamp(c []float32) uint32 {
	var buf [256]byte
	var h uint32
	for len(c) > 0 {
		n := min(len(c), len(buf)/4)
		for i, v := range c[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		h = crc32.Update(h, castagnoli, buf[:4*n])
		c = c[n:]
	}
	if h == 0 {
		h = 1
	}
	return h
}

// Quantized reports whether p holds codes (version 2) rather than rows.
func (p *Posting) Quantized() bool { return p.CodeSize > 0 }

// Code returns entry i's code.
func (p *Posting) Code(i int) []byte {
	return p.Codes[i*p.CodeSize : (i+1)*p.CodeSize]
}

// AddCode appends one entry with its code (copied) to a quantized posting
// being assembled for EncodeCodes.
func (p *Posting) AddCode(id uint64, ver uint8, code []byte) {
	p.IDs = append(p.IDs, id)
	p.Versions = append(p.Versions, ver)
	p.Codes = append(p.Codes, code...)
}

// EncodeCodes appends the version 2 encoding of p (Elem, Dim, Bits,
// Stamp, CodeSize, IDs, Versions, Codes) to dst. It panics if p is
// inconsistent (a bug in the caller, not bad input).
func EncodeCodes(dst []byte, p *Posting) []byte {
	n := len(p.IDs)
	switch {
	case !p.Elem.Valid() || p.Dim <= 0 || p.Dim > MaxDim:
		panic(fmt.Sprintf("posting: EncodeCodes: bad element type %d or dim %d", p.Elem, p.Dim))
	case p.Bits < 1 || p.Bits > 8 || p.CodeSize <= 0 || p.CodeSize%8 != 0:
		panic(fmt.Sprintf("posting: EncodeCodes: bits %d, code size %d", p.Bits, p.CodeSize))
	case len(p.Versions) != n || len(p.Codes) != n*p.CodeSize:
		panic(fmt.Sprintf("posting: EncodeCodes: %d ids, %d versions, %d code bytes", n, len(p.Versions), len(p.Codes)))
	}
	dst, b := grow(dst, CodesEncodedSize(p.CodeSize, n))
	putHeader(b, CodesVersion, p)
	b[8] = byte(p.Bits)
	binary.LittleEndian.PutUint32(b[12:], p.Stamp)
	putEntries(b, codesHeaderSize, p)
	copy(b[codeOffset(n):], p.Codes)
	seal(b)
	return dst
}

// decodeCodes is Decode for version 2.
func decodeCodes(b []byte, p *Posting) error {
	if len(b) < codesHeaderSize+crcSize {
		return fmt.Errorf("%w: %d bytes is shorter than a header", ErrCorrupt, len(b))
	}
	elem, dim, n, err := readHeader(b)
	if err != nil {
		return err
	}
	bits := int(b[8])
	switch {
	case bits < 1 || bits > 8:
		return fmt.Errorf("%w: %d bits per dimension", ErrCorrupt, bits)
	case b[9] != 0 || b[10] != 0 || b[11] != 0:
		return fmt.Errorf("%w: reserved header bytes set", ErrCorrupt)
	}
	codeSize := rabitq.CodeSize(rabitq.PaddedDim(dim), bits)
	if want := CodesEncodedSize(codeSize, n); want != len(b) {
		return fmt.Errorf("%w: %d codes of dim %d at %d bits need %d bytes, have %d", ErrCorrupt, n, dim, bits, want, len(b))
	}
	body, err := checkSeal(b)
	if err != nil {
		return err
	}
	p.Elem, p.Dim, p.Bits, p.CodeSize = elem, dim, bits, codeSize
	p.Stamp = binary.LittleEndian.Uint32(b[12:])
	readEntries(b, codesHeaderSize, n, p)
	p.Codes = b[codeOffset(n):body]
	p.Vectors = nil
	return nil
}
