package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shoaldb/shoal/posting"
)

// walLogBytes writes n synced batches through a store and returns the
// bytes of its newest log (copied before Close, as a crash leaves it) and
// the log's number.
func walLogBytes(t testing.TB, n int) ([]byte, uint32) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		b := s.NewBatch()
		// Some values larger than a block: records of several chunks.
		b.Set(fmt.Appendf(nil, "k%05d", i), bytes.Repeat([]byte{byte(i)}, 50+(i%7)*9000))
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	slices.Sort(logs)
	p := logs[len(logs)-1]
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var num uint32
	fmt.Sscanf(filepath.Base(p), "%06d.log", &num)
	return b, num
}

func TestMarkRoundTrip(t *testing.T) {
	m := markState{synced: 1<<40 + 3, flushed: 77}
	b := m.encode()
	if got, ok := decodeMark(b); !ok || got != m {
		t.Fatalf("decodeMark(encode(%+v)) = %+v, %v", m, got, ok)
	}
	for i := range b {
		c := slices.Clone(b)
		c[i] ^= 1
		if _, ok := decodeMark(c); ok {
			t.Errorf("a mark with byte %d flipped decodes", i)
		}
	}
	if _, ok := decodeMark(b[:20]); ok {
		t.Error("a short mark decodes")
	}
}

// TestScanLogReadsEveryRecord: the scanner reads every batch of the
// newest log (the last writes; Pebble rotated to it), in order, records
// of several chunks included.
func TestScanLogReadsEveryRecord(t *testing.T) {
	const n = 60
	b, num := walLogBytes(t, n)
	recs, gaps, _ := scanLog(b, 0, num)
	if len(gaps) != 0 {
		t.Fatalf("gaps %+v in an intact log", gaps)
	}
	var keys []string
	for _, r := range recs {
		wb, err := decodeBatch(r.payload)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range wb.ops {
			if op.Kind == pebble.InternalKeyKindSet && bytes.HasPrefix(op.Key, []byte("uk")) {
				keys = append(keys, string(op.Key[1:]))
			}
		}
	}
	var first int
	if len(keys) > 0 {
		fmt.Sscanf(keys[0], "k%05d", &first)
	}
	if len(keys) < 10 || keys[len(keys)-1] != fmt.Sprintf("k%05d", n-1) || len(keys) != n-first || !slices.IsSorted(keys) {
		t.Fatalf("scanned %d keys %v; want the last writes, consecutive, up to k%05d", len(keys), keys, n-1)
	}
}

// TestScanLogResyncs: after damage, the scanner reports the damaged
// stretch and finds every later intact record.
func TestScanLogResyncs(t *testing.T) {
	b, num := walLogBytes(t, 60)
	all, _, _ := scanLog(b, 0, num)
	for _, tc := range []struct {
		name string
		hit  func(b []byte, r logRecord)
	}{
		{"payload", func(b []byte, r logRecord) { b[(r.off+r.end)/2] ^= 1 }},
		{"length", func(b []byte, r logRecord) { b[r.off+5] ^= 0x40 }},
		{"header zeroed", func(b []byte, r logRecord) { clear(b[r.off : r.off+chunkSyncHdr]) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := len(all) / 2
			c := slices.Clone(b)
			tc.hit(c, all[i])
			if _, err := readChunk(c, all[i].off, num); err == nil && tc.name != "payload" {
				t.Fatal("damaged chunk reads")
			}
			recs, gaps, _ := scanLog(c, all[i].off, num)
			if len(gaps) == 0 || gaps[0].off != all[i].off {
				t.Fatalf("gaps %+v; want one at the damaged record's offset %d", gaps, all[i].off)
			}
			if len(recs) != len(all)-i-1 || recs[0].off != all[i+1].off {
				t.Fatalf("%d records found after the damage, first at %d; want %d, first at %d", len(recs), recs[0].off, len(all)-i-1, all[i+1].off)
			}
		})
	}
}

func TestDecodeBatchRejectsBadBytes(t *testing.T) {
	good := binary.LittleEndian.AppendUint64(nil, 9)
	good = binary.LittleEndian.AppendUint32(good, 1)
	good = append(good, byte(pebble.InternalKeyKindSet), 2, 'a', 'b', 1, 'v')
	if wb, err := decodeBatch(good); err != nil || wb.seq != 9 || len(wb.ops) != 1 || string(wb.ops[0].Value) != "v" {
		t.Fatalf("decodeBatch(good) = %+v, %v", wb, err)
	}
	for _, bad := range [][]byte{good[:11], good[:len(good)-1], append(slices.Clone(good[:12]), 0xfe, 1, 'a'), append(slices.Clone(good[:12]), 1, 0xff, 0xff, 0xff, 0xff, 0xff)} {
		if _, err := decodeBatch(bad); err == nil {
			t.Errorf("decodeBatch(%x) succeeded", bad)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte{9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2, 'a', 'b', 1, 'v'})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 15, 1, 'a', 1, 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		wb, err := decodeBatch(b)
		if err == nil && len(b) < 12 {
			t.Fatalf("decoded %d bytes: %+v", len(b), wb)
		}
	})
}

func FuzzScanLog(f *testing.F) {
	b, num := walLogBytes(f, 3)
	f.Add(b[:min(len(b), 4096)], int64(0))
	f.Add(b[:min(len(b), 4096)], int64(5))
	f.Fuzz(func(t *testing.T, b []byte, off int64) {
		if off < 0 || off > int64(len(b)) {
			return
		}
		recs, gaps, tail := scanLog(b, off, num)
		for _, r := range recs {
			if r.off < off || r.end > int64(len(b)) || r.off >= r.end {
				t.Fatalf("record %d..%d outside %d..%d", r.off, r.end, off, len(b))
			}
		}
		for _, g := range gaps {
			if g.off < off || g.end > int64(len(b)) || g.off > g.end {
				t.Fatalf("gap %+v outside %d..%d", g, off, len(b))
			}
		}
		if tail != nil && (tail.off < off || tail.end != int64(len(b))) {
			t.Fatalf("tail %+v", tail)
		}
		damageProblem(b, off, num)
	})
}

// TestPebbleCorruptionNamesDamagedLog: when Pebble itself fails on a
// damaged log (an older one it still needs), the error names the log
// the scan found damaged, and wraps posting.ErrCorrupt.
func TestPebbleCorruptionNamesDamagedLog(t *testing.T) {
	b, num := walLogBytes(t, 10)
	p := filepath.Join(t.TempDir(), fmt.Sprintf("%06d.log", num))
	recs, _, _ := scanLog(b, 0, num)
	b[recs[2].off+20] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	logs := []logScan{{num: uint64(num), path: p, damaged: true, off: recs[2].off, err: errors.New("pebble/record: invalid chunk")}, {num: uint64(num) + 1}}
	err := pebbleOpenError("dir", logs, fmt.Errorf("replay: %w", pebble.ErrCorruption))
	var de *WALDamageError
	if !errors.As(err, &de) || de.File != p || de.Offset != recs[2].off || !errors.Is(err, posting.ErrCorrupt) || !errors.Is(err, pebble.ErrCorruption) {
		t.Fatalf("pebbleOpenError = %v; want a WALDamageError at offset %d of %s", err, recs[2].off, p)
	}
	if err := pebbleOpenError("dir", nil, errors.New("disk full")); errors.Is(err, posting.ErrCorrupt) {
		t.Fatalf("an I/O error became ErrCorrupt: %v", err)
	}
}
