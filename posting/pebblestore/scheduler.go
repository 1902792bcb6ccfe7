package pebblestore

import (
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// pacedScheduler decides when Pebble may start a compaction. It allows
// as many at once as the database says it may run without permission
// (GetAllowedWithoutPermission: Pebble's own concurrency policy, the
// policy of its default scheduler), except that none starts while the
// database's health pauses compactions after a corruption report.
//
// Pebble asks TrySchedule (holding its mutex) before it starts a
// compaction; one refused waits until the scheduler offers it a grant
// (GetWaitingCompaction, then Schedule). Grants are offered by one
// goroutine, every 100 ms and whenever a compaction ends, never while
// the scheduler's mutex is held: Pebble's mutexes come first in the lock
// order, and Schedule takes them.
type pacedScheduler struct {
	h    *health
	db   pebble.DBForCompaction // set by Register, before any other call
	poke chan struct{}          // wakes the granter
	stop chan struct{}          // closed by Unregister
	done chan struct{}          // closed when the granter returns
	mu   struct {
		sync.Mutex
		running      int // compactions granted and not done
		unregistered bool
	}
}

var (
	_ pebble.CompactionScheduler   = (*pacedScheduler)(nil)
	_ pebble.CompactionGrantHandle = (*pacedScheduler)(nil)
)

// grantEvery is how often waiting compactions are offered a grant.
const grantEvery = 100 * time.Millisecond

func newPacedScheduler(h *health) *pacedScheduler {
	return &pacedScheduler{h: h, poke: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Register implements pebble.CompactionScheduler.
func (p *pacedScheduler) Register(_ int, db pebble.DBForCompaction) {
	p.db = db
	go p.granter()
}

// Unregister implements pebble.CompactionScheduler: it returns once no
// call into the database is in progress, and none follows.
func (p *pacedScheduler) Unregister() {
	p.mu.Lock()
	p.mu.unregistered = true
	p.mu.Unlock()
	close(p.stop)
	<-p.done
}

// TrySchedule implements pebble.CompactionScheduler.
func (p *pacedScheduler) TrySchedule() (bool, pebble.CompactionGrantHandle) {
	if p.h.pausing() {
		return false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.unregistered || p.db.GetAllowedWithoutPermission() <= p.mu.running {
		return false, nil
	}
	p.mu.running++
	return true, p
}

// UpdateGetAllowedWithoutPermission implements
// pebble.CompactionScheduler.
func (p *pacedScheduler) UpdateGetAllowedWithoutPermission() { p.wake() }

// Started, MeasureCPU and CumulativeStats implement
// pebble.CompactionGrantHandle; the scheduler does not pace compactions
// by their resource use.
func (p *pacedScheduler) Started()                                          {}
func (p *pacedScheduler) MeasureCPU(pebble.CompactionGoroutineKind)         {}
func (p *pacedScheduler) CumulativeStats(pebble.CompactionGrantHandleStats) {}

// Done implements pebble.CompactionGrantHandle.
func (p *pacedScheduler) Done() {
	p.mu.Lock()
	p.mu.running--
	p.mu.Unlock()
	p.wake()
}

func (p *pacedScheduler) wake() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

func (p *pacedScheduler) granter() {
	defer close(p.done)
	tick := time.NewTicker(grantEvery)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		case <-p.poke:
		}
		p.grant()
	}
}

// grant offers grants to waiting compactions while the database allows
// more to run.
func (p *pacedScheduler) grant() {
	for !p.h.pausing() {
		p.mu.Lock()
		free := !p.mu.unregistered && p.db.GetAllowedWithoutPermission() > p.mu.running
		if free {
			// Counted before Schedule: the compaction may be done
			// before Schedule returns.
			p.mu.running++
		}
		p.mu.Unlock()
		if !free {
			return
		}
		if waiting, _ := p.db.GetWaitingCompaction(); !waiting || !p.db.Schedule(p) {
			p.mu.Lock()
			p.mu.running--
			p.mu.Unlock()
			return
		}
	}
}
