package tenant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
)

// ID names a tenant.
type ID uint32

// Errors; test with errors.Is.
var (
	ErrExists   = errors.New("tenant: tenant exists")
	ErrNotFound = errors.New("tenant: no such tenant")
	ErrCorrupt  = errors.New("tenant: corrupt access list")
)

// Lists are the access lists of all tenants.
//
// Lists is safe for concurrent use. Readers get a View, an immutable
// snapshot of one tenant's list that stays valid however the list changes
// later: a list is copied on write (each Add or Remove makes a new
// bitmap), so a View is the list itself, shared by every reader until the
// next change, and memory holds one bitmap per tenant.
type Lists struct {
	mu      sync.RWMutex
	tenants map[ID]*list
}

type list struct {
	mu sync.Mutex
	bm *roaring64.Bitmap // the current list; never changed, replaced under mu
}

// NewLists returns empty Lists with no tenants.
func NewLists() *Lists { return &Lists{tenants: make(map[ID]*list)} }

// Create adds tenant t with an empty list.
func (l *Lists) Create(t ID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.tenants[t]; ok {
		return fmt.Errorf("%w: %d", ErrExists, t)
	}
	l.tenants[t] = &list{bm: roaring64.New()}
	return nil
}

// Drop removes tenant t and its list, returning the ids it held.
func (l *Lists) Drop(t ID) ([]uint64, error) {
	l.mu.Lock()
	tl, ok := l.tenants[t]
	delete(l.tenants, t)
	l.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, t)
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.bm.ToArray(), nil
}

// Exists reports whether tenant t exists.
func (l *Lists) Exists(t ID) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.tenants[t]
	return ok
}

// Len returns the number of tenants.
func (l *Lists) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.tenants)
}

// Tenants returns the tenant ids in increasing order.
func (l *Lists) Tenants() []ID {
	l.mu.RLock()
	out := make([]ID, 0, len(l.tenants))
	for t := range l.tenants {
		out = append(out, t)
	}
	l.mu.RUnlock()
	slices.Sort(out)
	return out
}

func (l *Lists) get(t ID) (*list, error) {
	l.mu.RLock()
	tl, ok := l.tenants[t]
	l.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, t)
	}
	return tl, nil
}

// Add puts ids on tenant t's list and returns how many were not on it.
func (l *Lists) Add(t ID, ids ...uint64) (int, error) {
	return l.change(t, ids, true)
}

// Remove takes ids off tenant t's list and returns how many were on it.
func (l *Lists) Remove(t ID, ids ...uint64) (int, error) {
	return l.change(t, ids, false)
}

func (l *Lists) change(t ID, ids []uint64, add bool) (int, error) {
	tl, err := l.get(t)
	if err != nil {
		return 0, err
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	// Copy only when something changes.
	if !slices.ContainsFunc(ids, func(id uint64) bool { return tl.bm.Contains(id) != add }) {
		return 0, nil
	}
	bm := tl.bm.Clone()
	n := 0
	for _, id := range ids {
		var changed bool
		if add {
			changed = bm.CheckedAdd(id)
		} else {
			changed = bm.CheckedRemove(id)
		}
		if changed {
			n++
		}
	}
	if n > 0 {
		bm.RunOptimize()
		tl.bm = bm
	}
	return n, nil
}

// View returns an immutable snapshot of tenant t's list. The caller must
// not modify it.
func (l *Lists) View(t ID) (*roaring64.Bitmap, error) {
	tl, err := l.get(t)
	if err != nil {
		return nil, err
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.bm, nil
}

// Can reports whether tenant t may read vector id (false for an unknown
// tenant).
func (l *Lists) Can(t ID, id uint64) bool {
	tl, err := l.get(t)
	if err != nil {
		return false
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.bm.Contains(id)
}

// Count returns the number of ids on tenant t's list.
func (l *Lists) Count(t ID) (uint64, error) {
	tl, err := l.get(t)
	if err != nil {
		return 0, err
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.bm.GetCardinality(), nil
}

// Marshal encodes tenant t's list for storage (roaring's portable format,
// run-optimised).
func (l *Lists) Marshal(t ID) ([]byte, error) {
	v, err := l.View(t)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := v.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("tenant %d: encode: %w", t, err)
	}
	return b.Bytes(), nil
}

// Load sets tenant t's list (creating the tenant) from Marshal's bytes.
func (l *Lists) Load(t ID, data []byte) error {
	bm, err := readBitmap(data)
	if err != nil {
		return fmt.Errorf("%w: tenant %d: %v", ErrCorrupt, t, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tenants[t] = &list{bm: bm}
	return nil
}

// Bytes returns the memory the lists' bitmaps hold, as roaring estimates
// it: the serialized size, well below the heap a small list takes (about
// 450 bytes for a list of a few ids: map entry, bitmap headers).
func (l *Lists) Bytes() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, tl := range l.tenants {
		tl.mu.Lock()
		n += int64(tl.bm.GetSizeInBytes())
		tl.mu.Unlock()
	}
	return n
}

// readBitmap decodes a serialized roaring64 bitmap. Roaring trusts the
// counts in its input (a count of 2^60 containers is a slice it tries to
// make): a count the bytes cannot hold is rejected first, and a panic of
// the decoder on other bad bytes becomes an error.
func readBitmap(data []byte) (bm *roaring64.Bitmap, err error) {
	// Each 32-bit bitmap takes at least its 4-byte key and 8 bytes of
	// header after the 8-byte count.
	if len(data) >= 8 && binary.LittleEndian.Uint64(data) > uint64(len(data)/12) {
		return nil, fmt.Errorf("%d bitmaps in %d bytes", binary.LittleEndian.Uint64(data), len(data))
	}
	defer func() {
		if r := recover(); r != nil {
			bm, err = nil, fmt.Errorf("decode: %v", r)
		}
	}()
	bm = roaring64.New()
	if _, err := bm.ReadFrom(bytes.NewReader(data)); err != nil {
		return nil, err
	}
	return bm, nil
}
