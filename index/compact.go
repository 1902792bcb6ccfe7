package index

// Segment compaction. Every posting rewrite leaves the old bytes dead in
// their segment file, which is deleted only when nothing in it is live.
// When no fold or sweep is due, maintenance moves the live postings out of
// the segment with the smallest live share once that share is below
// compactLive, compactStep bytes per unit of work, so that the disk the
// index takes stays within about twice its live data. Writers need not
// stop: a posting rewritten while it is being moved keeps the rewrite
// (pebblestore.CompactSegment).
const (
	compactLive  = 0.5
	compactBytes = 64 << 20
)

// compactStep moves one unit's worth of postings. It reports whether it
// did something. The caller holds m.run.
func (m *maintainer) compactStep() (bool, error) {
	moved, found, err := m.ix.store.CompactSegment(compactLive, compactBytes)
	if err != nil {
		return false, err
	}
	if found {
		m.compacted.Add(moved)
	}
	return found, nil
}
