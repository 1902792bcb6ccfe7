package filter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
)

// Labels: every vector of an index may carry labels, uint32 ids chosen by
// the caller (a name → id mapping, if any, is the caller's), and a search
// may take an expression over them. In memory, each label has a roaring
// bitmap of the ids that carry it; the records below are the truth, one
// per labelled id, in the caller-record space of the index's posting
// store, written in the same batch as the write they belong to:
//
//	'l' id u64 (BE) → format u8 (1), label u32 LE × n    id's labels: n ≥ 1,
//	                                                     ascending, distinct
//
// An id with no labels has no record. A delete removes the records of
// the ids it deletes (StageDelete), so an id upserted again starts with
// no labels. Upserting a live id keeps its labels.

const (
	// labelFormat is the first byte of a label record.
	labelFormat = 1
	// MaxLabelsPerID bounds the labels of one vector.
	MaxLabelsPerID = 4096
)

// Store is what Labels reads of the index's posting store.
type Store interface {
	Get(key []byte) ([]byte, error)
	GetSorted(keys [][]byte, fn func(i int, value []byte) error) error
	ScanPrefix(prefix []byte, fn func(key, value []byte) error) error
}

// Batch is the part of a posting-store batch label changes stage into.
type Batch interface {
	Set(key, value []byte)
	Delete(key []byte)
}

// Labels is the label state of one index: per label, the ids that carry
// it. Writers (the Stage methods and the functions they return) are
// serialised by the index's writer lock; searches read snapshots
// (Bitmap) and never wait for them.
//
// A snapshot is an immutable copy of one label's bitmap, cloned at most
// once per change, so searches between changes share one copy.
type Labels struct {
	store Store

	mu   sync.RWMutex // guards bits (the map; each entry has its own mu)
	bits map[uint32]*labelBits

	// uni caches the live ids for NOT (Universe); key is the write
	// counters it was built at.
	uniMu  sync.Mutex
	uni    *roaring64.Bitmap
	uniKey [2]int64
}

type labelBits struct {
	mu   sync.Mutex
	bm   *roaring64.Bitmap // changed in place under mu
	view *roaring64.Bitmap // immutable copy of bm, nil after a change
}

var _ Source = (*Labels)(nil)

// LoadLabels rebuilds the label bitmaps from the label records of store.
// Records of ids that are not live (left by a deletion path that did not
// stage their removal) are skipped.
func LoadLabels(store Store, live func(id uint64) bool) (*Labels, error) {
	li := &Labels{store: store, bits: make(map[uint32]*labelBits)}
	byLabel := make(map[uint32][]uint64)
	pending := 0
	flush := func() {
		for l, ids := range byLabel {
			li.add(l, ids)
			delete(byLabel, l)
		}
		pending = 0
	}
	err := store.ScanPrefix(keys.Prefix(keys.Label), func(k, v []byte) error {
		if len(k) != 9 {
			return fmt.Errorf("%w: label record key %x", errs.Corrupt, k)
		}
		id := binary.BigEndian.Uint64(k[1:])
		ls, err := decodeLabels(v)
		if err != nil {
			return fmt.Errorf("id %d: %w", id, err)
		}
		if !live(id) {
			return nil
		}
		for _, l := range ls {
			byLabel[l] = append(byLabel[l], id)
		}
		if pending += len(ls); pending >= 1<<20 {
			flush()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	flush()
	return li, nil
}

func (li *Labels) get(l uint32) *labelBits {
	li.mu.RLock()
	defer li.mu.RUnlock()
	return li.bits[l]
}

// add puts ids (ascending is fastest) on label l.
func (li *Labels) add(l uint32, ids []uint64) {
	lb := li.get(l)
	if lb == nil {
		li.mu.Lock()
		if lb = li.bits[l]; lb == nil {
			lb = &labelBits{bm: roaring64.New()}
			li.bits[l] = lb
		}
		li.mu.Unlock()
	}
	lb.mu.Lock()
	lb.bm.AddMany(ids)
	lb.view = nil
	lb.mu.Unlock()
}

// remove takes ids off label l, dropping the label when it empties.
func (li *Labels) remove(l uint32, ids []uint64) {
	lb := li.get(l)
	if lb == nil {
		return
	}
	lb.mu.Lock()
	for _, id := range ids {
		lb.bm.Remove(id)
	}
	lb.view = nil
	empty := lb.bm.IsEmpty()
	lb.mu.Unlock()
	if empty {
		li.mu.Lock()
		delete(li.bits, l)
		li.mu.Unlock()
	}
}

// Bitmap returns a snapshot of the ids with label l (nil for none), for
// Eval. The caller must not change it.
func (li *Labels) Bitmap(l uint32) *roaring64.Bitmap {
	lb := li.get(l)
	if lb == nil {
		return nil
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.view == nil {
		lb.view = lb.bm.Clone()
		lb.view.RunOptimize()
	}
	return lb.view
}

// Count returns the number of ids with label l.
func (li *Labels) Count(l uint32) uint64 {
	lb := li.get(l)
	if lb == nil {
		return 0
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.bm.GetCardinality()
}

// dropIDs takes the ids of gone off every label.
func (li *Labels) dropIDs(gone *roaring64.Bitmap) {
	li.mu.Lock()
	defer li.mu.Unlock()
	for l, lb := range li.bits {
		lb.mu.Lock()
		if lb.bm.Intersects(gone) {
			lb.bm.AndNot(gone)
			lb.view = nil
			if lb.bm.IsEmpty() {
				delete(li.bits, l)
			}
		}
		lb.mu.Unlock()
	}
}

// Empty reports whether no id carries a label.
func (li *Labels) Empty() bool { return li.len() == 0 }

func (li *Labels) len() int {
	li.mu.RLock()
	defer li.mu.RUnlock()
	return len(li.bits)
}

// Universe returns the live ids (NOT's complement), built by each, which
// calls its argument for every live id (dense ids ascending first, then
// the others in any order). It is rebuilt only when key (the index's
// write counters) changed since the last call. A write racing with the
// build may or may not be in it; searches check liveness anyway.
func (li *Labels) Universe(key [2]int64, each func(fn func(id uint64))) *roaring64.Bitmap {
	li.uniMu.Lock()
	defer li.uniMu.Unlock()
	if li.uni != nil && li.uniKey == key {
		return li.uni
	}
	u := roaring64.New()
	var lo, hi uint64 // the run [lo, hi) of live ids being collected
	var sparse []uint64
	each(func(id uint64) {
		switch {
		case id == hi:
			hi++
		case id > hi:
			if hi > lo {
				u.AddRange(lo, hi)
			}
			lo, hi = id, id+1
		default: // sparse ids come last, in no order
			sparse = append(sparse, id)
		}
	})
	if hi > lo {
		u.AddRange(lo, hi)
	}
	u.AddMany(sparse)
	u.RunOptimize()
	li.uni, li.uniKey = u, key
	return u
}

func encodeLabels(ls []uint32) []byte {
	b := make([]byte, 1, 1+4*len(ls))
	b[0] = labelFormat
	for _, l := range ls {
		b = binary.LittleEndian.AppendUint32(b, l)
	}
	return b
}

// decodeLabels decodes a label record, checking its format byte, length
// and order.
func decodeLabels(b []byte) ([]uint32, error) {
	if len(b) < 5 || b[0] != labelFormat || (len(b)-1)%4 != 0 {
		first := -1
		if len(b) > 0 {
			first = int(b[0])
		}
		return nil, fmt.Errorf("%w: label record of %d bytes (format %d)", errs.Corrupt, len(b), first)
	}
	ls := make([]uint32, (len(b)-1)/4)
	for i := range ls {
		ls[i] = binary.LittleEndian.Uint32(b[1+4*i:])
		if i > 0 && ls[i] <= ls[i-1] {
			return nil, fmt.Errorf("%w: label record not ascending (%d after %d)", errs.Corrupt, ls[i], ls[i-1])
		}
	}
	return ls, nil
}

// NormalizeLabels checks label sets for ids and returns them normalised
// (ascending, distinct, in new slices): errs.BadInput for len(ids) !=
// len(labels) or more than MaxLabelsPerID labels on one id.
func NormalizeLabels(ids []uint64, labels [][]uint32) ([][]uint32, error) {
	if len(ids) != len(labels) {
		return nil, fmt.Errorf("%w: %d ids for %d label sets", errs.BadInput, len(ids), len(labels))
	}
	norm := make([][]uint32, len(ids))
	for i, ls := range labels {
		if len(ls) > MaxLabelsPerID {
			return nil, fmt.Errorf("%w: id %d has %d labels, at most %d", errs.BadInput, ids[i], len(ls), MaxLabelsPerID)
		}
		out := slices.Clone(ls)
		slices.Sort(out)
		norm[i] = slices.Compact(out)
	}
	return norm, nil
}

// StageSet stages in b the replacement of the labels of ids (distinct) by
// norm (NormalizeLabels) and returns the function that updates the
// bitmaps, to call once b has committed.
func (li *Labels) StageSet(b Batch, ids []uint64, norm [][]uint32) (publish func(), err error) {
	old, err := li.many(ids)
	if err != nil {
		return nil, err
	}
	add := make(map[uint32][]uint64)
	del := make(map[uint32][]uint64)
	for i, id := range ids {
		if slices.Equal(old[i], norm[i]) {
			continue
		}
		if len(norm[i]) == 0 {
			b.Delete(keys.ID(keys.Label, id))
		} else {
			b.Set(keys.ID(keys.Label, id), encodeLabels(norm[i]))
		}
		for _, l := range norm[i] {
			if _, ok := slices.BinarySearch(old[i], l); !ok {
				add[l] = append(add[l], id)
			}
		}
		for _, l := range old[i] {
			if _, ok := slices.BinarySearch(norm[i], l); !ok {
				del[l] = append(del[l], id)
			}
		}
	}
	return func() {
		for l, ids := range add {
			slices.Sort(ids)
			li.add(l, ids)
		}
		for l, ids := range del {
			li.remove(l, ids)
		}
	}, nil
}

// Many returns the stored labels of ids (distinct; nil for none), read
// in id order with one iterator.
func (li *Labels) Many(ids []uint64) ([][]uint32, error) { return li.many(ids) }

func (li *Labels) many(ids []uint64) ([][]uint32, error) {
	order, ks := keys.SortedIDs(keys.Label, ids)
	out := make([][]uint32, len(ids))
	err := li.store.GetSorted(ks, func(j int, v []byte) error {
		i := order[j]
		ls, err := decodeLabels(v)
		if err != nil {
			return fmt.Errorf("id %d: %w", ids[i], err)
		}
		out[i] = ls
		return nil
	})
	return out, err
}

// Get returns the labels of id, ascending (nil for none). notFound is the
// store's error for a missing record.
func (li *Labels) Get(id uint64, notFound error) ([]uint32, error) {
	v, err := li.store.Get(keys.ID(keys.Label, id))
	if errors.Is(err, notFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ls, err := decodeLabels(v)
	if err != nil {
		return nil, fmt.Errorf("id %d: %w", id, err)
	}
	return ls, nil
}

// StageDelete stages in b the deletion of the label records of the
// deleted ids gone and returns the function that takes them off the
// bitmaps, to call once b has committed (a failed commit changes
// nothing).
func (li *Labels) StageDelete(b Batch, gone []uint64) (publish func()) {
	if len(gone) == 0 || li.len() == 0 {
		return func() {}
	}
	for _, id := range gone {
		b.Delete(keys.ID(keys.Label, id)) // a tombstone where id had no labels
	}
	return func() { li.dropIDs(roaring64.BitmapOf(gone...)) }
}
