package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// Labels: every vector may carry labels, uint32 ids chosen by the caller
// (a name → id mapping, if any, is the caller's), and a search may take a
// filter expression over them (SearchParams.Filter, package filter;
// planned in search_filter.go). In memory, each label has a roaring bitmap
// of the ids that carry it; the records below are the truth, one per
// labelled id, in the posting store's caller namespace, written in the
// same Pebble batch as the write they belong to:
//
//	'l' id u64 (BE) → format u8 (1), label u32 LE × n    id's labels: n ≥ 1,
//	                                                     ascending, distinct
//
// An id with no labels has no record. Delete removes the records of the
// ids it deletes (stageLabelDelete), so an id upserted again starts with
// no labels. Upserting a live id keeps its labels.

const (
	keyLabel = 'l'
	// labelFormat is the first byte of a label record.
	labelFormat = 1
	// MaxLabelsPerID bounds the labels of one vector (SetLabels).
	MaxLabelsPerID = 4096
)

// labelIndex is the in-memory label state: per label, the ids that carry
// it. Writers change it holding ix.wmu; searches read views.
//
// A view is an immutable snapshot of one label's bitmap, cloned at most
// once per change (as tenant.Lists does), so searches between changes
// share one copy.
type labelIndex struct {
	mu   sync.RWMutex // guards bits (the map; each entry has its own mu)
	bits map[uint32]*labelBits

	// uni caches the live ids for NOT (universe); key is the (upserts,
	// deletes) counters it was built at.
	uniMu  sync.Mutex
	uni    *roaring64.Bitmap
	uniKey [2]int64
}

type labelBits struct {
	mu   sync.Mutex
	bm   *roaring64.Bitmap // changed in place under mu
	view *roaring64.Bitmap // immutable copy of bm, nil after a change
}

func newLabelIndex() *labelIndex { return &labelIndex{bits: make(map[uint32]*labelBits)} }

func (li *labelIndex) get(l uint32) *labelBits {
	li.mu.RLock()
	defer li.mu.RUnlock()
	return li.bits[l]
}

// add puts ids (ascending is fastest) on label l.
func (li *labelIndex) add(l uint32, ids []uint64) {
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
func (li *labelIndex) remove(l uint32, ids []uint64) {
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
// filter.Eval. The caller must not change it.
func (li *labelIndex) Bitmap(l uint32) *roaring64.Bitmap {
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

var _ filter.Source = (*labelIndex)(nil)

// count returns the number of ids with label l.
func (li *labelIndex) count(l uint32) uint64 {
	lb := li.get(l)
	if lb == nil {
		return 0
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.bm.GetCardinality()
}

// dropIDs takes the ids of gone off every label and returns those that
// had any.
func (li *labelIndex) dropIDs(gone *roaring64.Bitmap) *roaring64.Bitmap {
	had := roaring64.New()
	li.mu.Lock()
	defer li.mu.Unlock()
	for l, lb := range li.bits {
		lb.mu.Lock()
		if lb.bm.Intersects(gone) {
			had.Or(roaring64.And(lb.bm, gone))
			lb.bm.AndNot(gone)
			lb.view = nil
			if lb.bm.IsEmpty() {
				delete(li.bits, l)
			}
		}
		lb.mu.Unlock()
	}
	return had
}

func (li *labelIndex) len() int {
	li.mu.RLock()
	defer li.mu.RUnlock()
	return len(li.bits)
}

// universe returns the live ids of ix (NOT's complement), rebuilt when an
// upsert or delete happened since the last call. A write racing with the
// build may or may not be in it; searches check liveness anyway.
func (li *labelIndex) universe(ix *Index) *roaring64.Bitmap {
	key := [2]int64{ix.upserts.Load(), ix.deletes.Load()}
	li.uniMu.Lock()
	defer li.uniMu.Unlock()
	if li.uni != nil && li.uniKey == key {
		return li.uni
	}
	u := roaring64.New()
	var lo, hi uint64 // the run [lo, hi) of live ids being collected
	var sparse []uint64
	ix.vers.each(func(id uint64, s uint8) {
		if s&stateLive == 0 {
			return
		}
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

func labelKey(id uint64) []byte { return idKey(keyLabel, id) }

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
		return nil, fmt.Errorf("%w: label record of %d bytes (format %d)", ErrCorrupt, len(b), firstByte(b))
	}
	ls := make([]uint32, (len(b)-1)/4)
	for i := range ls {
		ls[i] = binary.LittleEndian.Uint32(b[1+4*i:])
		if i > 0 && ls[i] <= ls[i-1] {
			return nil, fmt.Errorf("%w: label record not ascending (%d after %d)", ErrCorrupt, ls[i], ls[i-1])
		}
	}
	return ls, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// normLabels returns ls sorted without duplicates, in a new slice.
func normLabels(ls []uint32) []uint32 {
	out := slices.Clone(ls)
	slices.Sort(out)
	return slices.Compact(out)
}

// SetLabels replaces the labels of each ids[i] with labels[i] (nil or
// empty: none; order and duplicates do not matter). Every id must hold a
// vector (else ErrNotFound, and nothing changes). The batch is atomic,
// and durable on return unless Options.NoSync is set. A search that runs
// concurrently sees each id's old labels or its new ones.
//
// Errors: ErrBadInput for an empty batch, len(ids) != len(labels), an id
// twice in the batch or more than MaxLabelsPerID labels on one id;
// ErrNotFound.
func (ix *Index) SetLabels(ids []uint64, labels [][]uint32) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	if err := checkIDs(ids); err != nil {
		return err
	}
	norm, err := checkLabels(ids, labels)
	if err != nil {
		return err
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	for _, id := range ids {
		if !ix.Contains(id) {
			return fmt.Errorf("shoal: set labels: id %d: %w", id, ErrNotFound)
		}
	}
	b := ix.store.NewBatch()
	defer b.Close()
	publish, err := ix.stageLabels(b, ids, norm)
	if err != nil {
		return err
	}
	if b.Len() == 0 {
		return nil
	}
	if err := b.Commit(false); err != nil {
		return fmt.Errorf("shoal: set labels: %w", err)
	}
	publish()
	return ix.syncWrites()
}

// checkLabels checks label sets for ids and returns them normalised
// (ascending, distinct).
func checkLabels(ids []uint64, labels [][]uint32) ([][]uint32, error) {
	if len(ids) != len(labels) {
		return nil, fmt.Errorf("%w: %d ids for %d label sets", ErrBadInput, len(ids), len(labels))
	}
	norm := make([][]uint32, len(ids))
	for i, ls := range labels {
		if len(ls) > MaxLabelsPerID {
			return nil, fmt.Errorf("%w: id %d has %d labels, at most %d", ErrBadInput, ids[i], len(ls), MaxLabelsPerID)
		}
		norm[i] = normLabels(ls)
	}
	return norm, nil
}

// stageLabels stages in b the replacement of the labels of ids (distinct)
// by norm (normalised) and returns the function that updates the label
// bitmaps, to call once b has committed. The caller holds wmu.
func (ix *Index) stageLabels(b *pebblestore.Batch, ids []uint64, norm [][]uint32) (publish func(), err error) {
	old, err := ix.labelsMany(ids)
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
			b.Delete(labelKey(id))
		} else {
			b.Set(labelKey(id), encodeLabels(norm[i]))
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
			ix.lab.add(l, ids)
		}
		for l, ids := range del {
			ix.lab.remove(l, ids)
		}
	}, nil
}

// labelsMany returns the stored labels of ids (distinct; nil for none),
// read in id order with one iterator.
func (ix *Index) labelsMany(ids []uint64) ([][]uint32, error) {
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case ids[a] < ids[b]:
			return -1
		case ids[a] > ids[b]:
			return 1
		}
		return 0
	})
	keys := make([][]byte, len(ids))
	for j, i := range order {
		keys[j] = labelKey(ids[i])
	}
	out := make([][]uint32, len(ids))
	err := ix.store.GetSorted(keys, func(j int, v []byte) error {
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

// Labels returns the labels of vector id, ascending (nil for none), or
// ErrNotFound for an id that holds no vector.
func (ix *Index) Labels(id uint64) ([]uint32, error) {
	if ix.closed.Load() {
		return nil, ErrClosed
	}
	if !ix.Contains(id) {
		return nil, fmt.Errorf("id %d: %w", id, ErrNotFound)
	}
	v, err := ix.store.Get(labelKey(id))
	if errors.Is(err, posting.ErrNotFound) {
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

// LabelLen returns the number of vectors that carry label l.
func (ix *Index) LabelLen(l uint32) int { return int(ix.lab.count(l)) }

// stageLabelDelete stages in b the deletion of the label records of the
// deleted ids gone and returns the function that takes them off the label
// bitmaps, to call once b has committed (a failed commit changes nothing).
func (ix *Index) stageLabelDelete(b *pebblestore.Batch, gone []uint64) (publish func()) {
	if len(gone) == 0 || ix.lab.len() == 0 {
		return func() {}
	}
	for _, id := range gone {
		b.Delete(labelKey(id)) // a tombstone where id had no labels
	}
	return func() { ix.lab.dropIDs(roaring64.BitmapOf(gone...)) }
}

// loadLabels rebuilds the label bitmaps at Open from the label records.
// Records of ids that hold no vector are skipped (left by a deletion path
// without stageLabelDelete).
func (ix *Index) loadLabels() error {
	li := newLabelIndex()
	ix.lab = li
	byLabel := make(map[uint32][]uint64)
	pending := 0
	flush := func() {
		for l, ids := range byLabel {
			li.add(l, ids)
			delete(byLabel, l)
		}
		pending = 0
	}
	err := ix.store.ScanPrefix([]byte{keyLabel}, func(k, v []byte) error {
		if len(k) != 9 {
			return fmt.Errorf("%w: label record key %x", ErrCorrupt, k)
		}
		id := binary.BigEndian.Uint64(k[1:])
		ls, err := decodeLabels(v)
		if err != nil {
			return fmt.Errorf("id %d: %w", id, err)
		}
		if !ix.Contains(id) {
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
		return err
	}
	flush()
	return nil
}
