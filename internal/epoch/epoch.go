// Package epoch is a grace-period tracker, as in RCU: readers register
// in an epoch, and a writer waits until every reader that registered
// before it asked has left. Package index uses it to keep what a search's
// routing snapshot points at until the search is done.
package epoch

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Readers tracks searches in flight so that maintenance can wait until
// every search that might still use an old routing snapshot has finished
// (a grace period, as in RCU) before it removes what that snapshot points
// at: the old content of a split posting, a merged posting, the old copies
// of re-inserted vectors.
//
// Searches register in the current epoch, one of two counters by its
// parity. A grace period advances the epoch and waits for the counter of
// the previous one to drain; searches that start meanwhile count in the
// other. Grace periods are serialised.
type Readers struct {
	mu     sync.Mutex // serialises wait
	epoch  atomic.Uint64
	active [2]atomic.Int64
}

// Enter registers a search and returns the epoch to pass to Exit.
func (r *Readers) Enter() uint64 {
	for {
		e := r.epoch.Load()
		r.active[e&1].Add(1)
		if r.epoch.Load() == e {
			return e
		}
		// A grace period began between the load and the count, and may
		// have seen the counter empty: register again in the new epoch.
		r.active[e&1].Add(-1)
	}
}

// Exit ends a search registered in epoch e.
func (r *Readers) Exit(e uint64) { r.active[e&1].Add(-1) }

// Wait returns once every search that entered before the call has exited.
func (r *Readers) Wait() {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.epoch.Add(1) - 1
	for spin := 0; r.active[old&1].Load() != 0; spin++ {
		if spin < 64 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
}
