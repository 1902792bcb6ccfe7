package pebblestore

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shoaldb/shoal/posting"
)

// What Pebble does with bad data and failed writes, and what the store
// makes of it (checked against Pebble v2.1.7):
//
//   - A block whose checksum fails, met by any read (a Get, an iterator, a
//     compaction, the table-stats loader), is returned as an error marked
//     pebble.ErrCorruption and reported to EventListener.DataCorruption.
//     Pebble's default listener hands that to Logger.Fatalf, which must
//     not return; here the listener records the corruption instead, with
//     the key bounds of the damaged file. A compaction that fails on it
//     is reported to BackgroundError; it does not stop the database. It
//     is retried: over a span of L1 and below after a few minutes, but
//     over L0 at once, again and again (Pebble v2.1.7 has no backoff).
//     So that a damaged table does not keep a core busy, compactions
//     wait after each corruption report (pacedScheduler, scheduler.go):
//     100 ms after the first, twice as long after each next, up to a
//     minute.
//   - Logger.Fatalf is then left to failures Pebble does not recover
//     from: a write of its WAL or MANIFEST that fails (commit pipeline,
//     WAL rotation, version edits), and broken invariants of its own
//     (most only checked in invariants or race builds). Pebble expects
//     Fatalf not to return. A library must not end its process; a panic
//     would end it as well when Pebble calls Fatalf from a background
//     goroutine, and elsewhere would unwind Pebble with its locks held;
//     blocking the goroutine for good would keep them held too. So
//     Fatalf records a fatal error and returns. At the write-failure
//     sites Pebble then returns the error, except that a failed commit
//     goes on as if it had succeeded (and Pebble's commit pipeline stays
//     stuck): the store checks for a fatal error after every write it
//     commits, and refuses every call once one is recorded, before it
//     reaches Pebble, so that it never relies on the database after
//     Pebble gave up on it. What Pebble does after a broken invariant is
//     undefined either way; Close still closes it.
//
// Both states are sticky: a store that saw a corruption in its keys
// returns an error wrapping posting.ErrCorrupt (index.ErrCorrupt) from
// every later call, Close included, until it is reopened; a fatal error
// stops every store of the database. In a shared DB a corruption stops
// only the namespaces whose keys the damaged file may hold.

// ErrFatal reports a Pebble database that stopped after a failure it
// cannot recover from (a failed write of its log or manifest, or a
// broken invariant of its own). Every later call of every store on the
// database fails with it; reopening is the only way on.
var ErrFatal = errors.New("pebblestore: database stopped after a fatal error")

// health records what one Pebble database reported outside the calls
// that met it: corruptions and a fatal error. It is safe for concurrent
// use; Pebble calls it from its own goroutines.
type health struct {
	// bad is set once anything is recorded, so that the check every call
	// makes is one atomic load while the database is sound.
	bad atomic.Bool
	mu  struct {
		sync.Mutex
		fatal   error
		corrupt []corruption
		// reports counts corruption reports; compactions wait until
		// pauseUntil.
		reports    int
		pauseUntil time.Time
	}
}

const (
	// firstPause and maxPause bound how long compactions wait after a
	// corruption report.
	firstPause = 100 * time.Millisecond
	maxPause   = time.Minute
	// maxCorrupt bounds the damaged files recorded one by one.
	maxCorrupt = 64
)

// corruption is one damaged file's report: the user keys it may hold
// (start and end inclusive; both nil when Pebble did not say) and the
// error.
type corruption struct {
	start, end []byte
	err        error
}

// options sets the logger, event listener and compaction scheduler of
// Pebble options to h's.
func (h *health) options(po *pebble.Options) {
	po.Logger = healthLogger{h}
	po.EventListener = &pebble.EventListener{
		DataCorruption:  h.dataCorruption,
		BackgroundError: h.backgroundError,
	}
	po.Experimental.CompactionScheduler = newPacedScheduler(h)
}

func (h *health) dataCorruption(info pebble.DataCorruptionInfo) {
	c := corruption{err: info.Details}
	if info.Bounds.Start != nil || info.Bounds.End.Key != nil {
		c.start = bytes.Clone(info.Bounds.Start)
		c.end = bytes.Clone(info.Bounds.End.Key)
	}
	if c.err == nil {
		c.err = fmt.Errorf("pebble reported corruption of %s", info.Path)
	}
	c.err = fmt.Errorf("%s: %w", info.Path, c.err)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recordLocked(c)
}

// recordLocked records a corruption report, once per file as far as the
// report's bounds tell files apart, and pauses compactions. h.mu is held.
func (h *health) recordLocked(c corruption) {
	known := slices.ContainsFunc(h.mu.corrupt, func(o corruption) bool {
		return bytes.Equal(o.start, c.start) && bytes.Equal(o.end, c.end)
	})
	switch {
	case known:
	case len(h.mu.corrupt) < maxCorrupt:
		h.mu.corrupt = append(h.mu.corrupt, c)
	case h.mu.corrupt[maxCorrupt-1].start != nil || h.mu.corrupt[maxCorrupt-1].end != nil:
		// Too many damaged files to tell apart: every key is suspect.
		h.mu.corrupt[maxCorrupt-1] = corruption{err: c.err}
	}
	h.mu.pauseUntil = time.Now().Add(min(maxPause, firstPause<<min(h.mu.reports, 10)))
	h.mu.reports++
	h.bad.Store(true)
}

// pausing reports whether compactions wait after a corruption report.
func (h *health) pausing() bool {
	if !h.bad.Load() {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Now().Before(h.mu.pauseUntil)
}

// backgroundError records a corruption that Pebble met in the background
// without a DataCorruption event of its own (which comes first when there
// is one); other background errors (a compaction out of disk space, say)
// are retried by Pebble and left to it.
func (h *health) backgroundError(err error) {
	if !pebble.IsCorruptionError(err) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.mu.corrupt) > 0 {
		return
	}
	h.recordLocked(corruption{err: err})
}

func (h *health) fatal(msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.fatal == nil {
		h.mu.fatal = fmt.Errorf("%w: %s", ErrFatal, msg)
	}
	h.bad.Store(true)
}

// err returns the fatal error, else a recorded corruption of the keys
// [lo, hi) (hi nil: no upper bound), else nil.
func (h *health) err(lo, hi []byte) error {
	if h == nil || !h.bad.Load() {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.fatal != nil {
		return h.mu.fatal
	}
	for _, c := range h.mu.corrupt {
		if c.overlaps(lo, hi) {
			return &corruptionError{err: c.err}
		}
	}
	return nil
}

// fatalErr returns the fatal error, or nil: what a write checks after
// Pebble committed it, since Pebble goes on after a fatal failure of its
// commit pipeline as if the commit had succeeded.
func (h *health) fatalErr() error {
	if !h.bad.Load() {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.fatal
}

// overlaps reports whether the damaged file may hold a key of [lo, hi).
func (c *corruption) overlaps(lo, hi []byte) bool {
	if c.start == nil && c.end == nil {
		return true
	}
	if hi != nil && bytes.Compare(c.start, hi) >= 0 {
		return false
	}
	return c.end == nil || bytes.Compare(c.end, lo) >= 0
}

// healthLogger drops Pebble's informational and error logs (errors that
// matter are returned or reach the event listener) and records Fatalf as
// the database's fatal error. Its Fatalf returns; see the top of this
// file.
type healthLogger struct{ h *health }

func (healthLogger) Infof(string, ...any)  {}
func (healthLogger) Errorf(string, ...any) {}
func (l healthLogger) Fatalf(format string, args ...any) {
	l.h.fatal(fmt.Sprintf("pebble: "+format, args...))
}

// pebbleErr marks an error of Pebble that reports corruption as
// posting.ErrCorrupt (and so index.ErrCorrupt), so that callers need not
// know Pebble's marks.
func pebbleErr(err error) error {
	if err == nil || !pebble.IsCorruptionError(err) || errors.Is(err, posting.ErrCorrupt) {
		return err
	}
	return &corruptionError{err: err}
}

// corruptionError is a corruption Pebble reported, as posting.ErrCorrupt.
// Its message is the first line of Pebble's: Pebble joins a detail
// carrier to its corruption errors, whose text is of no use.
type corruptionError struct{ err error }

func (e *corruptionError) Error() string {
	msg, _, _ := strings.Cut(e.err.Error(), "\n")
	return posting.ErrCorrupt.Error() + ": " + msg
}

func (e *corruptionError) Unwrap() []error { return []error{posting.ErrCorrupt, e.err} }
