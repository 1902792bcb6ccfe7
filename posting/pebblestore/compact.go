package pebblestore

import "fmt"

// CompactSegment reclaims the space of dead postings. Rewrites leave the
// old bytes of a posting in the segment it was in; a segment is deleted
// only once none of its postings is live. CompactSegment picks the sealed
// segment (not the active one, nor one an open Batch writes to) with the
// smallest share of live bytes, if that share is below maxLive, and moves
// up to maxBytes of its live postings to the active segment in one synced
// batch; once all have moved, the segment is deleted. It returns the live
// bytes moved and whether a segment qualified.
//
// Writers may rewrite or delete the postings being moved concurrently: a
// move commits only for postings still where it read them, so a rewrite
// that commits while CompactSegment copies the old bytes wins.
// testHookCompactRead, when set by a test, runs after CompactSegment has
// copied the postings and before it commits the move.
var testHookCompactRead func()

func (s *Store) CompactSegment(maxLive float64, maxBytes int64) (moved int64, found bool, err error) {
	var ids []uint32
	from := make(map[uint32]location)
	s.appendMu.Lock()
	s.mu.RLock()
	var best *segment
	bestShare := maxLive
	for _, sg := range s.mu.files {
		size := sg.size.Load()
		if sg.w != nil || size == 0 || (sg.live == 0 && s.pins > 0) {
			// Written to, empty, or dead and kept for a checkpoint
			// (deleted once it is done): nothing to move.
			continue
		}
		if share := float64(sg.live) / float64(size); share < bestShare {
			best, bestShare = sg, share
		}
	}
	if best != nil {
		for id, l := range s.mu.dir.locs {
			if l.length > 0 && l.seg == best.num {
				ids = append(ids, uint32(id))
				from[uint32(id)] = l
				moved += int64(l.length)
				if moved >= maxBytes {
					break
				}
			}
		}
	}
	s.mu.RUnlock()
	s.appendMu.Unlock()
	if best == nil {
		return 0, false, nil
	}
	b := s.newBatch()
	defer b.Close()
	b.from = from
	if len(ids) > 0 {
		err := s.ReadBatch(ids, func(i int, p []byte) error {
			return b.PutPosting(ids[i], p)
		})
		if err != nil {
			return 0, true, fmt.Errorf("pebblestore: compact segment %d: %w", best.num, err)
		}
	}
	if testHookCompactRead != nil {
		testHookCompactRead()
	}
	if err := b.Commit(true); err != nil {
		return 0, true, fmt.Errorf("pebblestore: compact segment %d: %w", best.num, err)
	}
	// A segment left without live postings by the move is deleted by the
	// commit; one that had none already (never the case for a segment
	// with a live share above zero) is handled here.
	if len(ids) == 0 {
		s.deleteDead([]uint32{best.num}, true)
	}
	return moved, true, nil
}
