package pebblestore

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// FuzzDecodeDirectory: any directory blob whose checksum holds (the fuzzer
// varies the body; the checksum is appended) decodes or fails with an
// error, never a panic, and one that decodes encodes back to itself.
func FuzzDecodeDirectory(f *testing.F) {
	d := directory{locs: []location{{seg: 1, length: 100, off: 4096}, {}}}
	enc := d.encode()
	f.Add(enc[:len(enc)-4])
	f.Add([]byte{directoryVersion, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		d, err := decodeDirectory(b)
		if err != nil {
			return
		}
		if got := d.encode(); !bytes.Equal(got, b) {
			t.Fatalf("%x decodes to %d locations that encode to %x", b, len(d.locs), got)
		}
	})
}
