package index

import (
	"encoding/binary"
	"fmt"

	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/internal/statemap"
	"github.com/shoaldb/shoal/posting"
)

// A vector's state is one byte (SPFresh's version map): 0 means absent
// (never stored, or deleted); otherwise the high bit is set and the low
// seven bits are the version of the copies that are current. Every copy in
// a posting carries the version it was written with; a copy whose version
// is not the id's current one is stale and skipped on read. A deleted id
// keeps its version (without the high bit), so that a later upsert never
// revives copies written at it.
//
// Versions wrap after 128 upserts of one id. A copy 128 upserts old would
// match again; postings are rewritten (and stale copies dropped) long
// before that in practice, as SPFresh accepts too.
const (
	stateLive   = 0x80
	versionMask = 0x7f
	stateAbsent = 0
)

func liveState(version uint8) uint8 { return stateLive | version&versionMask }

// versionMap holds the state byte of every id in a statemap.Map: reads
// are lock-free for the dense ids of a build; writes are serialised by
// the index's writer mutex, and a concurrent reader sees the old or the
// new state.
type versionMap struct{ m *statemap.Map }

func newVersionMap() *versionMap { return &versionMap{statemap.New()} }

func (v *versionMap) get(id uint64) uint8        { return v.m.Get(id) }
func (v *versionMap) set(id uint64, state uint8) { v.m.Set(id, state) }

// live reports whether a copy of id written with version ver is current.
func (v *versionMap) live(id uint64, ver uint8) bool { return v.m.Get(id) == liveState(ver) }

// setRangeLive marks ids [0, n) live at version 0: the vectors of an
// offline build.
func (v *versionMap) setRangeLive(n uint64) { v.m.SetRange(n, stateLive) }

// each calls fn for every id whose state is not absent (statemap.Map.Each).
func (v *versionMap) each(fn func(id uint64, state uint8)) { v.m.Each(fn) }

// count returns the number of live ids (a full scan: for Open and Check).
func (v *versionMap) count() int {
	c := 0
	v.m.Each(func(_ uint64, s uint8) {
		if s&stateLive != 0 {
			c++
		}
	})
	return c
}

// scanStates calls fn with every state record of store ('r' id → state),
// in id order; a record of another shape is ErrCorrupt.
func scanStates(store posting.Store, fn func(id uint64, state uint8)) error {
	return store.ScanPrefix(keys.Prefix(keys.State), func(k, v []byte) error {
		if len(k) != 9 || len(v) != 1 {
			return fmt.Errorf("%w: state record %x = %x", ErrCorrupt, k, v)
		}
		fn(binary.BigEndian.Uint64(k[1:]), v[0])
		return nil
	})
}
