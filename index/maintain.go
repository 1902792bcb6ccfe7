package index

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// testHookStep, when set by a test, runs at the start of every unit of
// maintenance.
var testHookStep func()

// maintainer runs background maintenance (SPFresh's LIRE): it folds
// posting tails into their postings, dropping stale copies as it goes.
// One goroutine does the work, one posting at a time, so foreground
// searches and upserts never wait for more than one posting's rewrite.
//
// Each unit of work commits with one Pebble batch (the new posting bytes
// are synced first), so a crash leaves a posting either before or after
// the unit, and the tails it did not fold are still in the update log:
// restart resumes where it stopped.
type maintainer struct {
	ix     *Index
	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	run    sync.Mutex // held by the unit of work in progress
	paused atomic.Bool
	err    atomic.Pointer[error]

	mu     sync.Mutex
	cond   *sync.Cond // broadcast when tail bytes fall
	folded atomic.Int64

	qmu   sync.Mutex
	queue []uint32 // postings to rewrite before any tail (over-full halves of a split)

	// picks are postings chosen to fold, in the order to fold them: one
	// look over all tails (pickFolds) serves several units. Guarded by
	// run.
	picks []uint32

	// Sweep state (sweep.go): debt is the stale copies made since the
	// last sweep began; cursor the next posting of the sweep in progress
	// (-1: none), guarded by run.
	debt   atomic.Int64
	cursor int
	sweeps atomic.Int64
	swept  atomic.Int64
	// compacted counts the live bytes segment compaction moved.
	compacted atomic.Int64
}

// later queues posting p for a rewrite.
func (m *maintainer) later(p uint32) {
	m.qmu.Lock()
	m.queue = append(m.queue, p)
	m.qmu.Unlock()
}

func (m *maintainer) pending() (uint32, bool) {
	m.qmu.Lock()
	defer m.qmu.Unlock()
	if len(m.queue) == 0 {
		return 0, false
	}
	p := m.queue[0]
	m.queue = m.queue[1:]
	return p, true
}

func newMaintainer(ix *Index) *maintainer {
	m := &maintainer{ix: ix, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), cursor: -1}
	m.cond = sync.NewCond(&m.mu)
	return m
}

// start runs the maintainer's goroutine; ix.maint must be set first.
func (m *maintainer) start() {
	go m.loop()
	m.poke()
}

func (m *maintainer) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *maintainer) stop() {
	close(m.quit)
	<-m.done
	m.broadcast()
}

func (m *maintainer) loop() {
	defer close(m.done)
	for {
		select {
		case <-m.quit:
			return
		case <-m.wake:
		}
		for !m.paused.Load() && m.err.Load() == nil {
			select {
			case <-m.quit:
				return
			default:
			}
			did, err := m.step(false)
			if err != nil {
				m.fail(err)
				break
			}
			if !did {
				break
			}
		}
		m.broadcast()
	}
}

// fail stops background maintenance for good with err (it stays stopped
// until the index is reopened), and reports it once through Options.Logf.
// Upserts then fail (writeErr) rather than pile more work on an index
// whose maintenance cannot proceed.
func (m *maintainer) fail(err error) {
	if !m.err.CompareAndSwap(nil, &err) {
		return
	}
	if logf := m.ix.opts.Logf; logf != nil {
		logf("shoal: background maintenance of %s stopped: %v", m.ix.dir, err)
	}
}

func (m *maintainer) broadcast() {
	m.mu.Lock()
	m.cond.Broadcast()
	m.mu.Unlock()
}

// step does one unit of work, if there is one that is due (or any, with
// all). It reports whether it did something. Built with the invariants
// tag (or -race), it then checks the cheap invariants (invariants.go).
func (m *maintainer) step(all bool) (bool, error) {
	m.run.Lock()
	defer m.run.Unlock()
	if testHookStep != nil {
		testHookStep()
	}
	did, err := m.unit(all)
	if err == nil && did && invariants {
		err = m.ix.checkInvariants()
	}
	return did, err
}

// unit does one unit of work for step, which holds m.run.
func (m *maintainer) unit(all bool) (bool, error) {
	n := 0
	if p, ok := m.pending(); ok {
		if err := m.ix.rewrite(p); err != nil {
			return false, err
		}
		n = 1
	} else if ps := m.nextFolds(all); len(ps) > 0 {
		var err error
		if n, err = m.ix.foldMany(ps); err != nil {
			return false, err
		}
	} else {
		did, err := m.sweepStep(all)
		if did || err != nil {
			return did, err
		}
		if did, err = m.ix.ten.SweepStep(all); did || err != nil {
			return did, err
		}
		return m.compactStep()
	}
	m.folded.Add(int64(n))
	if m.ix.tails.Bytes() <= m.ix.opts.UpdateBuffer {
		m.broadcast()
	}
	return true, nil
}

// foldLookahead is how many batches of folds one look over the tails
// picks: the look costs a pass over every tail.
const foldLookahead = 8

// nextFolds returns the next batch of postings to fold: picked postings
// whose tails still hold copies, picking afresh when none is left. The
// caller holds run.
func (m *maintainer) nextFolds(all bool) []uint32 {
	for range 2 {
		var out []uint32
		m.ix.rmu.RLock()
		for len(m.picks) > 0 && len(out) < foldBatch {
			p := m.picks[0]
			m.picks = m.picks[1:]
			if m.ix.tails.Get(p).Len() > 0 {
				out = append(out, p)
			}
		}
		m.ix.rmu.RUnlock()
		if len(out) > 0 {
			return out
		}
		m.picks = m.ix.pickFolds(all, foldLookahead*foldBatch)
		if len(m.picks) == 0 {
			return nil
		}
	}
	return nil
}

// admit holds a writer, before it writes anything, while the tails hold
// more than twice their budget, so that memory stays bounded when upserts
// outrun maintenance. With Options.WriteStall set it waits at most that
// long and then returns ErrBusy. It does not wait while maintenance is
// paused or stopped (writeErr reports a stopped one).
func (m *maintainer) admit() error {
	limit := 2 * m.ix.opts.UpdateBuffer
	if m.ix.tails.Bytes() <= limit {
		return nil
	}
	var expired atomic.Bool
	if stall := m.ix.opts.WriteStall; stall > 0 {
		t := time.AfterFunc(stall, func() {
			expired.Store(true)
			m.broadcast()
		})
		defer t.Stop()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.ix.tails.Bytes() > limit && !m.paused.Load() && !m.ix.closed.Load() && m.err.Load() == nil {
		if expired.Load() {
			m.ix.ctr.busy.Add(1)
			return fmt.Errorf("%w: %d MiB of upserted copies wait to be folded (limit %d MiB); retry after a back-off",
				ErrBusy, m.ix.tails.Bytes()>>20, limit>>20)
		}
		m.poke()
		m.cond.Wait()
	}
	return nil
}

// PauseMaintenance stops background maintenance after its current unit of
// work (for deterministic tests and benchmarks); updates keep working and
// their tails keep growing. ResumeMaintenance restarts it.
func (ix *Index) PauseMaintenance() {
	ix.maint.paused.Store(true)
	ix.maint.run.Lock()
	ix.maint.run.Unlock() //nolint:staticcheck // waits for the unit in progress
	ix.maint.broadcast()
}

// ResumeMaintenance restarts background maintenance.
func (ix *Index) ResumeMaintenance() {
	ix.maint.paused.Store(false)
	ix.maint.poke()
}

// Drain runs maintenance in the calling goroutine until no work is left:
// every tail folded. It works whether or not maintenance is paused. An
// error stops maintenance as it stops the background (MaintenanceErr);
// Drain returns it, now and on later calls.
func (ix *Index) Drain() error {
	if ix.closed.Load() {
		return ErrClosed
	}
	for {
		if err := ix.MaintenanceErr(); err != nil {
			return err
		}
		did, err := ix.maint.step(true)
		if err != nil {
			ix.maint.fail(err)
			return err
		}
		if !did {
			return nil
		}
	}
}

// MaintenanceErr returns the error that stopped background maintenance,
// or nil. Maintenance stops at its first error and does not restart until
// the index is reopened; while it is stopped, upserts fail with an error
// wrapping it (and so ErrCorrupt, when it does).
func (ix *Index) MaintenanceErr() error {
	if e := ix.maint.err.Load(); e != nil {
		return *e
	}
	return nil
}

// writeErr returns the error an upsert must fail with: ErrClosed, or the
// error that stopped maintenance, since more upserts would only grow the
// tails that maintenance can no longer fold. Deletes, label and tenant
// writes, which add nothing to fold, go on.
func (ix *Index) writeErr() error {
	if ix.closed.Load() {
		return ErrClosed
	}
	if err := ix.MaintenanceErr(); err != nil {
		return fmt.Errorf("shoal: writes refused, background maintenance stopped: %w", err)
	}
	return nil
}
