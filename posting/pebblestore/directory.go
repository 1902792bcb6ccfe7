package pebblestore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/shoaldb/shoal/posting"
)

// location is where one posting lives: segment, byte offset (a multiple of
// pageSize) and encoded length. length 0 means no posting.
type location struct {
	seg    uint32
	length uint32
	off    uint64
}

// directory maps posting ids (dense, from 0) to locations. It is replaced
// as a whole by a bulk commit, never modified in place.
//
// Encoding (little-endian), stored under meta key "postings":
//
//	0  1     version (1)
//	1  4     n, number of ids
//	5  16·n  per id: segment u32, length u32, offset u64
//	end 4    CRC-32C of everything before
type directory struct {
	locs []location
}

const directoryVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (d directory) get(id uint32) (location, bool) {
	if int(id) >= len(d.locs) || d.locs[id].length == 0 {
		return location{}, false
	}
	return d.locs[id], true
}

// with returns a copy of d with the given locations set.
func (d directory) with(ids []uint32, locs []location) directory {
	n := len(d.locs)
	for _, id := range ids {
		n = max(n, int(id)+1)
	}
	out := directory{locs: make([]location, n)}
	copy(out.locs, d.locs)
	for i, id := range ids {
		out.locs[id] = locs[i]
	}
	return out
}

// segments returns the distinct segments referred to, ascending.
func (d directory) segments() []uint32 {
	seen := map[uint32]bool{}
	var out []uint32
	for _, l := range d.locs {
		if l.length != 0 && !seen[l.seg] {
			seen[l.seg] = true
			out = append(out, l.seg)
		}
	}
	slices.Sort(out)
	return out
}

// nextSegment returns a segment number not used by d.
func (d directory) nextSegment() uint32 {
	var next uint32 = 1
	for _, l := range d.locs {
		if l.length != 0 && l.seg >= next {
			next = l.seg + 1
		}
	}
	return next
}

func (d directory) encode() []byte {
	b := make([]byte, 0, 5+16*len(d.locs)+4)
	b = append(b, directoryVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(d.locs)))
	for _, l := range d.locs {
		b = binary.LittleEndian.AppendUint32(b, l.seg)
		b = binary.LittleEndian.AppendUint32(b, l.length)
		b = binary.LittleEndian.AppendUint64(b, l.off)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeDirectory(b []byte) (directory, error) {
	if len(b) < 9 {
		return directory{}, fmt.Errorf("%w: posting directory of %d bytes", posting.ErrCorrupt, len(b))
	}
	body := len(b) - 4
	if crc32.Checksum(b[:body], castagnoli) != binary.LittleEndian.Uint32(b[body:]) {
		return directory{}, fmt.Errorf("%w: posting directory checksum", posting.ErrCorrupt)
	}
	if b[0] != directoryVersion {
		return directory{}, fmt.Errorf("%w: posting directory version %d", posting.ErrCorrupt, b[0])
	}
	n := int(binary.LittleEndian.Uint32(b[1:]))
	if 5+16*n != body {
		return directory{}, fmt.Errorf("%w: posting directory of %d entries in %d bytes", posting.ErrCorrupt, n, len(b))
	}
	d := directory{locs: make([]location, n)}
	off := 5
	for i := range d.locs {
		d.locs[i] = location{
			seg:    binary.LittleEndian.Uint32(b[off:]),
			length: binary.LittleEndian.Uint32(b[off+4:]),
			off:    binary.LittleEndian.Uint64(b[off+8:]),
		}
		if d.locs[i].off%pageSize != 0 {
			return directory{}, fmt.Errorf("%w: posting %d at unaligned offset %d", posting.ErrCorrupt, i, d.locs[i].off)
		}
		off += 16
	}
	return d, nil
}
