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

// directory maps posting ids (dense, from 0) to locations. The Store's
// copy is guarded by Store.mu: a bulk commit replaces it, a Batch commit
// changes single entries in place.
//
// On disk it is a base blob plus per-posting overrides. The blob
// (little-endian), under meta key "postings", is written by bulk commits:
//
//	0  1     version (1)
//	1  4     n, number of ids
//	5  16·n  per id: segment u32, length u32, offset u64
//	end 4    CRC-32C of everything before
//
// An override, written by a Batch commit, is the Pebble key
// 'p' + big-endian u32 id (big-endian so that keys sort by id) with a
// 16-byte value laid out as one blob entry; length 0 marks a deleted
// posting. Overrides take precedence over the blob; a bulk commit folds
// them into the new blob and deletes them in the same Pebble batch. The
// value length is the override format's version (16 = 1); Pebble
// checksums its blocks and WAL records, so overrides carry no CRC of
// their own.
type directory struct {
	locs []location
}

const (
	// prefixOverride starts the keys of directory overrides.
	prefixOverride = 'p'
	overrideKeyLen = 5
	overrideLen    = 16
)

const directoryVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (d directory) get(id uint32) (location, bool) {
	if int(id) >= len(d.locs) || d.locs[id].length == 0 {
		return location{}, false
	}
	return d.locs[id], true
}

// set changes the location of id in place, growing d as needed, and
// returns the previous location (length 0 if none).
func (d *directory) set(id uint32, l location) location {
	if int(id) >= len(d.locs) {
		if l.length == 0 {
			return location{}
		}
		d.locs = slices.Grow(d.locs, int(id)+1-len(d.locs))
		d.locs = d.locs[:int(id)+1]
	}
	old := d.locs[id]
	d.locs[id] = l
	return old
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

func (d directory) encode() []byte {
	b := make([]byte, 0, 5+16*len(d.locs)+4)
	b = append(b, directoryVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(d.locs)))
	for _, l := range d.locs {
		b = appendLocation(b, l)
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

// overrideKey appends the key of the override of posting id (after the
// namespace prefix, if any) to dst.
func overrideKey(dst []byte, id uint32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, prefixOverride), id)
}

func appendLocation(dst []byte, l location) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, l.seg)
	dst = binary.LittleEndian.AppendUint32(dst, l.length)
	return binary.LittleEndian.AppendUint64(dst, l.off)
}

// decodeOverride decodes one override record.
func decodeOverride(key, value []byte) (uint32, location, error) {
	if len(key) != overrideKeyLen || key[0] != prefixOverride {
		return 0, location{}, fmt.Errorf("%w: directory override key %x", posting.ErrCorrupt, key)
	}
	id := binary.BigEndian.Uint32(key[1:])
	if id > MaxPostingID {
		return 0, location{}, fmt.Errorf("%w: directory override of posting %d above the maximum", posting.ErrCorrupt, id)
	}
	if len(value) != overrideLen {
		return 0, location{}, fmt.Errorf("%w: directory override of posting %d has %d bytes", posting.ErrCorrupt, id, len(value))
	}
	l := location{
		seg:    binary.LittleEndian.Uint32(value),
		length: binary.LittleEndian.Uint32(value[4:]),
		off:    binary.LittleEndian.Uint64(value[8:]),
	}
	if l.off%pageSize != 0 {
		return 0, location{}, fmt.Errorf("%w: posting %d at unaligned offset %d", posting.ErrCorrupt, id, l.off)
	}
	if l.length == 0 {
		l = location{}
	}
	return id, l, nil
}
