// Package statemap keeps one state byte per uint64 id, compactly: the
// per-vector versions of SPFresh's version map, and the value versions of
// tenants' access records.
package statemap

import (
	"sync"
	"sync/atomic"
)

const (
	denseSlack   = 1 << 16 // ids this far past the dense range still grow it
	wordsPerPage = 1 << 14 // 64 Ki states per page of the dense range
)

// Map holds a state byte for every id; 0 is the state of an id never set.
// Ids in [0, dense) live in a dense array of packed bytes (one byte per
// id: an index built offline numbers its vectors 0..N-1); others in a map.
//
// Reads are lock-free for dense ids and take a read lock for sparse ones.
// Writes (Set, SetRange) must be serialised by the caller; a reader
// concurrent with a write sees the old or the new state.
type Map struct {
	dense  atomic.Pointer[[]*[wordsPerPage]atomic.Uint32]
	n      atomic.Uint64 // ids [0, n) are dense
	mu     sync.RWMutex
	sparse map[uint64]uint8
}

// New returns an empty map.
func New() *Map {
	v := &Map{sparse: make(map[uint64]uint8)}
	v.dense.Store(new([]*[wordsPerPage]atomic.Uint32))
	return v
}

// Get returns id's state byte.
func (v *Map) Get(id uint64) uint8 {
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

func (v *Map) denseGet(id uint64) uint8 {
	pages := *v.dense.Load()
	w := id / 4
	return uint8(pages[w/wordsPerPage][w%wordsPerPage].Load() >> (8 * (id % 4)))
}

// Set stores id's state. Callers serialise Set calls.
func (v *Map) Set(id uint64, state uint8) {
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
	if state == 0 {
		delete(v.sparse, id)
	} else {
		v.sparse[id] = state
	}
	v.mu.Unlock()
}

// grow extends the dense range to at least want ids (to a whole page),
// moving sparse entries that fall into it.
func (v *Map) grow(want uint64) {
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

// SetRange sets ids [0, n) to state: the vectors of an offline build.
// Callers serialise it with Set.
func (v *Map) SetRange(n uint64, state uint8) {
	if n == 0 {
		return
	}
	v.grow(n)
	pages := *v.dense.Load()
	all := uint32(state) * 0x01010101
	full := n / 4
	for w := uint64(0); w < full; w++ {
		pages[w/wordsPerPage][w%wordsPerPage].Store(all)
	}
	for id := full * 4; id < n; id++ {
		v.Set(id, state)
	}
}

// Each calls fn for every id whose state is not 0, dense ids first in
// increasing order, then sparse ids in no particular order. Writers must
// not run concurrently.
func (v *Map) Each(fn func(id uint64, state uint8)) {
	n := v.n.Load()
	pages := *v.dense.Load()
	for w := uint64(0); w < n/4; w++ {
		word := pages[w/wordsPerPage][w%wordsPerPage].Load()
		if word == 0 {
			continue
		}
		for j := uint64(0); j < 4; j++ {
			if s := uint8(word >> (8 * j)); s != 0 {
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

// Bytes returns the memory the map holds (map entries estimated).
func (v *Map) Bytes() int64 {
	pages := int64(len(*v.dense.Load())) * wordsPerPage * 4
	v.mu.RLock()
	defer v.mu.RUnlock()
	return pages + int64(len(v.sparse))*24
}
