package vectors

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/internal/errs"
)

// The vectors file, version 1 (little-endian):
//
//	0   4   magic "SHVD"
//	4   4   version (1)
//	8   4   rowBytes: bytes per row (dim × element size)
//	12  4   B: rows per block, max(1, 4096 / rowBytes)
//	16  8   count: rows
//	24  4   zero
//	28  4   CRC-32C of bytes 0..28
//	32      blocks: block k holds rows [k·B, min((k+1)·B, count)), then
//	        the CRC-32C of the block number k (u64) followed by its rows
//
// so that the file is 32 + count·rowBytes + ⌈count/B⌉·4 bytes, row i
// starts at 32 + (i/B)·(B·rowBytes + 4) + (i%B)·rowBytes, and every read
// reads and checks the whole blocks that hold its rows (about 4 KiB, a
// page, each). The block number in the checksum catches a block read
// from the wrong place.
//
// Version 0, the format before checksums, is count·rowBytes bytes of
// rows and nothing else. It is still read, without any check; a file is
// version 0 exactly when its size is count·rowBytes (a version 1 file
// is always larger).

// Version 2 is version 1 with every block on its own page-aligned
// extent, for direct-I/O reads of single blocks (the rerank of a
// quantized index): the header is padded to 4096 bytes, a block holds
// B = max(1, (4096 − 4) / rowBytes) rows, and block k starts at
// 4096 + k·S, S = ⌈(B·rowBytes + 4) / 4096⌉·4096, its checksum right
// after its rows and zeros up to S (the last block too), so that the file
// is 4096 + ⌈count/B⌉·S bytes.

const (
	magic         = "SHVD"
	formatVersion = 1
	// alignedVersion is version 2, the page-aligned layout.
	alignedVersion = 2
	// pageSize is the alignment of version 2 blocks.
	pageSize   = 4096
	headerSize = 32
	crcSize    = 4
	// blockBytes is the most row bytes a block holds (unless one row is
	// larger).
	blockBytes = 4096
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// layout is where the rows of a vectors file are.
type layout struct {
	version   int
	rowBytes  int
	blockRows uint64 // B; 1 for version 0, which has no blocks
	count     uint64
}

func newLayout(count uint64, rowBytes int, aligned bool) layout {
	if aligned {
		return layout{version: alignedVersion, rowBytes: rowBytes, blockRows: uint64(max(1, (pageSize-crcSize)/rowBytes)), count: count}
	}
	return layout{version: formatVersion, rowBytes: rowBytes, blockRows: uint64(max(1, blockBytes/rowBytes)), count: count}
}

// stride returns the distance between the starts of two blocks.
func (l layout) stride() int64 {
	n := int64(l.blockRows)*int64(l.rowBytes) + crcSize
	if l.version == alignedVersion {
		n = (n + pageSize - 1) &^ (pageSize - 1)
	}
	return n
}

// dataStart returns the offset of block 0.
func (l layout) dataStart() int64 {
	if l.version == alignedVersion {
		return pageSize
	}
	return headerSize
}

// blocks returns the number of blocks.
func (l layout) blocks() uint64 { return (l.count + l.blockRows - 1) / l.blockRows }

// size returns the file's size in bytes.
func (l layout) size() int64 {
	if l.version == 0 {
		return int64(l.count) * int64(l.rowBytes)
	}
	if l.version == alignedVersion {
		return pageSize + int64(l.blocks())*l.stride()
	}
	return headerSize + int64(l.count)*int64(l.rowBytes) + int64(l.blocks())*crcSize
}

// blockOff returns the offset of block k (versions 1 and 2).
func (l layout) blockOff(k uint64) int64 {
	return l.dataStart() + int64(k)*l.stride()
}

// rowOff returns the offset of row i.
func (l layout) rowOff(i uint64) int64 {
	if l.version == 0 {
		return int64(i) * int64(l.rowBytes)
	}
	return l.blockOff(i/l.blockRows) + int64(i%l.blockRows)*int64(l.rowBytes)
}

// spanEnd returns the end of the bytes holding row i: of its block with
// the block's checksum (version 1), or of the row (version 0).
func (l layout) spanEnd(i uint64) int64 {
	if l.version == 0 {
		return l.rowOff(i + 1)
	}
	k := i / l.blockRows
	rows := min(l.blockRows, l.count-k*l.blockRows)
	return l.blockOff(k) + int64(rows)*int64(l.rowBytes) + crcSize
}

// spanStart returns where the bytes holding row i start: its block's
// start (version 1), or the row's (version 0).
func (l layout) spanStart(i uint64) int64 {
	if l.version == 0 {
		return l.rowOff(i)
	}
	return l.blockOff(i / l.blockRows)
}

// header returns the encoded header of a version 1 or 2 file, with
// version 2's padding.
func (l layout) header() []byte {
	h := make([]byte, l.dataStart())
	copy(h, magic)
	binary.LittleEndian.PutUint32(h[4:], uint32(l.version))
	binary.LittleEndian.PutUint32(h[8:], uint32(l.rowBytes))
	binary.LittleEndian.PutUint32(h[12:], uint32(l.blockRows))
	binary.LittleEndian.PutUint64(h[16:], l.count)
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], castagnoli))
	return h
}

// readLayout works out the layout of a file of size bytes that must hold
// count rows of rowBytes, reading its header from r. Any mismatch is
// errs.Corrupt.
func readLayout(r io.ReaderAt, size int64, count uint64, rowBytes int) (layout, error) {
	if old := (layout{version: 0, rowBytes: rowBytes, blockRows: 1, count: count}); size == old.size() {
		return old, nil
	}
	var h [headerSize]byte
	if size < headerSize {
		return layout{}, fmt.Errorf("%w: %s holds %d bytes, want %d", errs.Corrupt, File, size, newLayout(count, rowBytes, false).size())
	}
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return layout{}, fmt.Errorf("%w: %s: header: %v", errs.Corrupt, File, err)
	}
	if string(h[:4]) != magic {
		return layout{}, fmt.Errorf("%w: %s: bad magic %q", errs.Corrupt, File, h[:4])
	}
	if got, want := crc32.Checksum(h[:28], castagnoli), binary.LittleEndian.Uint32(h[28:]); got != want {
		return layout{}, fmt.Errorf("%w: %s: header checksum %08x, want %08x", errs.Corrupt, File, got, want)
	}
	v := binary.LittleEndian.Uint32(h[4:])
	if v != formatVersion && v != alignedVersion {
		return layout{}, fmt.Errorf("%w: %s: format version %d, this build reads 0 to %d", errs.Corrupt, File, v, alignedVersion)
	}
	l := layout{
		version:   int(v),
		rowBytes:  int(binary.LittleEndian.Uint32(h[8:])),
		blockRows: uint64(binary.LittleEndian.Uint32(h[12:])),
		count:     binary.LittleEndian.Uint64(h[16:]),
	}
	if l.rowBytes != rowBytes || l.count != count || l.blockRows == 0 {
		return layout{}, fmt.Errorf("%w: %s holds %d rows of %d bytes (%d a block), want %d of %d",
			errs.Corrupt, File, l.count, l.rowBytes, l.blockRows, count, rowBytes)
	}
	if size != l.size() {
		return layout{}, fmt.Errorf("%w: %s holds %d bytes, want %d", errs.Corrupt, File, size, l.size())
	}
	return l, nil
}

// checkBlocks verifies the checksums of the whole blocks in b, which
// starts at the start of block first (versions 1 and 2) and ends with the
// checksum of its last block (or, in version 2, anywhere in its padding).
func (l layout) checkBlocks(b []byte, first uint64) error {
	full := int(l.blockRows) * l.rowBytes
	stride := int(l.stride())
	for k := first; len(b) > 0; k++ {
		rows := int(min(l.blockRows, l.count-k*l.blockRows))
		n := rows * l.rowBytes
		if len(b) < n+crcSize || (n < full && l.version != alignedVersion && len(b) != n+crcSize) {
			return fmt.Errorf("%w: %s: block %d cut short", errs.Corrupt, File, k)
		}
		if got, want := blockSum(k, b[:n]), binary.LittleEndian.Uint32(b[n:]); got != want {
			return fmt.Errorf("%w: %s: block %d (rows %d..%d): checksum %08x, want %08x",
				errs.Corrupt, File, k, k*l.blockRows, k*l.blockRows+uint64(rows)-1, got, want)
		}
		b = b[min(len(b), max(stride, n+crcSize)):]
	}
	return nil
}

// blockSum is the checksum of block k holding rows.
func blockSum(k uint64, rows []byte) uint32 {
	var num [8]byte
	binary.LittleEndian.PutUint64(num[:], k)
	return crc32.Update(crc32.Checksum(num[:], castagnoli), castagnoli, rows)
}

// Writer writes a vectors file (version 1, or 2 with NewAlignedWriter) of
// a known number of rows.
// It is not safe for concurrent use.
type Writer struct {
	w     io.Writer
	l     layout
	rows  uint64 // written so far
	crc   uint32 // of the current block so far
	inBlk uint64 // rows of the current block written
	sum   [crcSize]byte
}

// NewWriter writes the header of a file of count rows of rowBytes to w
// and returns the Writer of its rows.
func NewWriter(w io.Writer, count, rowBytes int) (*Writer, error) {
	if count < 0 || rowBytes <= 0 {
		return nil, fmt.Errorf("vectors: %d rows of %d bytes", count, rowBytes)
	}
	return newWriter(w, newLayout(uint64(count), rowBytes, false))
}

// NewAlignedWriter is NewWriter for the page-aligned version 2.
func NewAlignedWriter(w io.Writer, count, rowBytes int) (*Writer, error) {
	if count < 0 || rowBytes <= 0 {
		return nil, fmt.Errorf("vectors: %d rows of %d bytes", count, rowBytes)
	}
	return newWriter(w, newLayout(uint64(count), rowBytes, true))
}

func newWriter(w io.Writer, l layout) (*Writer, error) {
	vw := &Writer{w: w, l: l}
	if _, err := w.Write(l.header()); err != nil {
		return nil, err
	}
	return vw, nil
}

// Write writes whole rows, in id order.
func (w *Writer) Write(rows []byte) error {
	rb := w.l.rowBytes
	if len(rows)%rb != 0 {
		return fmt.Errorf("vectors: write of %d bytes, not whole rows of %d", len(rows), rb)
	}
	if w.rows+uint64(len(rows)/rb) > w.l.count {
		return fmt.Errorf("vectors: more than %d rows written", w.l.count)
	}
	for len(rows) > 0 {
		if w.inBlk == 0 {
			w.crc = blockSum(w.rows/w.l.blockRows, nil)
		}
		n := min(uint64(len(rows)/rb), w.l.blockRows-w.inBlk)
		chunk := rows[:n*uint64(rb)]
		if _, err := w.w.Write(chunk); err != nil {
			return err
		}
		w.crc = crc32.Update(w.crc, castagnoli, chunk)
		w.rows += n
		w.inBlk += n
		rows = rows[len(chunk):]
		if w.inBlk == w.l.blockRows || w.rows == w.l.count {
			binary.LittleEndian.PutUint32(w.sum[:], w.crc)
			if _, err := w.w.Write(w.sum[:]); err != nil {
				return err
			}
			if pad := w.l.stride() - int64(w.inBlk)*int64(rb) - crcSize; w.l.version == alignedVersion && pad > 0 {
				if _, err := w.w.Write(make([]byte, pad)); err != nil {
					return err
				}
			}
			w.inBlk = 0
		}
	}
	return nil
}

// Close checks that every row was written. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.rows != w.l.count {
		return fmt.Errorf("vectors: %d of %d rows written", w.rows, w.l.count)
	}
	return nil
}

// Verify reads the whole vectors file and checks its header and every
// block's checksum, calling problem for each damaged block until it
// returns false. It returns the bytes verified and the bytes no checksum
// covers (the whole of a version 0 file). Its error is a failure to read,
// not damage.
func (s *Store) Verify(problem func(string) bool) (verified, unverified int64, err error) {
	if s.f == nil {
		return 0, 0, nil
	}
	size := s.l.size()
	defer directio.DropCache(s.f.Name())
	if s.l.version == 0 {
		return 0, size, nil
	}
	if _, err := readLayout(s.f, size, s.l.count, s.l.rowBytes); err != nil {
		problem(err.Error())
		return 0, size, nil
	}
	verified = s.l.dataStart()
	blocks := s.l.blocks()
	per := max(1, (1<<20)/(s.l.blockOff(1)-s.l.blockOff(0)))
	var buf []byte
	going := true
	for k := uint64(0); k < blocks; k += uint64(per) {
		last := min(k+uint64(per), blocks) - 1
		start, end := s.l.blockOff(k), s.l.spanEnd(min(last*s.l.blockRows+s.l.blockRows-1, s.l.count-1))
		if int64(cap(buf)) < end-start {
			buf = make([]byte, end-start)
		}
		b := buf[:end-start]
		if _, err := s.f.ReadAt(b, start); err != nil {
			return verified, size - verified, fmt.Errorf("%s: %w", File, err)
		}
		for j := k; j <= last; j++ {
			off, next := s.l.blockOff(j)-start, s.l.spanEnd(min(j*s.l.blockRows+s.l.blockRows-1, s.l.count-1))-start
			if err := s.l.checkBlocks(b[off:next], j); err != nil {
				if going {
					going = problem(err.Error())
				}
				continue
			}
			verified += next - off
			if s.l.version == alignedVersion {
				verified += s.l.stride() - (next - off) // the block's zero padding
			}
		}
	}
	return verified, size - verified, nil
}
