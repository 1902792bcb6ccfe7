package pebblestore

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/shoaldb/shoal/internal/directio"
)

// Segment files. A bulk load writes one new segment; online updates
// (Batch.PutPosting) append to the store's active segment, rotated past
// Options.SegmentBytes. Segment numbers only grow: a number is never used
// twice while the store is open, so a (segment, offset) pair names one
// posting's bytes for as long as the store is open and can tag cache
// entries.
//
// A segment file is deleted once no posting of the directory lives in it
// (its live bytes fell to zero), it is not the active segment and no open
// Batch has written to it. Readers hold a reference (segment.refs) while
// their reads are in flight, so a deleted segment's descriptor is closed
// only after the last of them.

// segment is one segment file open for reads.
type segment struct {
	num  uint32
	path string
	file *directio.ReadFile
	// refs counts the Store's reference (while the segment is in
	// Store.mu.files) plus one per read in flight; the file is closed when
	// it drops to zero. Take a reference only under Store.mu.
	refs atomic.Int32
	// size is the bytes written to the file (its length).
	size atomic.Int64
	// live is the sum of the lengths of the postings the directory places
	// in the segment. Guarded by Store.mu.
	live int64
	// w is the write side while the segment is active or written by an
	// open Batch, else nil. Guarded by Store.appendMu.
	w *segWriter
}

// segWriter is the write side of a segment that online updates append to.
type segWriter struct {
	seg    *segment
	f      *os.File
	direct bool // f has O_DIRECT
	// off is the next free offset. Guarded by Store.appendMu.
	off int64
	// users counts open Batches that wrote to the segment, plus one while
	// it is the active segment; f is closed when it drops to zero.
	// Guarded by Store.appendMu.
	users int
	// written counts the bytes written to segment files (Store.written).
	written *atomic.Int64
}

func (sg *segment) acquire() { sg.refs.Add(1) }

func (sg *segment) release() {
	if n := sg.refs.Add(-1); n == 0 {
		sg.file.Close()
	} else if n < 0 {
		panic(fmt.Sprintf("pebblestore: segment %d released more often than acquired", sg.num))
	}
}

func (s *Store) segmentPath(seg uint32) string {
	return filepath.Join(s.dir, fmt.Sprintf("postings-%06d.seg", seg))
}

// parseSegmentName returns the number of a segment file name.
func parseSegmentName(name string) (uint32, bool) {
	num, ok := strings.CutPrefix(name, "postings-")
	if !ok {
		return 0, false
	}
	num, ok = strings.CutSuffix(num, ".seg")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 32)
	return uint32(n), err == nil
}

// segmentFiles lists the segment files in the data directory.
func (s *Store) segmentFiles() ([]uint32, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	var out []uint32
	for _, e := range entries {
		if n, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// openSegment opens segment num for reads.
func (s *Store) openSegment(num uint32) (*segment, error) {
	path := s.segmentPath(num)
	var f *directio.ReadFile
	var err error
	if s.opts.BufferedIO {
		f, err = directio.OpenBufferedReadFile(path, &s.io)
	} else {
		f, err = directio.OpenReadFile(path, &s.io)
	}
	if err != nil {
		return nil, fmt.Errorf("pebblestore: segment %d: %w", num, err)
	}
	sg := &segment{num: num, path: path, file: f}
	sg.refs.Store(1)
	return sg, nil
}

// allocSegment returns a segment number never used before.
func (s *Store) allocSegment() uint32 {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	n := s.nextSeg
	s.nextSeg++
	return n
}

// reserve reserves span bytes (a multiple of pageSize) in the active
// segment for batch b, rotating the segment when it is past
// Options.SegmentBytes, and registers b as a user of the segment.
func (s *Store) reserve(b *Batch, span int64) (*segWriter, int64, error) {
	s.appendMu.Lock()
	var retired *segment
	if s.active == nil || s.active.off >= s.opts.SegmentBytes {
		w, err := s.newActive()
		if err != nil {
			s.appendMu.Unlock()
			return nil, 0, err
		}
		if old := s.active; old != nil {
			retired = s.leave(old)
		}
		s.active = w
	}
	w := s.active
	off := w.off
	w.off += span
	w.seg.size.Store(w.off)
	if !slices.Contains(b.writers, w) {
		w.users++
		b.writers = append(b.writers, w)
	}
	s.appendMu.Unlock()
	if retired != nil {
		s.deleteDead([]uint32{retired.num}, false)
	}
	return w, off, nil
}

// newActive creates a segment file for online updates and opens it for
// reads and writes. The caller holds appendMu.
func (s *Store) newActive() (*segWriter, error) {
	num := s.nextSeg
	s.nextSeg++
	path := s.segmentPath(num)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	// The file's name must survive a crash before a commit refers to it.
	if err := syncDir(s.dir); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	sg, err := s.openSegment(num)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	w := &segWriter{seg: sg, f: f, users: 1, written: &s.written}
	// Write with O_DIRECT where reads are direct with an alignment that
	// 4 KiB-aligned postings satisfy; otherwise write through the page
	// cache and drop the pages after each sync.
	if oDirect != 0 && sg.file.Direct() && sg.file.Align() <= pageSize {
		if df, err := os.OpenFile(path, os.O_WRONLY|oDirect, 0); err == nil {
			f.Close()
			w.f, w.direct = df, true
		}
	}
	sg.w = w
	s.mu.Lock()
	s.mu.files[num] = sg
	s.mu.Unlock()
	return w, nil
}

// leave drops one user of w; when none is left it closes the write side
// and returns the segment, which may now be dead. The caller holds
// appendMu.
func (s *Store) leave(w *segWriter) *segment {
	w.users--
	switch {
	case w.users > 0:
		return nil
	case w.users < 0:
		panic(fmt.Sprintf("pebblestore: segment %d writer released too often", w.seg.num))
	}
	w.f.Close()
	w.seg.w = nil
	return w.seg
}

// write writes buf (aligned, a multiple of pageSize) at off.
func (w *segWriter) write(buf []byte, off int64) error {
	if _, err := w.f.WriteAt(buf, off); err != nil {
		return fmt.Errorf("pebblestore: write segment %d: %w", w.seg.num, err)
	}
	w.written.Add(int64(len(buf)))
	return nil
}

// sync makes the bytes written so far durable, and drops them from the
// page cache where they were written through it.
func (w *segWriter) sync() error {
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("pebblestore: sync segment %d: %w", w.seg.num, err)
	}
	if !w.direct {
		_ = directio.DropCache(w.seg.path)
	}
	return nil
}

// deleteDead deletes those of the segments nums that hold no live posting,
// are not written to and are not active; while a checkpoint pins the
// segments, it only notes them (pinSegments). durable says whether the
// directory changes that made them dead are already durable; if not, the
// WAL is synced first, so that a crash cannot bring back a directory that
// refers to a deleted file.
func (s *Store) deleteDead(nums []uint32, durable bool) {
	if len(nums) == 0 {
		return
	}
	var dead []*segment
	s.appendMu.Lock()
	if s.pins > 0 {
		// A checkpoint is linking the segments its cut refers to: keep
		// them until it is done (unpin looks at them again).
		s.pinnedDead = append(s.pinnedDead, nums...)
		s.appendMu.Unlock()
		return
	}
	s.mu.Lock()
	for _, n := range nums {
		sg := s.mu.files[n]
		if sg == nil || sg.live > 0 || sg.w != nil {
			continue
		}
		if !durable {
			// Sync the WAL without blocking readers, then look again.
			s.mu.Unlock()
			s.appendMu.Unlock()
			if err := s.SyncWAL(); err != nil {
				return // the segment stays; a later commit retries
			}
			s.deleteDead(nums, true)
			return
		}
		delete(s.mu.files, n)
		dead = append(dead, sg)
	}
	s.mu.Unlock()
	s.appendMu.Unlock()
	for _, sg := range dead {
		sg.release()
		// A file left behind is an orphan that the next Open deletes.
		_ = os.Remove(sg.path)
	}
}

// countLiveLocked recounts the live bytes of every segment from the
// directory. The caller holds s.mu.
func (s *Store) countLiveLocked() {
	for _, sg := range s.mu.files {
		sg.live = 0
	}
	for id, l := range s.mu.dir.locs {
		if l.length != 0 {
			s.openedLocked(uint32(id), l.seg).live += int64(l.length)
		}
	}
}

// SegmentStats reports the segment files: how many there are, the bytes
// of postings the directory refers to, and the bytes of the files
// (postings, their padding, and garbage: replaced postings and postings of
// batches never committed).
func (s *Store) SegmentStats() (files int, liveBytes, totalBytes int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sg := range s.mu.files {
		liveBytes += sg.live
		totalBytes += sg.size.Load()
	}
	return len(s.mu.files), liveBytes, totalBytes
}

// syncDir makes the directory's entries (new file names) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("pebblestore: sync %s: %w", dir, err)
	}
	return nil
}
