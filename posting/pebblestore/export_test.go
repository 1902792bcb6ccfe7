package pebblestore

import (
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// OverrideKeys returns the number of directory override keys of s in
// Pebble.
func OverrideKeys(s *Store) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: s.key(prefixOverride, nil),
		UpperBound: s.key(prefixOverride+1, nil),
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		n++
	}
	return n, it.Close()
}

// BeginDrop runs the first step of DB.Drop only, as a crash right after
// it would leave the namespace of dir.
func BeginDrop(d *DB, dir string) error {
	name, err := d.name(dir)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropBegin(name)
}

// SetCompactReadHook sets the hook CompactSegment runs between copying
// postings and committing the move (nil: none).
func SetCompactReadHook(fn func()) { testHookCompactRead = fn }

// IdleReaderBuffers returns the buffers held by the readers on s's free
// list (none should be: buffers go back to their pool after each read).
func IdleReaderBuffers(s *Store) int {
	var idle []*batchReader
	defer func() {
		for _, r := range idle {
			s.putReader(r)
		}
	}()
	n := 0
	for {
		select {
		case r := <-s.readers:
			idle = append(idle, r)
			n += len(r.bufs)
		default:
			return n
		}
	}
}

// SetFSHook sets the wrapper of the file system of every Pebble database
// opened from now on (nil: none).
func SetFSHook(fn func(vfs.FS) vfs.FS) { testHookFS = fn }

// FlushPebble flushes the memtable of s's database to an sstable.
func FlushPebble(s *Store) error { return s.db.Flush() }

// CorruptionReports returns how many corruption reports s's database
// has had.
func CorruptionReports(s *Store) int {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	return s.health.mu.reports
}

// MidKey is midKey, for tests.
var MidKey = midKey
