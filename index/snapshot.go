package index

import (
	"fmt"
	"slices"

	"github.com/shoaldb/shoal/internal/vec"
)

// Reads for logical snapshots (the server's CreateSnapshot): the ids that
// hold a vector (AppendIDs), then their vectors, owners and grants in id
// order (ReadSorted): everything a new index needs to hold the same
// vectors for the same tenants.

// AppendIDs appends every id that holds a vector to dst, in increasing
// order, and returns it. It holds the writer lock while it reads the
// version map, so it sees each upsert or delete batch whole or not at
// all; writes that start after it returns are not reflected. Callers
// that read the vectors of the ids afterwards must keep writers out
// themselves for the ids, vectors and access lists to agree.
func (ix *Index) AppendIDs(dst []uint64) ([]uint64, error) {
	if ix.closed.Load() {
		return dst, ErrClosed
	}
	ix.wmu.Lock()
	start := len(dst)
	ix.vers.each(func(id uint64, s uint8) {
		if s&stateLive != 0 {
			dst = append(dst, id)
		}
	})
	ix.wmu.Unlock()
	// Dense ids come sorted; the sparse ones follow in map order.
	slices.Sort(dst[start:])
	return dst, nil
}

// ReadSorted reads the stored vectors and access lists of ids, which
// must be in increasing order and each hold a vector, with two ordered
// scans (one iterator over the vector records, one over the access
// records) instead of a lookup per id. It calls fn for each id in order
// with its vector (decoded to float32 as Get returns it), its owner (0
// for none) and the other tenants it was granted to; v and granted are
// valid only while fn runs. An id that holds no vector is ErrNotFound:
// callers keep writers out (see AppendIDs).
func (ix *Index) ReadSorted(ids []uint64, fn func(i int, v []float32, owner uint32, granted []uint32) error) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	if len(ids) == 0 {
		return nil
	}
	for i, id := range ids {
		if i > 0 && ids[i-1] >= id {
			return fmt.Errorf("%w: ids %d and %d out of order", ErrBadInput, ids[i-1], id)
		}
		if !ix.Contains(id) {
			return fmt.Errorf("id %d: %w", id, ErrNotFound)
		}
	}
	rows, err := ix.storedRows(ids)
	if err != nil {
		return err
	}
	owners, granted, err := ix.ten.Access(ids)
	if err != nil {
		return err
	}
	rb := ix.rowBytes
	grants := make([]uint32, 0, 8)
	v := make([]float32, ix.man.Dim)
	for i := range ids {
		vec.ToFloat32(ix.elem(), rows[i*rb:(i+1)*rb], v)
		grants = grants[:0]
		for _, t := range granted[i] {
			grants = append(grants, uint32(t))
		}
		if err := fn(i, v, uint32(owners[i]), grants); err != nil {
			return err
		}
	}
	return nil
}
