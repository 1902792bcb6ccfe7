// Package vectors keeps the stored vectors of an index: what Get returns
// and what pre-filtered and tenant searches score exactly. The vectors of
// an offline build are rows of File, row i for id i, in the index's
// element type, in blocks of about 4 KiB with a checksum each (format.go),
// verified by every read; an upserted vector is a record ('v' id, package
// internal/keys) in the posting store, which takes precedence.
//
// A Store is safe for concurrent use; its reads return copies.
package vectors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
)

// File is the build's vectors file in an index directory.
const File = "vectors.dat"

// KV is what a Store reads of the posting store's records.
type KV interface {
	Get(key []byte) ([]byte, error)
	GetSorted(keys [][]byte, fn func(i int, value []byte) error) error
}

// Store reads the stored vectors of one index.
type Store struct {
	dir      string
	f        *os.File // nil for an index created empty
	l        layout   // of f
	count    uint64   // ids [0, count) are the build's rows
	rowBytes int
	kv       KV
	notFound error  // kv's error for a missing key
	dio      direct // direct reads for rerank (direct.go)
}

// Open opens the stored vectors of the index in dir: count build rows of
// rowBytes bytes (File must hold exactly those; none when count is 0),
// and the records of kv, which returns notFound for a missing key.
func Open(dir string, count, rowBytes int, kv KV, notFound error) (*Store, error) {
	s := &Store{dir: dir, count: uint64(count), rowBytes: rowBytes, kv: kv, notFound: notFound}
	if count == 0 {
		return s, nil
	}
	path := filepath.Join(dir, File)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.Corrupt, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if s.l, err = readLayout(f, fi.Size(), uint64(count), rowBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	s.f = f
	return s, nil
}

// Checksummed reports whether the build's rows carry checksums: false
// for a vectors file of version 0 (and for an index without one).
func (s *Store) Checksummed() bool { return s.f != nil && s.l.version > 0 }

// Close releases the file. A nil Store is closed.
func (s *Store) Close() error {
	if s == nil || s.f == nil {
		return nil
	}
	s.closeDirect()
	return s.f.Close()
}

// Built reads the build-time row of id (< count) into row.
func (s *Store) Built(id uint64, row []byte) error {
	b, base, err := s.span(id, id, nil)
	if err != nil {
		return err
	}
	copy(row, b[s.l.rowOff(id)-base:])
	return nil
}

// span reads the bytes that hold the build's rows lo..hi (lo ≤ hi <
// count) into buf (grown as needed), checks their blocks' checksums and
// returns them with the file offset they start at.
func (s *Store) span(lo, hi uint64, buf []byte) ([]byte, int64, error) {
	if s.f == nil {
		return nil, 0, fmt.Errorf("%w: %s has no %s", errs.Corrupt, s.dir, File)
	}
	start, end := s.l.spanStart(lo), s.l.spanEnd(hi)
	if int64(cap(buf)) < end-start {
		buf = make([]byte, end-start)
	}
	b := buf[:end-start]
	if _, err := s.f.ReadAt(b, start); err != nil {
		return nil, 0, fmt.Errorf("%w: %s: rows %d..%d: %v", errs.Corrupt, File, lo, hi, err)
	}
	if s.l.version > 0 {
		if err := s.l.checkBlocks(b, lo/s.l.blockRows); err != nil {
			return nil, 0, err
		}
	}
	return b, start, nil
}

// Rows returns the stored vectors of ids (distinct and live), in
// the element type, row after row: upserted records read in id order with
// one iterator, the others from the build's rows.
func (s *Store) Rows(ids []uint64) ([]byte, error) {
	rb := s.rowBytes
	rows := make([]byte, len(ids)*rb)
	order, ks := keys.SortedIDs(keys.Vector, ids)
	found := make([]bool, len(ids))
	err := s.kv.GetSorted(ks, func(j int, v []byte) error {
		i := order[j]
		if len(v) != rb {
			return fmt.Errorf("%w: vector record of id %d holds %d bytes, want %d", errs.Corrupt, ids[i], len(v), rb)
		}
		copy(rows[i*rb:], v)
		found[i] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, i := range order {
		if found[i] {
			continue
		}
		if ids[i] >= s.count {
			return nil, fmt.Errorf("id %d: %w", ids[i], errs.NotFound)
		}
		if err := s.Built(ids[i], rows[i*rb:(i+1)*rb]); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// Row returns the stored vector of id, in the element type: its
// upserted record, else the build's row.
func (s *Store) Row(id uint64) ([]byte, error) {
	row, err := s.kv.Get(keys.ID(keys.Vector, id))
	switch {
	case errors.Is(err, s.notFound) && id < s.count:
		row = make([]byte, s.rowBytes)
		err = s.Built(id, row)
	case errors.Is(err, s.notFound):
		// Deleted between the state check and the read.
		return nil, fmt.Errorf("id %d: %w", id, errs.NotFound)
	}
	if err != nil {
		return nil, err
	}
	if len(row) != s.rowBytes {
		return nil, fmt.Errorf("%w: vector %d has %d bytes, want %d", errs.Corrupt, id, len(row), s.rowBytes)
	}
	return row, nil
}

const (
	// spanMax and gapMax shape the reads of build rows for pre-filtering:
	// rows of ascending ids are read in one pread while they span at most
	// spanMax bytes with gaps of at most gapMax bytes between them. A read
	// call costs about as much as copying 8 KiB from the page cache.
	spanMax = 64 << 10
	gapMax  = 8 << 10
)

// Reader reads the stored vectors of ascending ids for pre-filtering:
// upserted records from the store with one iterator, build rows from
// File with neighbouring rows coalesced into one read.
type Reader struct {
	keys  [][]byte
	found []bool
	rows  []byte
	span  []byte
	ids   []uint64
	vers  []uint8
	Bytes int64 // read so far, records and rows
}

// Read returns the rows of ids (ascending, at versions vers), leaving out
// ids deleted since their state was read, with their ids and versions.
func (r *Reader) Read(s *Store, ids []uint64, vers []uint8) ([]byte, []uint64, []uint8, error) {
	rb := s.rowBytes
	n := len(ids)
	rows, err := r.records(s, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	count := s.count
	for i := 0; i < n; {
		if r.found[i] || ids[i] >= count {
			i++
			continue
		}
		// A span of build rows [ids[i], ids[j-1]].
		j := i + 1
		for j < n && !r.found[j] && ids[j] < count &&
			int(ids[j]-ids[i]+1)*rb <= spanMax && int(ids[j]-ids[j-1])*rb <= gapMax {
			j++
		}
		lo := ids[i]
		span, base, err := s.span(lo, ids[j-1], r.span)
		if err != nil {
			return nil, nil, nil, err
		}
		r.span = span
		r.Bytes += int64(len(span))
		for x := i; x < j; x++ {
			off := s.l.rowOff(ids[x]) - base
			copy(rows[x*rb:(x+1)*rb], span[off:])
		}
		for x := i; x < j; x++ {
			r.found[x] = true
		}
		i = j
	}
	return r.keepFound(s, rows, ids, vers)
}

// none sizes r for ids, none found, and returns their rows (len(ids)).
func (r *Reader) none(s *Store, ids []uint64) []byte {
	n, rb := len(ids), s.rowBytes
	r.found = append(r.found[:0], make([]bool, n)...)
	if cap(r.rows) < n*rb {
		r.rows = make([]byte, n*rb)
	}
	return r.rows[:n*rb]
}

// records sizes r for ids and reads their upserted records into the rows
// it returns (len(ids) rows), marking them found.
func (r *Reader) records(s *Store, ids []uint64) ([]byte, error) {
	rb := s.rowBytes
	rows := r.none(s, ids)
	r.keys = r.keys[:0]
	for _, id := range ids {
		r.keys = append(r.keys, keys.ID(keys.Vector, id))
	}
	err := s.kv.GetSorted(r.keys, func(i int, v []byte) error {
		if len(v) != rb {
			return fmt.Errorf("%w: vector record of id %d holds %d bytes, want %d", errs.Corrupt, ids[i], len(v), rb)
		}
		copy(rows[i*rb:], v)
		r.found[i] = true
		r.Bytes += int64(rb)
		return nil
	})
	return rows, err
}

// keepFound returns the rows, ids and versions of the ids found: ids past
// the build without a record were deleted meanwhile.
func (r *Reader) keepFound(s *Store, rows []byte, ids []uint64, vers []uint8) ([]byte, []uint64, []uint8, error) {
	rb := s.rowBytes
	m := 0
	r.ids, r.vers = r.ids[:0], r.vers[:0]
	for i := range ids {
		if !r.found[i] {
			continue
		}
		if m != i {
			copy(rows[m*rb:(m+1)*rb], rows[i*rb:(i+1)*rb])
		}
		r.ids, r.vers = append(r.ids, ids[i]), append(r.vers, vers[i])
		m++
	}
	return rows[:m*rb], r.ids, r.vers, nil
}
