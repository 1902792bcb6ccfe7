package index

import (
	"sync"
	"sync/atomic"
)

// A vector's state is one byte (SPFresh's version map): 0 means absent
// (never stored, or deleted); otherwise the high bit is set and the low
// seven bits are the version of the copies that are current. Every copy in
// a posting carries the version it was written with; a copy whose version
// is not the id's current one is stale and skipped on read.
//
// Versions wrap after 128 upserts of one id. A copy 128 upserts old would
// match again; postings are rewritten (and stale copies dropped) long
// before that in practice, as SPFresh accepts too.
const (
	stateLive    = 0x80
	versionMask  = 0x7f
	stateAbsent  = 0
	denseSlack   = 1 << 16 // ids this far past the dense range still grow it
	wordsPerPage = 1 << 14 // 64 Ki states per page of the dense range
)

func liveState(version uint8) uint8 { return stateLive | version&versionMask }

// versionMap holds the state byte of every id. Ids in [0, dense) live in a
// dense array of packed bytes (one byte per id: an index built offline
// numbers its vectors 0..N-1); others in a map.
//
// Reads are lock-free for dense ids and take a read lock for sparse ones.
// Writes must be serialised by the caller (the index's writer mutex); a
// reader concurrent with a write sees the old or the new state.
type versionMap struct {
	dense  atomic.Pointer[[]*[wordsPerPage]atomic.Uint32]
	n      atomic.Uint64 // ids [0, n) are dense
	mu     sync.RWMutex
	sparse map[uint64]uint8
}

func newVersionMap() *versionMap {
	v := &versionMap{sparse: make(map[uint64]uint8)}
	v.dense.Store(new([]*[wordsPerPage]atomic.Uint32))
	return v
}

// get returns id's state byte.
func (v *versionMap) get(id uint64) uint8 {
	if id < v.n.Load() {
		return v.denseGet(id)
	}
	v.mu.RLock()
	s, ok := v.sparse[id]
	v.mu.RUnlock()
	if !ok && id < v.n.Load() {
		// grow moved it into the dense range meanwhile.
		return v.denseGet(id)
	}
	return s
}

func (v *versionMap) denseGet(id uint64) uint8 {
	pages := *v.dense.Load()
	w := id / 4
	return uint8(pages[w/wordsPerPage][w%wordsPerPage].Load() >> (8 * (id % 4)))
}

// live reports whether a copy of id written with version ver is current.
func (v *versionMap) live(id uint64, ver uint8) bool {
	return v.get(id) == liveState(ver)
}

// set stores id's state. Callers serialise set calls.
func (v *versionMap) set(id uint64, state uint8) {
	n := v.n.Load()
	if id >= n && id < 2*n+denseSlack {
		v.grow(id + 1)
		n = v.n.Load()
	}
	if id < n {
		pages := *v.dense.Load()
		w := id / 4
		word := &pages[w/wordsPerPage][w%wordsPerPage]
		shift := 8 * (id % 4)
		old := word.Load()
		word.Store(old&^(0xff<<shift) | uint32(state)<<shift)
		return
	}
	v.mu.Lock()
	if state == stateAbsent {
		delete(v.sparse, id)
	} else {
		v.sparse[id] = state
	}
	v.mu.Unlock()
}

// grow extends the dense range to at least want ids (to a whole page),
// moving sparse entries that fall into it.
func (v *versionMap) grow(want uint64) {
	const perPage = 4 * wordsPerPage
	n := v.n.Load()
	want = max(want, 2*n)
	want = (want + perPage - 1) / perPage * perPage
	old := *v.dense.Load()
	pages := make([]*[wordsPerPage]atomic.Uint32, want/perPage)
	copy(pages, old)
	for i := len(old); i < len(pages); i++ {
		pages[i] = new([wordsPerPage]atomic.Uint32)
	}
	v.dense.Store(&pages)
	v.mu.Lock()
	for id, s := range v.sparse {
		if id < want {
			w := id / 4
			word := &pages[w/wordsPerPage][w%wordsPerPage]
			word.Store(word.Load() | uint32(s)<<(8*(id%4)))
			delete(v.sparse, id)
		}
	}
	v.n.Store(want)
	v.mu.Unlock()
}

// setRangeLive marks ids [0, n) live at version 0: the vectors of an
// offline build.
func (v *versionMap) setRangeLive(n uint64) {
	if n == 0 {
		return
	}
	v.grow(n)
	pages := *v.dense.Load()
	const all = uint32(stateLive) * 0x01010101
	full := n / 4
	for w := uint64(0); w < full; w++ {
		pages[w/wordsPerPage][w%wordsPerPage].Store(all)
	}
	for id := full * 4; id < n; id++ {
		v.set(id, stateLive)
	}
}

// count returns the number of live ids (a full scan: for Open and Check).
func (v *versionMap) count() int {
	c := 0
	v.each(func(_ uint64, s uint8) {
		if s&stateLive != 0 {
			c++
		}
	})
	return c
}

// each calls fn for every id whose state is not absent, dense ids first in
// increasing order, then sparse ids in no particular order. Writers must
// not run concurrently.
func (v *versionMap) each(fn func(id uint64, state uint8)) {
	n := v.n.Load()
	pages := *v.dense.Load()
	for w := uint64(0); w < n/4; w++ {
		word := pages[w/wordsPerPage][w%wordsPerPage].Load()
		if word == 0 {
			continue
		}
		for j := uint64(0); j < 4; j++ {
			if s := uint8(word >> (8 * j)); s != stateAbsent {
				fn(4*w+j, s)
			}
		}
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	for id, s := range v.sparse {
		fn(id, s)
	}
}

// bytes returns the memory the map holds (map entries estimated).
func (v *versionMap) bytes() int64 {
	pages := int64(len(*v.dense.Load())) * wordsPerPage * 4
	v.mu.RLock()
	defer v.mu.RUnlock()
	return pages + int64(len(v.sparse))*24
}
