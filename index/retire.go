package index

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
)

// Retire records ('x' posting u32) name stored postings whose old content
// searches may still read while a split or merge is published
// (publish.go). The value is empty when the posting goes away (merge), or
// the ids (u64 LE each) that stay in it (the split's first half). The
// maintainer removes the record with the old content; a record found at
// Open belongs to a unit cut short by a crash and is completed there.
// retireRecord is a decoded retire record: posting p, and the ids that
// stay in it (nil: the posting goes).
type retireRecord struct {
	p    uint32
	keep map[uint64]struct{}
}

// decodeRetire decodes the retire record k → v; another shape is
// ErrCorrupt.
func decodeRetire(k, v []byte) (retireRecord, error) {
	if len(k) != 5 || k[0] != byte(keys.Retire) || len(v)%8 != 0 {
		return retireRecord{}, fmt.Errorf("%w: retire record %x of %d bytes", ErrCorrupt, k, len(v))
	}
	r := retireRecord{p: binary.BigEndian.Uint32(k[1:])}
	if len(v) > 0 {
		r.keep = make(map[uint64]struct{}, len(v)/8)
		for i := 0; i < len(v); i += 8 {
			r.keep[binary.LittleEndian.Uint64(v[i:])] = struct{}{}
		}
	}
	return r, nil
}

func encodeKeep(ids []uint64) []byte {
	b := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint64(b, id)
	}
	return b
}

// finishRetired completes the retire records left by a crash: merged
// postings are deleted, split postings cut down to the ids they kept. It
// runs at Open, after the tree is loaded.
func (ix *Index) finishRetired() error {
	var recs []retireRecord
	err := ix.store.ScanPrefix(keys.Prefix(keys.Retire), func(k, v []byte) error {
		r, err := decodeRetire(k, v)
		if err == nil {
			recs = append(recs, r)
		}
		return err
	})
	if err != nil || len(recs) == 0 {
		return err
	}
	b := ix.store.NewBatch()
	defer b.Close()
	for _, r := range recs {
		b.Delete(keys.U32(keys.Retire, r.p))
		if r.keep == nil || !ix.tree.IsLeaf(r.p) {
			b.DeletePosting(r.p)
			continue
		}
		var m posting.Posting
		var dec posting.Posting
		err := ix.store.Read(r.p, func(buf []byte) error {
			if err := posting.Decode(buf, &dec); err != nil {
				return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, r.p, err)
			}
			return ix.appendStored(&m, r.p, &dec, func(id uint64, _ uint8) bool {
				_, ok := r.keep[id]
				return ok
			})
		})
		if err != nil && !errors.Is(err, posting.ErrNotFound) {
			return err
		}
		if err := ix.putPosting(b, r.p, &m, nil); err != nil {
			return err
		}
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("shoal: finish interrupted maintenance: %w", err)
	}
	ix.retiredAtOpen = len(recs)
	return nil
}
