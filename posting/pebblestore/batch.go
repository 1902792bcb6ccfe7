package pebblestore

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/posting"
)

// Online updates (SPFresh's in-place posting rewrites, DESIGN.md
// "Updates"): a Batch groups caller records and posting rewrites into one
// atomic change.
//
// PutPosting writes the posting's bytes at once to the active segment, at
// an offset no other batch gets. Commit then (1) syncs those bytes,
// (2) commits one Pebble batch holding the caller records and the
// directory overrides of the batch's postings, the commit point, and
// (3) publishes the new locations to readers and drops the postings from
// the cache. A crash before (2) leaves unreferenced bytes in a segment
// (garbage, or an orphan file that Open deletes); a crash after it leaves
// the whole batch, since the bytes it refers to were synced first.
//
// Ordering: commits of batches that share a posting id are serialized
// (Store.idLocks), so the order of their Pebble commits, which decides
// what a restart sees, is the order in which memory is updated. A bulk
// commit excludes Batch commits (Store.commitMu), because it folds the
// directory in memory into the blob and deletes every override.

var errBatchDone = errors.New("pebblestore: batch already committed or closed")

// Batch is an atomic group of changes, and a posting.Batch (see its
// contract): caller records (Set, Delete, DeleteRange) and postings
// (PutPosting, DeletePosting), applied together by Commit. A Batch is not
// safe for concurrent use; any number of Batches may be open and
// committed concurrently. Once committed or closed a Batch is done:
// PutPosting and Commit return an error, and Set, Delete, DeleteRange and
// DeletePosting panic.
type Batch struct {
	s    *Store
	pb   *pebble.Batch
	ids  []uint32
	locs []location // new location of ids[i]; length 0 deletes
	puts bool       // some PutPosting
	// writers are the segments PutPosting wrote to; the batch counts
	// among their users until it is done.
	writers []*segWriter
	buf     []byte // aligned staging buffer of PutPosting
	done    bool
	// from holds, for postings a compaction moves, the location it read
	// them at (unmoved).
	from map[uint32]location
}

// NewBatch starts an atomic group of changes (a *Batch).
func (s *Store) NewBatch() posting.Batch { return s.newBatch() }

func (s *Store) newBatch() *Batch {
	return &Batch{s: s, pb: s.db.NewBatch()}
}

func (b *Batch) mustOpen() {
	if b.done {
		panic(errBatchDone)
	}
}

// Set stores value under the caller key key. Both are copied.
func (b *Batch) Set(key, value []byte) {
	b.mustOpen()
	ns := b.s.ns
	op := b.pb.SetDeferred(len(ns)+1+len(key), len(value))
	copy(op.Key, ns)
	op.Key[len(ns)] = prefixUser
	copy(op.Key[len(ns)+1:], key)
	copy(op.Value, value)
	if err := op.Finish(); err != nil {
		panic(fmt.Sprintf("pebblestore: batch set: %v", err))
	}
}

// Delete deletes the caller key key.
func (b *Batch) Delete(key []byte) {
	b.mustOpen()
	b.stageKey(b.pb.DeleteDeferred(len(b.s.ns)+1+len(key)), key)
}

// DeleteOnce deletes the caller key key, which was set once since it was
// last deleted: a Pebble single delete, which cancels out with the set it
// deletes wherever the two meet (a flush of both leaves neither).
func (b *Batch) DeleteOnce(key []byte) {
	b.mustOpen()
	b.stageKey(b.pb.SingleDeleteDeferred(len(b.s.ns)+1+len(key)), key)
}

// stageKey fills op's key, sized for it, with caller key key under the
// store's namespace, and finishes op.
func (b *Batch) stageKey(op *pebble.DeferredBatchOp, key []byte) {
	ns := b.s.ns
	copy(op.Key, ns)
	op.Key[len(ns)] = prefixUser
	copy(op.Key[len(ns)+1:], key)
	if err := op.Finish(); err != nil {
		panic(fmt.Sprintf("pebblestore: batch delete: %v", err))
	}
}

// DeleteRange deletes the caller keys in [start, end); a nil end means no
// upper bound. An empty range deletes nothing.
func (b *Batch) DeleteRange(start, end []byte) {
	b.mustOpen()
	var hi []byte
	if end == nil {
		hi = b.s.key(prefixUser+1, nil)
	} else {
		if bytes.Compare(start, end) >= 0 {
			return
		}
		hi = b.s.userKey(end)
	}
	if err := b.pb.DeleteRange(b.s.userKey(start), hi, nil); err != nil {
		panic(fmt.Sprintf("pebblestore: batch delete range: %v", err))
	}
}

// Len returns the approximate encoded size of the batch's caller records,
// for callers that bound the size of their batches: 0 without records
// (Pebble counts its batch header even then) and once the batch is done.
func (b *Batch) Len() int {
	if b.done || b.pb.Empty() {
		return 0
	}
	return b.pb.Len()
}

// PutPosting writes encoded as posting id. The bytes go to the store's
// active segment now (4 KiB aligned, zero padded); the posting replaces
// any previous one of id when Commit returns. A later PutPosting or
// DeletePosting of id in the same batch takes precedence.
func (b *Batch) PutPosting(id uint32, encoded []byte) error {
	if b.done {
		return errBatchDone
	}
	if id > MaxPostingID {
		return fmt.Errorf("pebblestore: posting id %d above the maximum %d", id, MaxPostingID)
	}
	if len(encoded) == 0 {
		return fmt.Errorf("pebblestore: posting %d is empty", id)
	}
	if int64(len(encoded)) > math.MaxUint32 {
		return fmt.Errorf("pebblestore: posting %d of %d bytes is too large", id, len(encoded))
	}
	span := roundUp(int64(len(encoded)), pageSize)
	if int64(len(b.buf)) < span {
		b.buf = directio.AlignedBuffer(int(span), pageSize)
	}
	buf := b.buf[:span]
	clear(buf[copy(buf, encoded):])
	w, off, err := b.s.reserve(b, span)
	if err != nil {
		return err
	}
	if err := w.write(buf, off); err != nil {
		return err
	}
	b.ids = append(b.ids, id)
	b.locs = append(b.locs, location{seg: w.seg.num, length: uint32(len(encoded)), off: uint64(off)})
	b.puts = true
	return nil
}

// DeletePosting deletes posting id when Commit returns. Deleting a posting
// that does not exist is not an error.
func (b *Batch) DeletePosting(id uint32) {
	b.mustOpen()
	b.ids = append(b.ids, id)
	b.locs = append(b.locs, location{})
}

// Commit applies the batch atomically. If it holds postings, their bytes
// are synced first and the Pebble commit is synced; otherwise it is synced
// only if sync is set. When Commit returns nil, readers see the new
// postings and caller records. After Commit, successful or not, the batch
// is done.
func (b *Batch) Commit(sync bool) error {
	if b.done {
		return errBatchDone
	}
	defer b.finish()
	s := b.s
	if err := s.healthErr(); err != nil {
		return err
	}
	for _, w := range b.writers {
		if err := w.sync(); err != nil {
			return err
		}
	}
	sync = sync || b.puts
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if len(b.ids) == 0 {
		if err := s.db.Commit(b.pb, opts); err != nil {
			return fmt.Errorf("pebblestore: commit: %w", pebbleErr(err))
		}
		return s.health.fatalErr()
	}
	s.commitMu.RLock()
	defer s.commitMu.RUnlock()
	locked := b.ids
	s.idLocks.lock(locked)
	defer s.idLocks.unlock(locked)
	ids, locs := b.unmoved()
	var k [maxNamespaceLen + overrideKeyLen]byte
	var v [overrideLen]byte
	for i, id := range ids {
		if err := b.pb.Set(overrideKey(append(k[:0], s.ns...), id), appendLocation(v[:0], locs[i]), nil); err != nil {
			return fmt.Errorf("pebblestore: commit: %w", err)
		}
	}
	if err := s.db.Commit(b.pb, opts); err != nil {
		return fmt.Errorf("pebblestore: commit: %w", pebbleErr(err))
	}
	if err := s.health.fatalErr(); err != nil {
		return err // the commit may not have happened: publish nothing
	}
	s.deleteDead(s.publish(ids, locs), sync)
	return nil
}

// unmoved returns the batch's postings without the moves (compaction's,
// from) whose posting is no longer where the move read it: a rewrite
// committed since wins, and the moved copy is left as garbage. The
// caller holds the ids' locks.
func (b *Batch) unmoved() ([]uint32, []location) {
	if b.from == nil {
		return b.ids, b.locs
	}
	ids, locs := make([]uint32, 0, len(b.ids)), make([]location, 0, len(b.locs))
	b.s.mu.RLock()
	defer b.s.mu.RUnlock()
	for i, id := range b.ids {
		if want, ok := b.from[id]; ok {
			if cur, _ := b.s.mu.dir.get(id); cur != want {
				continue
			}
		}
		ids, locs = append(ids, id), append(locs, b.locs[i])
	}
	return ids, locs
}

// Close discards the batch if it was not committed; posting bytes it
// wrote stay in their segment as garbage. Close after Commit does nothing.
func (b *Batch) Close() {
	if !b.done {
		b.finish()
	}
}

func (b *Batch) finish() {
	b.done = true
	b.pb.Close()
	b.buf = nil
	if len(b.writers) == 0 {
		return
	}
	s := b.s
	var gone []uint32
	s.appendMu.Lock()
	for _, w := range b.writers {
		if sg := s.leave(w); sg != nil {
			gone = append(gone, sg.num)
		}
	}
	s.appendMu.Unlock()
	b.writers = nil
	s.deleteDead(gone, false)
}

// publish makes the committed locations visible and returns the segments
// left without live postings.
func (s *Store) publish(ids []uint32, locs []location) (dead []uint32) {
	s.mu.Lock()
	for i, id := range ids {
		l := locs[i]
		if l.length != 0 {
			s.openedLocked(id, l.seg).live += int64(l.length)
		}
		old := s.mu.dir.set(id, l)
		if old.length == 0 {
			continue
		}
		sg := s.openedLocked(id, old.seg)
		if sg.live -= int64(old.length); sg.live == 0 {
			dead = append(dead, old.seg)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.cache.drop(id)
	}
	return dead
}

// openedLocked returns the open segment num, where posting id lives. The
// caller holds s.mu.
func (s *Store) openedLocked(id, num uint32) *segment {
	sg := s.mu.files[num]
	if sg == nil {
		panic(fmt.Sprintf("pebblestore: posting %d lives in segment %d, which is not open", id, num))
	}
	return sg
}

// idLocks serializes the commits of batches that share posting ids.
type idLocks struct {
	mu   sync.Mutex
	cond sync.Cond
	busy map[uint32]struct{} // ids of commits in progress; guarded by mu
}

// lock waits until no commit in progress holds any of ids, then takes
// them all (all at once, so two commits cannot deadlock).
func (l *idLocks) lock(ids []uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy == nil {
		l.busy = make(map[uint32]struct{})
		l.cond.L = &l.mu
	}
	for l.anyBusy(ids) {
		l.cond.Wait()
	}
	for _, id := range ids {
		l.busy[id] = struct{}{}
	}
}

func (l *idLocks) anyBusy(ids []uint32) bool {
	for _, id := range ids {
		if _, ok := l.busy[id]; ok {
			return true
		}
	}
	return false
}

func (l *idLocks) unlock(ids []uint32) {
	l.mu.Lock()
	for _, id := range ids {
		delete(l.busy, id)
	}
	l.mu.Unlock()
	l.cond.Broadcast()
}
