package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/wal"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/posting"
)

// Checking the write-ahead log before Pebble replays it.
//
// Pebble replays each log up to the first record it cannot read. In the
// newest log it then drops the rest without an error: the rest may be a
// torn tail, writes in flight when the machine stopped, never
// acknowledged. But damage to a record that was synced (a flipped or
// zeroed byte, a bad sector, a cut file) looks the same to it, and every
// acknowledged write logged from there on is gone without a trace. So
// before Pebble opens, the store reads the logs itself and refuses to
// open, with a WALDamageError, where the newest log is unreadable before
// a record known to be synced:
//
//   - known from the log: a later chunk says the log was synced past the
//     damage (Pebble writes the offset it had synced to into every chunk
//     header from format FormatWALSyncChunks on; Pebble's own reader then
//     fails too);
//   - known from the WAL mark (walmark.go): the last batch whose sync
//     completed, if it is not flushed, must be in a log and readable.
//
// Damage in an older log that Pebble still needs makes Pebble fail (it
// expects older logs to end cleanly); the store then names the damaged
// log the same way. Damage in an older log that Pebble no longer needs
// (flushed, kept to be recycled) loses nothing and is ignored.

// WALDamageError reports a write-ahead log that cannot be replayed up to
// its last synced record, so that replaying it would drop acknowledged
// writes. It wraps posting.ErrCorrupt and the index's ErrCorrupt.
type WALDamageError struct {
	// File is the log's path; Offset the byte offset of the first record
	// that cannot be read (a chunk header starts there, or should).
	File   string
	Offset int64
	// Problem says what is wrong there, Evidence why the bytes from
	// there on held synced writes and are not a torn tail.
	Problem  string
	Evidence string
	// AtRisk says which writes replaying would drop.
	AtRisk string
	// Err is the error Pebble returned, if it was Pebble that failed.
	Err error
}

func (e *WALDamageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: write-ahead log %s is damaged at offset %d (%s) before its last synced record (%s): replaying it would drop %s",
		errs.Corrupt, e.File, e.Offset, e.Problem, e.Evidence, e.AtRisk)
	if e.Err != nil {
		fmt.Fprintf(&b, " (pebble: %v)", e.Err)
	}
	return b.String()
}

// Unwrap returns the sentinels the error wraps.
func (e *WALDamageError) Unwrap() []error {
	if e.Err == nil {
		return []error{errs.Corrupt, posting.ErrCorrupt}
	}
	return []error{errs.Corrupt, posting.ErrCorrupt, e.Err}
}

// logScan is what reading one log with Pebble's reader found.
type logScan struct {
	num  uint64
	path string
	// batches counts the batches read; first and last are the sequence
	// numbers of the first batch and past the last one (0 if none).
	batches     int
	first, last uint64
	// synced is set if the batch holding the mark's synced sequence
	// number was read.
	synced bool
	// damaged is set if reading stopped before the end of the log: at
	// offset off, with Pebble's reader's error err. proven is set if the
	// reader proved it damage (a later chunk says the log was synced
	// past it) rather than a possible torn tail.
	damaged bool
	off     int64
	err     error
	proven  bool
}

// scanLogs reads every log in dir, oldest first, as Pebble's replay would.
func scanLogs(dir string, synced uint64) ([]logScan, error) {
	logs, err := wal.Scan(wal.Dir{FS: vfs.Default, Dirname: dir})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: list write-ahead logs: %w", err)
	}
	out := make([]logScan, 0, len(logs))
	for _, ll := range logs {
		_, path := ll.SegmentLocation(0)
		sc := logScan{num: uint64(ll.Num), path: path}
		if err := sc.read(ll, synced); err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

func (sc *logScan) read(ll wal.LogicalLog, synced uint64) error {
	r := ll.OpenForRead()
	defer r.Close()
	var h [12]byte
	for {
		rec, off, err := r.NextRecord()
		if err == nil {
			_, err = io.ReadFull(rec, h[:])
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case isInvalidRecord(err), pebble.IsCorruptionError(err):
			sc.damaged, sc.off, sc.err = true, off.Physical, err
			if off.PhysicalFile != "" {
				sc.path = off.PhysicalFile
			}
			sc.proven = errors.Is(err, record.ErrInvalidChunk) || errors.Is(err, record.ErrZeroedChunk)
			return nil
		case err != nil:
			return fmt.Errorf("pebblestore: read write-ahead log %s: %w", sc.path, err)
		}
		seq, count := binary.LittleEndian.Uint64(h[:]), uint64(binary.LittleEndian.Uint32(h[8:]))
		if sc.batches == 0 {
			sc.first = seq
		}
		sc.batches++
		sc.last = seq + count
		if seq <= synced && synced < seq+count {
			sc.synced = true
		}
	}
}

// checkLogs returns a WALDamageError if replaying logs would drop a
// batch known to be synced. m is the WAL mark (zero if there is none).
func checkLogs(dir string, logs []logScan, m markState) error {
	atRisk := m.synced > m.flushed
	found := false
	for _, l := range logs {
		found = found || l.synced
	}
	if len(logs) > 0 {
		newest := &logs[len(logs)-1]
		switch {
		case newest.damaged && newest.proven:
			return newest.damageError("a later record of the log says the log was synced past this offset", nil)
		case newest.damaged && atRisk && !found:
			return newest.damageError(fmt.Sprintf("the WAL mark says the batch with sequence number %d was synced, and it lies past the damage", m.synced), nil)
		}
	}
	if !atRisk || found {
		return nil
	}
	for i := range logs {
		if logs[i].damaged {
			return logs[i].damageError(fmt.Sprintf("the WAL mark says the batch with sequence number %d was synced, and no log holds it intact", m.synced), nil)
		}
	}
	// Every log reads to its end, and none holds the batch.
	e := &WALDamageError{
		File:     filepath.Join(dir, "*.log"),
		Problem:  "no log holds the batch",
		Evidence: fmt.Sprintf("the WAL mark says the batch with sequence number %d was synced and not flushed", m.synced),
		AtRisk:   fmt.Sprintf("the acknowledged writes from sequence number %d on (a log file was deleted or cut short)", m.flushed+1),
	}
	if len(logs) > 0 {
		l := logs[len(logs)-1]
		e.File = l.path
		if fi, err := os.Stat(l.path); err == nil {
			e.Offset = fi.Size()
		}
		e.Problem = "the log ends there, before the synced batch"
	}
	return e
}

// damageError describes the damage of log l: what is wrong at the damaged
// offset, and what replaying the log would drop, from a scan of the rest
// of the log.
func (l *logScan) damageError(evidence string, pebbleErr error) *WALDamageError {
	e := &WALDamageError{File: l.path, Offset: l.off, Evidence: evidence, Err: pebbleErr}
	e.Problem = l.err.Error()
	b, err := os.ReadFile(l.path)
	if err != nil {
		e.AtRisk = fmt.Sprintf("every write logged from offset %d on (the rest of the log could not be read: %v)", l.off, err)
		return e
	}
	e.Problem = damageProblem(b, l.off, uint32(l.num))
	recs, gaps, _ := scanLog(b, l.off, uint32(l.num))
	var batches, undecodable int
	var lo, hi uint64
	for _, r := range recs {
		wb, err := decodeBatch(r.payload)
		if err != nil {
			undecodable++
			continue
		}
		if wb.count == 0 {
			continue // a sync marker
		}
		if batches == 0 {
			lo = wb.seq
		}
		batches++
		hi = wb.seq + uint64(wb.count) - 1
	}
	var s strings.Builder
	fmt.Fprintf(&s, "every write logged from offset %d on: the damaged record (its contents are unknown)", l.off)
	if len(gaps) > 0 && gaps[0].off == l.off {
		gaps = gaps[1:]
	}
	if n := len(gaps); n > 0 {
		fmt.Fprintf(&s, ", %d more unreadable stretch(es)", n)
	}
	if batches > 0 {
		fmt.Fprintf(&s, ", %d intact batch(es) after it (sequence numbers %d to %d)", batches, lo, hi)
	}
	if undecodable > 0 {
		fmt.Fprintf(&s, ", %d record(s) that do not decode", undecodable)
	}
	if l.batches > 0 {
		fmt.Fprintf(&s, "; the %d batch(es) before it (sequence numbers up to %d) are intact", l.batches, l.last-1)
	}
	e.AtRisk = s.String()
	return e
}

// damageProblem says what is wrong with the record at off of log b: the
// first chunk of it that is not intact.
func damageProblem(b []byte, off int64, num uint32) string {
	for first := true; ; first = false {
		off = skipPadding(b, off)
		if off >= int64(len(b)) {
			return "the file ends where a record should start"
		}
		c, err := readChunk(b, off, num)
		if errors.Is(err, errLogEnd) {
			return fmt.Sprintf("the log ends at offset %d, inside the record", off)
		}
		if err != nil {
			if first {
				return err.Error()
			}
			return fmt.Sprintf("chunk at offset %d: %v", off, err)
		}
		if first != (c.pos == posFull || c.pos == posFirst) {
			return fmt.Sprintf("chunk at offset %d is not the continuation of a record", off)
		}
		if c.pos == posFull || c.pos == posLast {
			return "an intact record that does not hold a batch"
		}
		off = c.end
	}
}

// pebbleOpenError wraps an error of pebble.Open: a corruption found
// while replaying a log it needed is named after the first damaged log of
// the scan; other corruption wraps ErrCorrupt. Pebble marks corruption
// with cockroachdb/errors marks, which the standard errors.Is does not
// see (pebble.IsCorruptionError does); a file its MANIFEST names that
// does not exist (a damaged file number, or a deleted table) is damage
// too.
func pebbleOpenError(dir string, logs []logScan, err error) error {
	missing := errors.Is(err, fs.ErrNotExist)
	if !pebble.IsCorruptionError(err) && !missing {
		return fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	if missing {
		return fmt.Errorf("pebblestore: open %s: %w: a file the database refers to is missing: %w", dir, errs.Corrupt, err)
	}
	for i := range logs {
		if logs[i].damaged {
			return logs[i].damageError("an older log, which Pebble still needs, must end cleanly", err)
		}
	}
	return fmt.Errorf("pebblestore: open %s: %w: %w", dir, errs.Corrupt, err)
}
