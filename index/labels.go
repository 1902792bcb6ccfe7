package index

import (
	"fmt"

	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/posting"
)

// Labels: every vector may carry labels, uint32 ids chosen by the caller,
// and a search may take a filter expression over them (SearchParams.Filter,
// planned in search_filter.go). Package filter keeps the label bitmaps and
// records (filter.Labels); the methods below are their public face.

// MaxLabelsPerID bounds the labels of one vector (SetLabels).
const MaxLabelsPerID = filter.MaxLabelsPerID

// loadLabels rebuilds the label bitmaps at Open.
func (ix *Index) loadLabels() error {
	l, err := filter.LoadLabels(ix.store, ix.Contains)
	ix.lab = l
	return err
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
	return ix.setLabels(0, false, ids, labels)
}

// SetLabelsOwned is SetLabels on behalf of tenant owner (not 0): every
// id must hold a vector owner owns, checked under the writer lock with
// the write (else ErrNotOwned, and nothing changes), so a concurrent
// delete and re-insert of an id by another tenant cannot slip between
// the check and the write.
func (ix *Index) SetLabelsOwned(owner uint32, ids []uint64, labels [][]uint32) error {
	if owner == 0 {
		return fmt.Errorf("%w: SetLabelsOwned with owner 0 (use SetLabels)", ErrBadInput)
	}
	return ix.setLabels(owner, true, ids, labels)
}

func (ix *Index) setLabels(owner uint32, owned bool, ids []uint64, labels [][]uint32) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	if err := checkIDs(ids); err != nil {
		return err
	}
	norm, err := filter.NormalizeLabels(ids, labels)
	if err != nil {
		return err
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if err := ix.checkWritable("set labels", owner, owned, ids); err != nil {
		return err
	}
	b := ix.store.NewBatch()
	defer b.Close()
	publish, err := ix.stagePayloads(b, ids, norm, nil)
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

// Labels returns the labels of vector id, ascending (nil for none), or
// ErrNotFound for an id that holds no vector.
func (ix *Index) Labels(id uint64) ([]uint32, error) {
	if ix.closed.Load() {
		return nil, ErrClosed
	}
	if !ix.Contains(id) {
		return nil, fmt.Errorf("id %d: %w", id, ErrNotFound)
	}
	return ix.lab.Get(id, posting.ErrNotFound)
}

// LabelSets returns the labels of ids (distinct), ascending, read in id
// order with one iterator: nil for an id with none or with no vector.
func (ix *Index) LabelSets(ids []uint64) ([][]uint32, error) {
	if ix.closed.Load() {
		return nil, ErrClosed
	}
	if err := checkIDs(ids); err != nil {
		return nil, err
	}
	if ix.lab.Empty() {
		return make([][]uint32, len(ids)), nil
	}
	out, err := ix.lab.Many(ids)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if !ix.Contains(id) {
			out[i] = nil
		}
	}
	return out, nil
}

// LabelLen returns the number of vectors that carry label l.
func (ix *Index) LabelLen(l uint32) int { return int(ix.lab.Count(l)) }

// liveIDs calls fn for every live id (filter.Labels.Universe).
func (ix *Index) liveIDs(fn func(id uint64)) {
	ix.vers.each(func(id uint64, s uint8) {
		if s&stateLive != 0 {
			fn(id)
		}
	})
}
