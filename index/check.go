package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/shoaldb/shoal/index/internal/tail"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
)

// Check verifies the index's invariants and returns nil, or an error
// (wrapping ErrCorrupt) that lists the first problems found:
//
//   - every stored posting decodes (checksum), has the index's element
//     type and dimension, and belongs to a live head of the tree;
//   - every live head's posting, if stored, is readable;
//   - every live vector has at least one current copy in a posting or a
//     tail, so an exhaustive search finds it, and every current copy holds
//     the vector stored for its id;
//   - the in-memory tails and id states equal the update log in the store;
//   - every stored upserted vector belongs to a live id, and every live id
//     outside the build's range has one.
//
// Check reads the whole index. Writers and maintenance wait while it runs;
// searches do not.
func (ix *Index) Check() error {
	if ix.closed.Load() {
		return ErrClosed
	}
	ix.maint.run.Lock()
	defer ix.maint.run.Unlock()
	ix.wmu.Lock()
	defer ix.wmu.Unlock()

	var problems []string
	report := func(format string, args ...any) bool {
		problems = append(problems, fmt.Sprintf(format, args...))
		return len(problems) < 20
	}
	tree := ix.tree
	covered := make(map[uint64]struct{}, ix.live.Load())
	// sameAsStored checks a current copy against the vector stored for
	// its id: a copy at the current version holding another vector would
	// be returned for the id.
	// Each id's stored vector is read once (upserted ones by the scan
	// below, built ones from the vectors file on first use); its checksum
	// stands for it.
	stored := make(map[uint64]uint32)
	sameAsStored := func(p uint32, id uint64, row []byte) {
		sum, ok := stored[id]
		if !ok {
			want, err := ix.storedRow(id)
			if err != nil {
				report("id %d: stored vector: %v", id, err)
				return
			}
			sum = crc32.Checksum(want, castagnoli)
			stored[id] = sum
		}
		if crc32.Checksum(row, castagnoli) != sum {
			report("posting %d: the current copy of id %d differs from its stored vector", p, id)
		}
	}
	records := make(map[uint64]struct{})
	// The upserted vectors, scanned in key order (point reads would cost
	// an O_DIRECT index-block read each): their checksums.
	err := ix.store.ScanPrefix(keys.Prefix(keys.Vector), func(k, v []byte) error {
		id := binary.BigEndian.Uint64(k[1:])
		records[id] = struct{}{}
		stored[id] = crc32.Checksum(v, castagnoli)
		if len(v) != ix.rowBytes {
			report("vector record %d of %d bytes", id, len(v))
		}
		if ix.vers.get(id)&stateLive == 0 {
			report("vector record %d of an id that is not live", id)
		}
		return nil
	})
	if err != nil {
		report("scan vectors: %v", err)
	}
	dim, elem := ix.man.Dim, ix.elem()
	var p posting.Posting
	tc := ix.ten.NewCheck()
	err = ix.store.Scan(func(id uint32, b []byte) error {
		if err := posting.Decode(b, &p); err != nil {
			if !report("posting %d: %v", id, err) {
				return errStop
			}
			return nil
		}
		if p.Dim != dim || p.Elem != elem {
			report("posting %d holds %d-dim %v, index %d-dim %v", id, p.Dim, p.Elem, dim, elem)
		}
		if t, ok := tc.Owner(id); ok {
			if tree.IsLeaf(id) {
				report("posting %d is both a head and a shortlist of tenant %d", id, t)
			}
			tc.Rows(t, id, &p, sameAsStored)
			return nil
		}
		if !tree.IsLeaf(id) {
			report("posting %d is stored but is no head of the tree", id)
		}
		for i, v := range p.IDs {
			if ix.vers.live(v, p.Versions[i]) {
				covered[v] = struct{}{}
				sameAsStored(id, v, p.Row(i))
			}
		}
		if len(problems) >= 20 {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		report("scan postings: %v", err)
	}

	for _, msg := range tc.Finish(20) {
		if !report("%s", msg) {
			break
		}
	}

	// Tails: memory against the update log.
	bad := func(format string, args ...any) { report(format, args...) }
	if err := ix.tails.CheckLog(ix.store.ScanPrefix, ix.rowBytes, tree.IsLeaf, bad); err != nil {
		report("scan update log: %v", err)
	}
	ix.tails.Each(func(p uint32, t *tail.Tail) {
		for i, id := range t.IDs {
			if ix.vers.live(id, t.Vers[i]) {
				covered[id] = struct{}{}
				sameAsStored(p, id, t.Vecs[i*ix.rowBytes:(i+1)*ix.rowBytes])
			}
		}
	})

	// Id states: memory against the log.
	logState := make(map[uint64]uint8)
	err = scanStates(ix.store, func(id uint64, st uint8) {
		logState[id] = st
		if got := ix.vers.get(id); got != st {
			report("id %d: state %#x in memory, %#x in the log", id, got, st)
		}
	})
	if err != nil {
		report("scan states: %v", err)
	}
	live := 0
	ix.vers.each(func(id uint64, st uint8) {
		if st&stateLive == 0 {
			return
		}
		live++
		if _, ok := logState[id]; !ok && id >= uint64(ix.man.Count) {
			report("id %d is live in memory but has no state record", id)
		}
		if _, ok := covered[id]; !ok {
			report("live id %d (version %d) has no current copy in any posting", id, st&versionMask)
		}
		if _, ok := records[id]; !ok && id >= uint64(ix.man.Count) {
			report("live id %d has no stored vector", id)
		}
	})
	if int64(live) != ix.live.Load() {
		report("live count %d, counted %d", ix.live.Load(), live)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d problem(s) found, first: %v", ErrCorrupt, len(problems), problems)
}

var errStop = errors.New("stop")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)
