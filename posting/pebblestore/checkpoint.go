package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/internal/filecopy"
)

// Checkpoints: a copy of a store as of one point in its history (the
// cut), taken while it serves reads and writes, in a directory that Open
// opens as a store of its own.
//
// The cut. For a store of its own it is Pebble's checkpoint
// (pebble.DB.Checkpoint with a flushed WAL): the sstables hard-linked,
// the MANIFEST copied up to the current version, the write-ahead logs
// copied; it holds every batch committed before it began and possibly
// some committed while it ran, each whole (a batch is one log record; a
// copy that ends inside a record leaves a torn tail, which replay drops).
// For a namespace of a shared DB it is a Pebble snapshot, taken in
// microseconds: the namespace's records as of that instant are then
// written, prefix removed, to sstables that a new database in the
// checkpoint ingests (tables.go). Other namespaces' records never enter
// the checkpoint.
//
// The segments. A committed batch's posting bytes were synced before its
// commit, so every posting the cut's directory names lies in bytes that
// were written before the cut, in a segment that existed then. From
// before the cut until every segment is linked, segment deletion is
// pinned (pinSegments: deleteDead only notes what it would delete), so
// none of those files can go; the segments are listed after the cut.
// Sealed segments (no writer: never written again) are hard-linked; a
// segment still being appended to (the active one, or one an open batch
// writes) is copied up to its length when listed (less what is reserved
// but not yet written), which covers every posting committed before the
// cut (bytes past a posting are garbage to
// the directory, as in any segment). Segments created after the cut come
// along as orphans, which the checkpoint's first Open deletes.
//
// Durability: every file copied is synced, links are made durable by
// the directory's sync, and Pebble syncs what it writes. The caller
// writes the checkpoint to a temporary name and renames it once
// complete (package index does).

// CheckpointOptions configure Store.Checkpoint. The zero value is usable.
type CheckpointOptions struct {
	// Cut, when set, is called with the function that takes the cut, and
	// must call it once and return its error. It may hold the caller's
	// own locks around it, for as long as take runs: microseconds for a
	// namespace of a shared DB (a Pebble snapshot); Pebble's checkpoint
	// (links and copies of the database's files, milliseconds) for a
	// store of its own. The server keeps a collection's writers out
	// around it, to record the collection's tenants at the cut.
	Cut func(take func() error) error
}

// Checkpoint writes a checkpoint of the store to dst, which must not
// exist: a directory that Open opens as a store of its own, holding the
// store as of one point in its history (see above), its segment files
// linked or copied. It returns how long taking the cut took (the only
// step that other calls of the store may wait on). Reads and writes go
// on meanwhile; segments left dead meanwhile are deleted when it
// returns.
func (s *Store) Checkpoint(dst string, o *CheckpointOptions) (cut time.Duration, err error) {
	if err := s.healthErr(); err != nil {
		return 0, err
	}
	if _, err := os.Lstat(dst); err == nil {
		return 0, fmt.Errorf("pebblestore: checkpoint: %s exists", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("pebblestore: checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dst)
		}
	}()
	unpin := s.pinSegments()
	defer unpin()
	var snap *pebble.Snapshot
	take := func() error {
		t0 := time.Now()
		defer func() { cut = time.Since(t0) }()
		if s.shared == nil {
			// WithFlushedWAL: batches committed without a sync are in the
			// log before the copy starts.
			if err := s.db.Checkpoint(dst, pebble.WithFlushedWAL()); err != nil {
				return fmt.Errorf("pebblestore: checkpoint: %w", pebbleErr(err))
			}
			return nil
		}
		snap = s.db.NewSnapshot()
		return nil
	}
	if o != nil && o.Cut != nil {
		err = o.Cut(take)
	} else {
		err = take()
	}
	if snap != nil {
		defer snap.Close()
	}
	if err != nil {
		return cut, err
	}
	if snap == nil && s.shared != nil {
		return cut, errors.New("pebblestore: checkpoint: CheckpointOptions.Cut did not take the cut")
	}
	if s.shared != nil {
		if err := os.Mkdir(dst, 0o755); err != nil {
			return cut, fmt.Errorf("pebblestore: checkpoint: %w", err)
		}
	}
	open, err := s.linkSegments(dst)
	defer func() {
		for _, f := range open {
			f.file.Close()
		}
	}()
	if err != nil {
		return cut, err
	}
	unpin()
	for _, f := range open {
		// The length includes space reserved by batches still writing,
		// which may not be written yet: garbage to the cut, whose
		// postings were all written and synced before it.
		fi, err := f.file.Stat()
		if err != nil {
			return cut, fmt.Errorf("pebblestore: checkpoint: %w", err)
		}
		if err := filecopy.CopyN(f.file, min(f.size, fi.Size()), filepath.Join(dst, filepath.Base(f.file.Name()))); err != nil {
			return cut, fmt.Errorf("pebblestore: checkpoint: %w", err)
		}
	}
	if snap != nil {
		if err := s.exportNamespace(snap, dst); err != nil {
			return cut, err
		}
	}
	if err := filecopy.SyncDir(dst); err != nil {
		return cut, fmt.Errorf("pebblestore: checkpoint: %w", err)
	}
	return cut, nil
}

// openSegment is a segment file a checkpoint copies: open, and the bytes
// to copy.
type openSegment struct {
	file *os.File
	size int64
}

// linkSegments hard-links the store's sealed segments into dst and opens
// the others (those still written to), returning them with their length
// now. The caller has pinned the segments.
func (s *Store) linkSegments(dst string) ([]openSegment, error) {
	type seg struct {
		path   string
		size   int64
		sealed bool
	}
	var segs []seg
	s.appendMu.Lock()
	s.mu.RLock()
	for _, sg := range s.mu.files {
		segs = append(segs, seg{path: sg.path, size: sg.size.Load(), sealed: sg.w == nil})
	}
	s.mu.RUnlock()
	s.appendMu.Unlock()
	var open []openSegment
	for _, sg := range segs {
		if sg.sealed {
			if _, err := filecopy.LinkOrCopy(sg.path, filepath.Join(dst, filepath.Base(sg.path))); err != nil {
				return open, fmt.Errorf("pebblestore: checkpoint: %w", err)
			}
			continue
		}
		f, err := os.Open(sg.path)
		if err != nil {
			return open, fmt.Errorf("pebblestore: checkpoint: %w", err)
		}
		open = append(open, openSegment{file: f, size: sg.size})
	}
	return open, nil
}

// pinSegments stops segment deletion until unpin is called (once or more:
// later calls do nothing); the last unpin deletes the segments that died
// meanwhile.
func (s *Store) pinSegments() (unpin func()) {
	s.appendMu.Lock()
	s.pins++
	s.appendMu.Unlock()
	done := false
	return func() {
		if done {
			return
		}
		done = true
		s.appendMu.Lock()
		s.pins--
		var dead []uint32
		if s.pins == 0 {
			dead, s.pinnedDead = s.pinnedDead, nil
		}
		s.appendMu.Unlock()
		// Not known to be durable: deleteDead syncs the WAL first.
		s.deleteDead(dead, false)
	}
}

// exportNamespace writes the namespace's records as of snap, without the
// namespace prefix, into a new database in dst.
func (s *Store) exportNamespace(snap *pebble.Snapshot, dst string) error {
	var io directio.Stats
	db, err := openPebble(dst, &io, 1<<20, new(health))
	if err != nil {
		return fmt.Errorf("pebblestore: checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(dst, ".export-")
	if err != nil {
		db.Close()
		return fmt.Errorf("pebblestore: checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp)
	strip := len(s.ns)
	newIter := func(lo, hi []byte) (*pebble.Iterator, error) {
		return snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	}
	paths, err := exportRange(s.db.DB, s.ns, prefixEnd(s.ns), newIter, tmp, tableWriterOptions(db.TableFormat()), func(dst, k []byte) []byte {
		return append(dst, k[strip:]...)
	})
	if err == nil && len(paths) > 0 {
		err = db.Ingest(context.Background(), paths)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pebblestore: checkpoint: %w", err)
	}
	return nil
}
