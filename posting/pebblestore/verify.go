package pebblestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/sstable/block"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/posting"
)

// Verify implements posting.Store. It reads, with its own readers (not
// through the database, so what it finds does not stop the store):
//
//   - every sstable of the database that may hold the store's keys: the
//     checksum of every block, and the footer (its checksum from table
//     format v6 on; before that, Pebble's format at the store's format
//     major version, the zero padding between its handles and version);
//   - the database's logs (write-ahead logs, MANIFEST): every record's
//     checksum up to the last valid record; bytes past it are a log's
//     tail (a write cut short, recycled or preallocated space) and count
//     as unverified, unless a valid record follows them, which makes them
//     damage;
//   - after every posting the directory holds, the zero padding to its
//     page boundary (the postings themselves are the caller's to check:
//     stores do not parse them; Verified.Postings counts their bytes);
//     segment bytes no posting refers to (rewritten and deleted postings,
//     until compaction) count as unverified.
//
// The OPTIONS file has no checksum (Pebble parses it at open).
func (s *Store) Verify(problem func(string) bool) ([]posting.Verified, error) {
	v := &verifier{problem: problem}
	tables, err := s.verifyTables(v)
	if err != nil {
		return nil, err
	}
	logs, opts, err := s.verifyLogs(v)
	if err != nil {
		return nil, err
	}
	segs, err := s.verifySegments(v)
	if err != nil {
		return nil, err
	}
	return []posting.Verified{tables, logs, opts, segs}, nil
}

// verifier passes damage on to the caller's problem function until it
// asks to stop.
type verifier struct {
	problem func(string) bool
	stopped bool
}

func (v *verifier) report(format string, args ...any) {
	if !v.stopped && !v.problem(fmt.Sprintf(format, args...)) {
		v.stopped = true
	}
}

// pebbleDir returns the directory of the store's Pebble database.
func (s *Store) pebbleDir() string {
	if s.shared != nil {
		return s.shared.dir
	}
	return s.dir
}

// holdsKeysOf reports whether a table of keys [smallest, largest] may
// hold keys of the store.
func (s *Store) holdsKeysOf(smallest, largest []byte) bool {
	if len(s.ns) == 0 {
		return true
	}
	return bytes.Compare(smallest, prefixEnd(s.ns)) < 0 && bytes.Compare(largest, s.ns) >= 0
}

// verifyTables verifies the sstables of the current version. A table that
// a compaction deletes before it is read is skipped; its keys are in the
// compaction's outputs, which a later listing holds: tables are listed
// until a listing holds none not yet verified.
func (s *Store) verifyTables(v *verifier) (posting.Verified, error) {
	out := posting.Verified{Kind: "sstables", Note: "damaged tables, or bytes outside the blocks checked"}
	dir := s.pebbleDir()
	seen := make(map[uint64]bool)
	for round := 0; ; round++ {
		if round == 100 {
			return out, errors.New("pebblestore: verify: the tables changed on every listing")
		}
		levels, err := s.db.SSTables()
		if err != nil {
			return out, fmt.Errorf("pebblestore: verify: %w", pebbleErr(err))
		}
		fresh := 0
		for _, level := range levels {
			for _, t := range level {
				num := uint64(t.BackingSSTNum)
				if seen[num] || !s.holdsKeysOf(t.Smallest.UserKey, t.Largest.UserKey) {
					continue
				}
				seen[num] = true
				fresh++
				path := filepath.Join(dir, fmt.Sprintf("%06d.sst", num))
				size, verified, err := verifyTable(path, v)
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					return out, fmt.Errorf("pebblestore: verify %s: %w", path, err)
				}
				out.Files++
				out.Bytes += verified
				out.Unverified += size - verified
			}
		}
		if fresh == 0 {
			return out, nil
		}
	}
}

// verifyTable verifies the sstable at path, reporting damage to v, and
// returns its size and how many of its bytes were verified. Its error is
// a failure to read the file.
func verifyTable(path string, v *verifier) (size, verified int64, err error) {
	f, err := vfs.Default.Open(path)
	if err != nil {
		return 0, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, 0, err
	}
	size = fi.Size()
	readable, err := sstable.NewSimpleReadable(f)
	if err != nil {
		f.Close()
		return 0, 0, err
	}
	// The sstable package parses what the damaged bytes say; a panic of
	// its is damage of this file, not a reason to end the process.
	defer func() {
		if r := recover(); r != nil {
			v.report("sstable %s: %v", path, r)
			verified = 0
		}
	}()
	filter := bloom.FilterPolicy(bloomBits)
	r, err := sstable.NewReader(context.Background(), readable, sstable.ReaderOptions{
		Filters: map[string]sstable.FilterPolicy{filter.Name(): filter},
	})
	if err != nil {
		readable.Close()
		v.report("sstable %s: %v", path, err)
		return size, 0, nil
	}
	defer r.Close()
	l, err := r.Layout()
	if err == nil {
		err = r.ValidateBlockChecksums()
	}
	if err != nil {
		v.report("sstable %s: %v", path, err)
		return size, 0, nil
	}
	// Bytes the checks covered: every block validated (with its trailer)
	// and the footer. Value blocks, which the validation skips, stay
	// unverified (tables of this store's format have none).
	covered := int64(0)
	add := func(h block.Handle) {
		if h.Length > 0 {
			covered += int64(h.Length) + block.TrailerLen
		}
	}
	for _, d := range l.Data {
		add(d.Handle)
	}
	for _, h := range l.Index {
		add(h)
	}
	for _, h := range l.Filter {
		add(h.Handle)
	}
	for _, h := range []block.Handle{l.TopIndex, l.RangeDel, l.RangeKey, l.Properties, l.MetaIndex, l.BlobReferenceIndex} {
		add(h)
	}
	if l.TopIndex.Length > 0 && len(l.Index) > 0 && l.Index[0] == l.TopIndex {
		covered -= int64(l.TopIndex.Length) + block.TrailerLen // a one-level index is listed twice
	}
	footer := make([]byte, l.Footer.Length)
	if err := readable.ReadAt(context.Background(), footer, int64(l.Footer.Offset)); err != nil {
		return size, 0, err
	}
	if msg := checkFooter(footer, l.Format); msg != "" {
		v.report("sstable %s: footer: %s", path, msg)
		return size, 0, nil
	}
	covered += int64(len(footer))
	if covered > size {
		return size, 0, fmt.Errorf("blocks of %d bytes in a file of %d", covered, size)
	}
	return size, covered, nil
}

// checkFooter checks the parts of an sstable footer that no checksum
// covers in table formats before v6 (whose footers carry one, checked
// when the table is opened): the footer is a checksum type byte (none in
// the LevelDB format), the metaindex and index block handles (four
// varints, which the block checksums verify by pointing at valid
// blocks), zero padding to a fixed length, then the version and magic
// (which the reader checked). It returns what is wrong, or "".
func checkFooter(b []byte, format sstable.TableFormat) string {
	if format >= sstable.TableFormatPebblev6 {
		return ""
	}
	start, end := 1, 1+2*2*binary.MaxVarintLen64 // type byte, two handles
	if format == sstable.TableFormatLevelDB {
		start, end = 0, 2*2*binary.MaxVarintLen64
	}
	if len(b) < end {
		return fmt.Sprintf("%d bytes", len(b))
	}
	off := start
	for range 4 {
		_, n := binary.Uvarint(b[off:end])
		if n <= 0 {
			return "bad block handle"
		}
		off += n
	}
	for i := off; i < end; i++ {
		if b[i] != 0 {
			return fmt.Sprintf("padding byte %d is %#x, want 0", i, b[i])
		}
	}
	return ""
}

// verifyLogs verifies the database's write-ahead logs and MANIFEST
// files, and accounts for its OPTIONS file.
func (s *Store) verifyLogs(v *verifier) (logs, opts posting.Verified, err error) {
	logs = posting.Verified{Kind: "pebble logs", Note: "after the last valid record of a log (a tail cut short, recycled or preallocated space, or damage)"}
	opts = posting.Verified{Kind: "pebble options", Note: "no checksum (Pebble parses the file at open)"}
	dir := s.pebbleDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return logs, opts, fmt.Errorf("pebblestore: verify: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, "OPTIONS-") {
			if fi, err := e.Info(); err == nil {
				opts.Files++
				opts.Unverified += fi.Size()
			}
			continue
		}
		logNum, ok := logNumber(name)
		if !ok {
			continue
		}
		size, verified, err := verifyLog(path, logNum, v)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted since the listing
		}
		if err != nil {
			return logs, opts, fmt.Errorf("pebblestore: verify %s: %w", path, err)
		}
		logs.Files++
		logs.Bytes += verified
		logs.Unverified += size - verified
	}
	return logs, opts, nil
}

// logNumber returns the number a record reader of the Pebble log file
// name checks its chunks against: a write-ahead log's number (NNNNNN.log),
// 0 for a MANIFEST (whose records carry none).
func logNumber(name string) (uint64, bool) {
	if strings.HasPrefix(name, "MANIFEST-") {
		return 0, true
	}
	num, ok := strings.CutSuffix(name, ".log")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}

// logBlock is the block size of Pebble's record format: a record reader
// can start at any multiple of it.
const logBlock = 32 << 10

// verifyLog reads every record of the log at path and returns its size
// and the bytes up to the end of its last valid record. Bytes past that
// are damage if a valid record of the same log starts in a later block;
// since the newest log may grow while it is read, such a finding counts
// only if a second reading still ends where the first did.
func verifyLog(path string, logNum uint64, v *verifier) (size, verified int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	good := int64(-1)
	for {
		fi, err := f.Stat()
		if err != nil {
			return 0, 0, err
		}
		size = fi.Size()
		again, err := readRecords(io.NewSectionReader(f, 0, size), logNum)
		if err != nil {
			return size, 0, err
		}
		if again <= good {
			v.report("log %s: damaged record at offset %d (valid records follow)", path, good)
			return size, good, nil
		}
		good = again
		if !validRecordAfter(f, good, size, logNum) {
			return size, good, nil
		}
	}
}

// validRecordAfter reports whether a valid record of the log starts in a
// block after the one holding offset off.
func validRecordAfter(f *os.File, off, size int64, logNum uint64) bool {
	for blk := (off/logBlock + 1) * logBlock; blk < size; blk += logBlock {
		rr := newRecordReader(io.NewSectionReader(f, blk, size-blk), logNum)
		rec, err := rr.Next()
		if err == nil {
			if _, err = io.Copy(io.Discard, rec); err == nil {
				return true
			}
		}
	}
	return false
}

// readRecords reads the records of r until the first that is not valid
// and returns the offset where that one starts. Its error is a failure
// to read, not damage.
func readRecords(r io.Reader, logNum uint64) (int64, error) {
	rr := newRecordReader(r, logNum)
	good := int64(0)
	for {
		rec, err := rr.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, rec)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || isInvalidRecord(err) {
				return good, nil
			}
			return good, err
		}
		good = rr.Offset()
	}
}

// newRecordReader returns a reader of the records of log logNum. Pebble
// types the number with a type of an internal package, which the
// pointer's type names here.
func newRecordReader(r io.Reader, logNum uint64) *record.Reader {
	num := pebble.SSTableInfo{}.BackingSSTNum
	setNum(&num, logNum)
	return record.NewReader(r, num)
}

func setNum[T ~uint64](dst *T, n uint64) { *dst = T(n) }

func isInvalidRecord(err error) bool {
	return errors.Is(err, record.ErrInvalidChunk) || errors.Is(err, record.ErrZeroedChunk) ||
		errors.Is(err, record.ErrUnexpectedEOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// verifySegments checks the zero padding after every posting of the
// directory, reading the page that holds each posting's end. The
// postings themselves are the caller's to verify: stores do not parse
// them.
func (s *Store) verifySegments(v *verifier) (posting.Verified, error) {
	out := posting.Verified{Kind: "segments", Note: "space of rewritten and deleted postings (reclaimed by compaction), or damaged postings"}
	type entry struct {
		id  uint32
		loc location
	}
	s.mu.RLock()
	bySeg := make(map[uint32][]entry)
	for id, l := range s.mu.dir.locs {
		if l.length > 0 {
			bySeg[l.seg] = append(bySeg[l.seg], entry{uint32(id), l})
		}
	}
	segs := make([]*segment, 0, len(s.mu.files))
	for _, sg := range s.mu.files {
		sg.acquire()
		segs = append(segs, sg)
	}
	s.mu.RUnlock()
	defer func() {
		for _, sg := range segs {
			sg.release()
		}
	}()
	slices.SortFunc(segs, func(a, b *segment) int { return int(a.num) - int(b.num) })
	var page []byte
	for _, sg := range segs {
		entries := bySeg[sg.num]
		slices.SortFunc(entries, func(a, b entry) int { return int(a.loc.off) - int(b.loc.off) })
		if page == nil || len(page) < max(sg.file.Align(), pageSize) {
			page = directio.AlignedBuffer(max(sg.file.Align(), pageSize), max(sg.file.Align(), pageSize))
		}
		out.Files++
		referenced := int64(0)
		for _, e := range entries {
			end := int64(e.loc.off) + int64(e.loc.length)
			span := roundUp(end, pageSize) - int64(e.loc.off)
			referenced += span
			out.Postings += int64(e.loc.length)
			if end%pageSize == 0 {
				continue // no padding
			}
			at := end / int64(len(page)) * int64(len(page))
			n, err := sg.file.ReadAt(page, at)
			if err != nil && !errors.Is(err, io.EOF) {
				return out, fmt.Errorf("pebblestore: verify segment %d: %w", sg.num, err)
			}
			sg.file.AfterBatchRead(at, n)
			pad := page[end-at : roundUp(end, pageSize)-at]
			switch {
			case int64(n) < roundUp(end, pageSize)-at:
				v.report("segment %d: posting %d at %d: the file ends before its padding (truncated?)", sg.num, e.id, e.loc.off)
				out.Unverified += int64(len(pad))
			case firstNonZero(pad) >= 0:
				v.report("segment %d: posting %d at %d: padding byte %d is not zero", sg.num, e.id, e.loc.off, int64(e.loc.length)+int64(firstNonZero(pad)))
				out.Unverified += int64(len(pad))
			default:
				out.Bytes += int64(len(pad))
			}
		}
		out.Unverified += max(sg.size.Load()-referenced, 0)
	}
	return out, nil
}

// firstNonZero returns the index of the first byte of b that is not 0, or
// -1.
func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}
