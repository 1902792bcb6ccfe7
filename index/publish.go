package index

import ()

// Publishing maintenance to concurrent searches.
//
// A search routes and picks up the posting tails under rmu, then reads
// postings from the store and checks versions without any lock. Maintenance
// therefore changes things in an order that never hides a vector from a
// search in flight:
//
//  1. One batch commits everything new (new postings, re-inserted copies
//     and their states, the tree record) and a retire record naming what
//     the old routing still reads (the split or merged posting's old
//     content). Nothing a search might read is removed yet.
//  2. Under rmu, the tree edit and the new copies' tails are published, and
//     the re-inserted ids' next versions are marked pending: searches
//     accept copies at the pending version as well as at the current one.
//  3. A grace period (epoch.Readers.Wait) lets every search that started before
//     step 2 finish.
//  4. The versions are switched (old copies become stale) and the pending
//     mark cleared; a second batch removes the retired content and its
//     record. A crash between 1 and 4 leaves the retire record, which Open
//     completes (finishRetired).
//
// The grace period of step 3 runs without the writer lock: writers go on
// meanwhile. A write of an id whose re-insert is pending builds its
// version on the pending one (stateOf: the re-insert's batch committed
// it) and takes the id out of the pending set (unpend), so that neither
// the re-inserted copies (of the old vector) nor, after a delete and a
// later upsert, copies at a reused version come back; step 4 switches
// only the ids still pending.
//
// Upserts need none of this: their new copies and versions are published
// under one hold of rmu (so a fold, which keeps only current copies, never
// meets a new copy before its version), and a search overlapping an upsert
// of a vector may miss that vector (it never sees a stale one after the
// upsert returns).

// testHookRetire, when set by a test, runs after the first batch of a
// split or merge (its retire record committed, the old content kept).
var testHookRetire func()

// pendingSet maps ids being re-placed by maintenance to the state their
// new copies carry.
type pendingSet map[uint64]uint8

// visible reports whether a search may return the copy of id written at
// version ver: the id's current version, or the pending one of an id that
// maintenance is re-placing.
func (ix *Index) visible(id uint64, ver uint8) bool {
	if ix.vers.live(id, ver) {
		return true
	}
	if p := ix.pending.Load(); p != nil {
		if st, ok := (*p)[id]; ok && st == liveState(ver) {
			return true
		}
	}
	// The switch (versions first, then the pending mark) may have happened
	// between the two looks.
	return ix.vers.live(id, ver)
}
