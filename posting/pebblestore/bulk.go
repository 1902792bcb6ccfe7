package pebblestore

import (
	"bufio"
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/posting"
)

// NewBulkWriter implements posting.Store. Postings are appended to a new
// segment file; Commit syncs it and then publishes the new posting
// directory with one synced Pebble write, the commit point, which also
// deletes every directory override. A crash before that leaves an orphan
// segment and the old directory.
func (s *Store) NewBulkWriter() (posting.BulkWriter, error) {
	if err := s.healthErr(); err != nil {
		return nil, err
	}
	seg := s.allocSegment()
	path := s.segmentPath(seg)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	return &bulkWriter{s: s, seg: seg, path: path, f: f, w: bufio.NewWriterSize(f, 1<<20), last: -1}, nil
}

type bulkWriter struct {
	s    *Store
	seg  uint32
	path string
	f    *os.File
	w    *bufio.Writer
	off  uint64
	ids  []uint32
	locs []location
	last int64
	done bool
}

var zeroPage [pageSize]byte

// MaxPostingID is the largest posting id the store takes. Posting ids are
// head numbers, dense from 0; the directory holds 16 bytes per id.
const MaxPostingID = 1<<28 - 1

func (w *bulkWriter) Add(id uint32, encoded []byte) error {
	if w.done {
		return errors.New("pebblestore: bulk writer already finished")
	}
	if int64(id) <= w.last {
		return fmt.Errorf("pebblestore: bulk add of posting %d after %d: ids must increase", id, w.last)
	}
	if id > MaxPostingID {
		return fmt.Errorf("pebblestore: posting id %d above the maximum %d", id, MaxPostingID)
	}
	if len(encoded) == 0 {
		return fmt.Errorf("pebblestore: posting %d is empty", id)
	}
	w.last = int64(id)
	if _, err := w.w.Write(encoded); err != nil {
		return fmt.Errorf("pebblestore: write segment: %w", err)
	}
	pad := int(roundUp(int64(len(encoded)), pageSize)) - len(encoded)
	if _, err := w.w.Write(zeroPage[:pad]); err != nil {
		return fmt.Errorf("pebblestore: write segment: %w", err)
	}
	w.ids = append(w.ids, id)
	w.locs = append(w.locs, location{seg: w.seg, length: uint32(len(encoded)), off: w.off})
	w.off += uint64(len(encoded) + pad)
	return nil
}

func (w *bulkWriter) Commit() error {
	if w.done {
		return errors.New("pebblestore: bulk writer already finished")
	}
	w.done = true
	err := w.w.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil && len(w.ids) > 0 {
		err = syncDir(w.s.dir)
	}
	if err != nil {
		os.Remove(w.path)
		return fmt.Errorf("pebblestore: segment %d: %w", w.seg, err)
	}
	if len(w.ids) == 0 {
		os.Remove(w.path)
		return nil
	}
	s := w.s
	// No Batch commit may change the directory from here on: the new blob
	// is the directory in memory, and every override is deleted.
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	sg, err := s.openSegment(w.seg)
	if err != nil {
		os.Remove(w.path)
		return err
	}
	sg.size.Store(int64(w.off))
	s.mu.Lock()
	s.mu.files[w.seg] = sg
	next := s.mu.dir.with(w.ids, w.locs)
	s.mu.Unlock()
	pb := s.db.NewBatch()
	defer pb.Close()
	err = pb.Set(s.metaKey(metaDirectory), next.encode(), nil)
	if err == nil {
		err = pb.DeleteRange(s.key(prefixOverride, nil), s.key(prefixOverride+1, nil), nil)
	}
	if err == nil {
		err = s.db.Commit(pb, pebble.Sync)
	}
	if err == nil {
		err = s.health.fatalErr()
	}
	if err != nil {
		s.mu.Lock()
		delete(s.mu.files, w.seg)
		s.mu.Unlock()
		sg.release()
		os.Remove(w.path)
		return fmt.Errorf("pebblestore: bulk commit: %w", pebbleErr(err))
	}
	var dead []uint32
	s.mu.Lock()
	s.mu.dir = next
	s.countLiveLocked()
	for num, f := range s.mu.files {
		if f.live == 0 {
			dead = append(dead, num)
		}
	}
	s.mu.Unlock()
	for _, id := range w.ids {
		s.cache.drop(id)
	}
	s.deleteDead(dead, true)
	_ = directio.DropCache(w.path)
	return nil
}

func (w *bulkWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.path)
}
