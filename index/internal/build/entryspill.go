package build

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// The assignment table (one entry per posting entry, 2–3 per vector) is
// the part of a build that grows with n. It stays in memory while its
// entries, and the copy that groups them by posting, fit
// Options.AssignMemory; past that the build spills it: the entries go to
// bucket files in the index directory (EntryDir), each bucket the entries
// of a contiguous range of posting ids, and the write stage reads the
// buckets back one at a time, in posting order, caps their postings and
// writes them. Peak memory is then one bucket (about AssignMemory / 4)
// instead of the whole table; disk holds 13 bytes per entry until the
// write ends.

// EntryDir is the directory, in the index directory, that holds a
// spilled assignment table while the build runs.
const EntryDir = "build-entries"

// memEntryBytes is what an entry costs in memory: the entry, and its
// copy in the table grouped by posting (capPostings).
const memEntryBytes = 2 * 16

// diskEntryBytes is one spilled entry: posting u32, id u32, distance f32,
// primary u8, little-endian.
const diskEntryBytes = 13

// entrySpill is a spilled assignment table. add is safe for concurrent
// use.
type entrySpill struct {
	dir    string
	per    int // posting ids per bucket
	files  []*spillFile
	counts []atomic.Int64
}

// spillState decides when the assign stage spills: entries counts those
// held in memory, rows the vectors assigned; once spilling starts, spill
// is set and every worker flushes to it.
type spillState struct {
	budget  int64 // bytes; 0: never spill
	entries atomic.Int64
	rows    atomic.Int64
	once    sync.Once
	err     error
	spill   atomic.Pointer[entrySpill]
}

// note records that a worker holds added more entries for rows more
// vectors, and returns the spill to flush them to if the table no longer
// fits (starting it on the first call past the budget).
func (b *builder) noteEntries(added, rows int) (*entrySpill, error) {
	st := &b.spillState
	if s := st.spill.Load(); s != nil {
		return s, nil
	}
	e := st.entries.Add(int64(added))
	r := st.rows.Add(int64(rows))
	if st.budget <= 0 || e*memEntryBytes <= st.budget {
		return nil, nil
	}
	st.once.Do(func() {
		// Buckets of about a quarter of the budget, for the whole table
		// as the entries per vector so far predict it.
		total := float64(e) / float64(max(r, 1)) * float64(b.n) * 1.1
		buckets := max(1, int(math.Ceil(total*memEntryBytes/float64(st.budget/4))))
		heads := b.tree.NumLeaves()
		per := max(1, (heads+buckets-1)/buckets)
		var s *entrySpill
		s, st.err = newEntrySpill(filepath.Join(b.dir, EntryDir), per, (heads+per-1)/per)
		if st.err == nil {
			b.logf("build: the assignment table passes %d MiB at %d entries: spilling it to %d buckets of %d postings",
				st.budget>>20, e, len(s.files), per)
			st.spill.Store(s)
		}
	})
	return st.spill.Load(), st.err
}

func newEntrySpill(dir string, per, buckets int) (*entrySpill, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("shoal: %w", err)
	}
	s := &entrySpill{dir: dir, per: per, files: make([]*spillFile, buckets), counts: make([]atomic.Int64, buckets)}
	for k := range s.files {
		f, err := os.Create(s.name(k))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("shoal: %w", err)
		}
		s.files[k] = &spillFile{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	}
	return s, nil
}

func (s *entrySpill) name(k int) string {
	return filepath.Join(s.dir, fmt.Sprintf("bucket-%06d", k))
}

// add appends es to their buckets.
func (s *entrySpill) add(es []entry) error {
	if len(es) == 0 {
		return nil
	}
	byBucket := make(map[int][]byte)
	for _, e := range es {
		k := int(e.posting) / s.per
		rec := byBucket[k]
		rec = binary.LittleEndian.AppendUint32(rec, e.posting)
		rec = binary.LittleEndian.AppendUint32(rec, e.id)
		rec = binary.LittleEndian.AppendUint32(rec, math.Float32bits(e.dist))
		p := byte(0)
		if e.primary {
			p = 1
		}
		byBucket[k] = append(rec, p)
	}
	for k, rec := range byBucket {
		sf := s.files[k]
		sf.mu.Lock()
		_, err := sf.w.Write(rec)
		sf.mu.Unlock()
		if err != nil {
			return fmt.Errorf("shoal: spill: %w", err)
		}
		s.counts[k].Add(int64(len(rec) / diskEntryBytes))
	}
	return nil
}

// finish flushes and closes the bucket files.
func (s *entrySpill) finish() error {
	var err error
	for _, sf := range s.files {
		if ferr := sf.w.Flush(); ferr != nil && err == nil {
			err = fmt.Errorf("shoal: spill: %w", ferr)
		}
	}
	if cerr := s.close(); err == nil {
		err = cerr
	}
	return err
}

func (s *entrySpill) close() error { return closeSpills(s.files) }

// read returns the entries of bucket k, in no particular order.
func (s *entrySpill) read(k int) ([]entry, error) {
	name := s.name(k)
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("shoal: %w", err)
	}
	defer f.Close()
	n := s.counts[k].Load()
	out := make([]entry, n)
	r := bufio.NewReaderSize(f, 1<<20)
	var rec [diskEntryBytes]byte
	lo, hi := uint32(k*s.per), uint32((k+1)*s.per)
	for i := range out {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return nil, fmt.Errorf("shoal: read %s entry %d of %d: %w", name, i, n, err)
		}
		e := entry{
			posting: binary.LittleEndian.Uint32(rec[0:]),
			id:      binary.LittleEndian.Uint32(rec[4:]),
			dist:    math.Float32frombits(binary.LittleEndian.Uint32(rec[8:])),
			primary: rec[12] == 1,
		}
		if e.posting < lo || e.posting >= hi {
			return nil, fmt.Errorf("shoal: %s entry %d: posting %d outside the bucket's %d..%d", name, i, e.posting, lo, hi)
		}
		out[i] = e
	}
	return out, nil
}
