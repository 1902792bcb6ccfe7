package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/cockroachdb/pebble/v2"
)

// A reader of Pebble's write-ahead log for what Pebble's own reader does
// not do: say what exactly is wrong at a damaged offset, and find the
// intact records after it, so that Open can say what a damage puts at
// risk and a salvage can list what it drops.
//
// The log format (Pebble's package record documents it): the file is a
// sequence of 32 KiB blocks; a block holds chunks, and a block's last
// bytes are zeros where no chunk header fits. A chunk is
//
//	checksum u32 ‖ length u16 ‖ type u8 ‖ [log number u32 ‖ [synced offset u64]] ‖ payload
//
// little-endian; types 1–4 (full, first, middle, last chunk of a record)
// have the 7-byte header, 5–8 the same positions with the log number
// (11 bytes), 9–12 also with the offset the log was synced to when the
// chunk was written (19 bytes). The checksum is CRC-32C of type through
// payload, rotated right by 15 bits plus 0xa282ead8. A chunk never
// crosses a block. A record is one full chunk or a first, middles and a
// last. A clean end of a log is a chunk of the next log number with no
// payload. Each record of a Pebble log is a batch (walBatch).

const (
	logBlockSize     = 32 << 10
	chunkLegacyHdr   = 7
	chunkRecycledHdr = 11
	chunkSyncHdr     = 19
)

type chunkPos uint8

const (
	posFull chunkPos = 1 + iota
	posFirst
	posMiddle
	posLast
)

// logChunk is one intact chunk.
type logChunk struct {
	off, end int64
	pos      chunkPos
	payload  []byte
}

// errLogEnd is the chunk that ends a log cleanly.
var errLogEnd = errors.New("end of log")

// readChunk parses the chunk at off of the log file b of log number num.
// A chunk that is not intact is an error saying what is wrong with it.
func readChunk(b []byte, off int64, num uint32) (logChunk, error) {
	inBlock := off % logBlockSize
	if off+chunkLegacyHdr > int64(len(b)) {
		return logChunk{}, fmt.Errorf("the file ends inside a chunk header (%d bytes left)", int64(len(b))-off)
	}
	h := b[off:]
	sum, length, typ := binary.LittleEndian.Uint32(h), int64(binary.LittleEndian.Uint16(h[4:])), h[6]
	var hdr int64
	switch {
	case sum == 0 && length == 0 && typ == 0:
		return logChunk{}, errors.New("zeroed bytes where a chunk header should be")
	case typ >= 1 && typ <= 4:
		hdr = chunkLegacyHdr
	case typ >= 5 && typ <= 8:
		hdr = chunkRecycledHdr
	case typ >= 9 && typ <= 12:
		hdr = chunkSyncHdr
	default:
		return logChunk{}, fmt.Errorf("unknown chunk type %d", typ)
	}
	if inBlock+hdr > logBlockSize {
		return logChunk{}, fmt.Errorf("a %d-byte chunk header runs past its 32 KiB block", hdr)
	}
	if off+hdr > int64(len(b)) {
		return logChunk{}, fmt.Errorf("the file ends inside a chunk header (%d bytes left)", int64(len(b))-off)
	}
	if hdr > chunkLegacyHdr {
		if n := binary.LittleEndian.Uint32(h[7:]); n != num {
			if n == num+1 && length == 0 {
				return logChunk{}, errLogEnd
			}
			return logChunk{}, fmt.Errorf("chunk of log number %d in log %d (bytes of an older, recycled log, or a damaged header)", n, num)
		}
	}
	if inBlock+hdr+length > logBlockSize {
		return logChunk{}, fmt.Errorf("chunk length %d runs past its 32 KiB block", length)
	}
	end := off + hdr + length
	if end > int64(len(b)) {
		return logChunk{}, fmt.Errorf("the file ends inside a chunk (%d of %d bytes)", int64(len(b))-off-hdr, length)
	}
	if c := crc32.Checksum(b[off+6:end], castagnoli); sum != (c>>15|c<<17)+0xa282ead8 {
		return logChunk{}, errors.New("checksum mismatch")
	}
	return logChunk{off: off, end: end, pos: chunkPos((typ-1)%4 + 1), payload: b[off+hdr : end]}, nil
}

// skipPadding returns off, or the start of the next block if the rest of
// off's block is padding: too short for a chunk header, or zeros too
// short for the longest one.
func skipPadding(b []byte, off int64) int64 {
	rest := logBlockSize - off%logBlockSize
	if rest < chunkLegacyHdr {
		return off + rest
	}
	if rest < chunkSyncHdr {
		for i := off; i < min(off+rest, int64(len(b))); i++ {
			if b[i] != 0 {
				return off
			}
		}
		return off + rest
	}
	return off
}

// nextIntactChunk returns the offset of the first intact chunk of log num
// at or after off, or len(b). Only chunks that carry the log number count,
// which Pebble's logs all do: a stray match of a log number and a checksum
// in damaged or stale bytes is as likely as a checksum collision.
func nextIntactChunk(b []byte, off int64, num uint32) int64 {
	for ; off+chunkRecycledHdr <= int64(len(b)); off++ {
		if typ := b[off+6]; typ < 5 || typ > 12 || binary.LittleEndian.Uint32(b[off+7:]) != num {
			continue
		}
		if _, err := readChunk(b, off, num); err == nil {
			return off
		}
	}
	return int64(len(b))
}

// logRecord is an intact record of a log: [off, end) and its payload.
type logRecord struct {
	off, end int64
	payload  []byte
}

// logGap is a stretch of a log that holds no intact record.
type logGap struct {
	off, end int64
	problem  string
}

// scanLog reads the records of log file b (log number num) from off,
// which must be where a chunk starts or should start, to the end of the
// log: the intact records, and the stretches between them that hold none
// (a damaged record, or the middle of one whose start is damaged). The
// bytes past the last intact chunk (unused space of the file, stale bytes
// of a recycled log, or damage that spares no later record) are the
// tail, reported apart.
func scanLog(b []byte, off int64, num uint32) (recs []logRecord, gaps []logGap, tail *logGap) {
	var (
		cur     []byte // payload of the record being assembled
		curOff  = int64(-1)
		gapOff  = int64(-1) // start of the bytes since the last intact record
		problem string
	)
	startGap := func(at int64, why string) {
		if gapOff < 0 {
			gapOff, problem = at, why
		}
	}
	// abandon turns a record being assembled into a gap.
	abandon := func(why string) {
		if curOff >= 0 {
			startGap(curOff, why)
			cur, curOff = nil, -1
		}
	}
	for {
		off = skipPadding(b, off)
		if off >= int64(len(b)) {
			break
		}
		c, err := readChunk(b, off, num)
		if errors.Is(err, errLogEnd) {
			break
		}
		if err != nil {
			abandon("a record cut short by damage")
			startGap(off, err.Error())
			off = nextIntactChunk(b, off+1, num)
			continue
		}
		switch c.pos {
		case posFull, posFirst:
			abandon("a record cut short by damage")
			cur, curOff = append(cur[:0:0], c.payload...), c.off
		case posMiddle, posLast:
			if curOff < 0 {
				startGap(c.off, "the rest of a record whose start is damaged")
				off = c.end
				continue
			}
			cur = append(cur, c.payload...)
		}
		if c.pos == posFull || c.pos == posLast {
			if gapOff >= 0 {
				gaps = append(gaps, logGap{gapOff, curOff, problem})
				gapOff = -1
			}
			recs = append(recs, logRecord{curOff, c.end, cur})
			cur, curOff = nil, -1
		}
		off = c.end
	}
	abandon("a record the log ends inside")
	if gapOff >= 0 {
		tail = &logGap{gapOff, int64(len(b)), problem}
	}
	return recs, gaps, tail
}

// walBatch is a decoded record of Pebble's log: a batch.
//
// Batch layout (Pebble's batchrepr): seq u64 ‖ count u32 ‖ entries, each
// kind u8 ‖ key (uvarint length ‖ bytes) ‖ for some kinds a value (the
// same way). The batch's sequence numbers are seq .. seq+count-1.
type walBatch struct {
	seq   uint64
	count uint32
	ops   []WALOp
}

// WALOp is one change in a batch of Pebble's log.
type WALOp struct {
	Kind pebble.InternalKeyKind
	// Key is the Pebble key (a DeleteRange's start).
	Key []byte
	// Value is a Set's or Merge's value, or a DeleteRange's end key.
	Value []byte
}

// decodeBatch decodes a log record. It never panics on bad bytes.
func decodeBatch(p []byte) (walBatch, error) {
	if len(p) < 12 {
		return walBatch{}, fmt.Errorf("batch of %d bytes, shorter than its header", len(p))
	}
	b := walBatch{seq: binary.LittleEndian.Uint64(p), count: binary.LittleEndian.Uint32(p[8:])}
	r := p[12:]
	for len(r) > 0 {
		kind := pebble.InternalKeyKind(r[0])
		var op WALOp
		var ok bool
		if r, op.Key, ok = varBytes(r[1:]); !ok {
			return walBatch{}, fmt.Errorf("batch %d: key of entry %d cut short", b.seq, len(b.ops))
		}
		op.Kind = kind
		switch kind {
		case pebble.InternalKeyKindSet, pebble.InternalKeyKindMerge, pebble.InternalKeyKindRangeDelete,
			pebble.InternalKeyKindRangeKeySet, pebble.InternalKeyKindRangeKeyUnset, pebble.InternalKeyKindRangeKeyDelete,
			pebble.InternalKeyKindDeleteSized, pebble.InternalKeyKindExcise:
			if r, op.Value, ok = varBytes(r); !ok {
				return walBatch{}, fmt.Errorf("batch %d: value of entry %d cut short", b.seq, len(b.ops))
			}
		case pebble.InternalKeyKindDelete, pebble.InternalKeyKindSingleDelete, pebble.InternalKeyKindLogData,
			pebble.InternalKeyKindIngestSST:
		default:
			return walBatch{}, fmt.Errorf("batch %d: entry %d of unknown kind %d", b.seq, len(b.ops), kind)
		}
		if kind != pebble.InternalKeyKindLogData {
			b.ops = append(b.ops, op)
		}
	}
	return b, nil
}

// varBytes splits a uvarint-length-prefixed byte string off p.
func varBytes(p []byte) (rest, s []byte, ok bool) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return nil, nil, false
	}
	return p[k+int(n):], p[k : k+int(n)], true
}
