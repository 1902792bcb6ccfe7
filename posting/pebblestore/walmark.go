package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// The WAL mark is Shoal's own record of how far Pebble's write-ahead log
// is known to be durable, kept beside the database in walMarkName. Pebble
// replays its newest log up to the first record it cannot read and drops
// the rest without an error, as a torn tail; the mark lets Open tell a
// torn tail (writes never acknowledged) from damage that would drop
// acknowledged ones (walcheck.go).
//
// Layout (28 bytes, little-endian):
//
//	0   4  magic "SHWM"
//	4   4  version (1)
//	8   8  synced: every batch with a sequence number ≤ synced was synced
//	       to the log before this value was written
//	16  8  flushed: every batch with a sequence number ≤ flushed is in
//	       Pebble's sstables (a flush wrote and recorded it)
//	24  4  CRC-32C of bytes 0..23
//
// synced is rewritten in place after each sync of the log (a synced
// commit, SyncWAL, Close) without an fsync of its own: it costs one small
// pwrite per sync. So after a process crash the mark is exact, and after
// a power loss it may be older than the log: it then protects fewer
// writes, never claims too many. flushed is rewritten and fsynced after
// each flush, before Pebble deletes the logs the flush made obsolete, so
// a log missing from the directory never holds a batch above flushed.
// A mark whose checksum fails (a torn rewrite in a power loss) counts as
// absent: the check falls back to what the log itself proves. A write
// error empties the mark (absent too) and stops it until the next open.
// The fsync at a flush runs outside the mark's lock, so syncs of the log
// never wait for it.

const (
	walMarkName    = "wal.mark"
	walMarkMagic   = "SHWM"
	walMarkVersion = 1
	walMarkLen     = 28
)

// markState is what the WAL mark says.
type markState struct {
	synced, flushed uint64
}

func (m markState) encode() []byte {
	b := make([]byte, 0, walMarkLen)
	b = append(b, walMarkMagic...)
	b = binary.LittleEndian.AppendUint32(b, walMarkVersion)
	b = binary.LittleEndian.AppendUint64(b, m.synced)
	b = binary.LittleEndian.AppendUint64(b, m.flushed)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeMark decodes a WAL mark; ok is false for bytes that are not one
// (torn, damaged or of another version).
func decodeMark(b []byte) (m markState, ok bool) {
	if len(b) != walMarkLen || string(b[:4]) != walMarkMagic ||
		binary.LittleEndian.Uint32(b[4:]) != walMarkVersion ||
		binary.LittleEndian.Uint32(b[24:]) != crc32.Checksum(b[:24], castagnoli) {
		return markState{}, false
	}
	return markState{synced: binary.LittleEndian.Uint64(b[8:]), flushed: binary.LittleEndian.Uint64(b[16:])}, true
}

// readMark reads the WAL mark of the database in dir. found is false if
// there is none or it does not decode.
func readMark(dir string) (m markState, found bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, walMarkName))
	if errors.Is(err, fs.ErrNotExist) {
		return markState{}, false, nil
	}
	if err != nil {
		return markState{}, false, fmt.Errorf("pebblestore: WAL mark: %w", err)
	}
	m, ok := decodeMark(b)
	return m, ok, nil
}

// walMark keeps the WAL mark of an open database up to date. It is safe
// for concurrent use.
type walMark struct {
	// committed is the highest sequence number of a batch whose commit
	// returned, synced or not: what the next sync of the log covers.
	committed atomic.Uint64
	mu        struct {
		sync.Mutex
		f   *os.File
		cur markState
		// err is the first write error; the mark is emptied and not
		// written after it (failLocked).
		err error
	}
}

// openMark opens (creating it, durably, if needed) the WAL mark of the
// database in dir, starting from state m.
func openMark(dir string, m markState) (*walMark, error) {
	path := filepath.Join(dir, walMarkName)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: WAL mark: %w", err)
	}
	w := &walMark{}
	w.mu.f, w.mu.cur = f, m
	if _, err := f.WriteAt(m.encode(), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("pebblestore: WAL mark: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("pebblestore: WAL mark: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("pebblestore: WAL mark: %w", err)
		}
	}
	return w, nil
}

// noteCommitted records that a batch ending at sequence number seq was
// committed.
func (w *walMark) noteCommitted(seq uint64) {
	for {
		c := w.committed.Load()
		if seq <= c || w.committed.CompareAndSwap(c, seq) {
			return
		}
	}
}

// noteSynced records that every batch up to sequence number seq is synced
// to the log: one pwrite, no fsync.
func (w *walMark) noteSynced(seq uint64) {
	w.noteCommitted(seq)
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq <= w.mu.cur.synced {
		return
	}
	w.mu.cur.synced = seq
	w.writeLocked(false)
}

// noteFlushed records, durably, that every batch up to sequence number
// seq is in sstables. The fsync runs outside the lock, so that syncs of
// the log do not wait for it.
func (w *walMark) noteFlushed(seq uint64) {
	w.mu.Lock()
	if seq <= w.mu.cur.flushed || w.mu.err != nil || w.mu.f == nil {
		w.mu.Unlock()
		return
	}
	w.mu.cur.flushed = seq
	w.writeLocked(false)
	f := w.mu.f
	w.mu.Unlock()
	if err := f.Sync(); err != nil {
		w.mu.Lock()
		if w.mu.f != nil {
			w.failLocked(err)
		}
		w.mu.Unlock()
	}
}

func (w *walMark) writeLocked(sync bool) {
	if w.mu.err != nil || w.mu.f == nil {
		return
	}
	_, err := w.mu.f.WriteAt(w.mu.cur.encode(), 0)
	if err == nil && sync {
		err = w.mu.f.Sync()
	}
	if err != nil {
		w.failLocked(err)
	}
}

// failLocked stops the mark at its first write error, and tries to
// empty its file: a mark left behind at an old state could name a
// synced batch whose log a later flush deleted.
func (w *walMark) failLocked(err error) {
	if w.mu.err == nil {
		w.mu.err = err
		_ = w.mu.f.Truncate(0)
		_ = w.mu.f.Sync()
	}
}

// onFlushEnd is Pebble's FlushEnd event: it runs after the flush is
// recorded in Pebble's manifest and before the logs it made obsolete are
// deleted.
func (w *walMark) onFlushEnd(info pebble.FlushInfo) {
	if info.Err != nil || !info.Done {
		return
	}
	var top uint64
	for _, t := range info.Output {
		top = max(top, uint64(t.LargestSeqNum))
	}
	if top > 0 {
		w.noteFlushed(top)
	}
}

// close writes the mark a last time, synced, and closes its file. synced
// is the sequence number the closed log is synced to.
func (w *walMark) close(synced uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.f == nil {
		return nil
	}
	w.mu.cur.synced = max(w.mu.cur.synced, synced)
	w.writeLocked(true)
	err := errors.Join(w.mu.err, w.mu.f.Close())
	w.mu.f = nil
	if err != nil {
		return fmt.Errorf("pebblestore: WAL mark: %w", err)
	}
	return nil
}
