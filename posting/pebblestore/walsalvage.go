package pebblestore

import (
	"fmt"
	"os"
	"path/filepath"
)

// Salvaging a database whose write-ahead log is damaged: the explicit,
// opt-in counterpart of the check in walcheck.go. It keeps what Pebble
// can replay, a prefix of the commit history (every batch logged before
// the damage), and reports what it drops.

// WALSalvage is what SalvageWAL found in a database's write-ahead logs,
// and what it changed.
type WALSalvage struct {
	// Damage lists the logs that stop being readable before their end,
	// oldest first.
	Damage []WALDamage
	// Cut is the damage the logs are cut at, nil if none need cutting:
	// the oldest damage in a log Pebble replays, other than a torn tail.
	Cut *WALDamage
	// Removed are the logs after the cut log, deleted whole: their
	// batches come after the cut in the commit order.
	Removed []string
	// Dropped are the intact batches logged after the cut, in log order
	// (batches that only sync the log left out). Their changes are lost.
	Dropped []DroppedBatch
	// Unreadable are the stretches after the cut that hold no intact
	// record, the damaged record first; what they held is unknown.
	Unreadable []WALStretch
	// MarkSynced is the sequence number up to which the WAL mark says
	// batches were synced (0 if there is no mark); MarkFlushed up to
	// which they are in sstables.
	MarkSynced, MarkFlushed uint64
	// SyncedUnknown is set if the batch holding MarkSynced, not yet in
	// sstables, is neither kept nor among the dropped batches: it, and
	// the synced batches before it that are not listed, were in the
	// unreadable stretches or in a log file that is gone.
	SyncedUnknown bool
	// Refused is set if Open refuses the database as it is (what
	// SalvageWAL repairs); Reason is Open's error.
	Refused bool
	Reason  error
	// Applied is set if SalvageWAL changed the logs (apply set and
	// something to do).
	Applied bool
}

// WALDamage is where one log stops being readable.
type WALDamage struct {
	File    string
	Offset  int64
	Problem string
	// Needed is set if Pebble replays the log (it may hold batches not
	// yet flushed to sstables); damage in a log it no longer needs
	// loses nothing.
	Needed bool
	// TornTail is set for damage in the newest log past its last synced
	// batch: Open drops the rest of the log as writes in flight at a
	// crash, never acknowledged, and salvage need not cut.
	TornTail bool
}

// DroppedBatch is an intact batch after the cut.
type DroppedBatch struct {
	File   string
	Offset int64
	// Seq is the batch's first sequence number, Count how many it has.
	Seq   uint64
	Count uint32
	Ops   []WALOp
	// Synced is set if the WAL mark says the batch was synced: an
	// acknowledged write, unless the writer chose not to wait for syncs.
	Synced bool
}

// WALStretch is a stretch of a log that holds no intact record.
type WALStretch struct {
	File    string
	Offset  int64
	Length  int64 // -1: to the end of the file
	Problem string
}

// SalvageWAL reads the write-ahead logs of the Pebble database in dir,
// which must not be open, and says what a salvage drops: the oldest
// damage in a log Pebble replays, and every batch logged after it. With
// apply, it then salvages: the damaged log is cut (truncated) at the
// damage and every later log is deleted, so that Pebble replays every
// batch before the damage and nothing after it, and the WAL mark is
// reset. Opening the database then succeeds, and holds the commit
// history up to the damage.
func SalvageWAL(dir string, apply bool) (*WALSalvage, error) {
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	m, haveMark, err := readMark(dir)
	if err != nil {
		return nil, err
	}
	logs, err := scanLogs(dir, m.synced)
	if err != nil {
		return nil, err
	}
	rep := &WALSalvage{MarkSynced: m.synced, MarkFlushed: m.flushed}
	if err := checkLogs(dir, logs, m); err != nil {
		rep.Refused, rep.Reason = true, err
	}
	files := make([][]byte, len(logs))
	cut := -1
	for i := range logs {
		l := &logs[i]
		if !l.damaged {
			continue
		}
		if files[i], err = os.ReadFile(l.path); err != nil {
			return nil, fmt.Errorf("pebblestore: %w", err)
		}
		d := WALDamage{File: l.path, Offset: l.off, Problem: damageProblem(files[i], l.off, uint32(l.num))}
		newest := i == len(logs)-1
		d.Needed = newest || !haveMark || logNeeded(logs, files[i], i, m.flushed)
		d.TornTail = newest && !rep.Refused
		rep.Damage = append(rep.Damage, d)
		if d.Needed && !d.TornTail && cut < 0 {
			cut = i
			rep.Cut = &rep.Damage[len(rep.Damage)-1]
		}
	}
	if cut >= 0 {
		l := &logs[cut]
		if err := rep.drop(files[cut], l, l.off, true, m.synced); err != nil {
			return nil, err
		}
		for _, later := range logs[cut+1:] {
			b, err := os.ReadFile(later.path)
			if err != nil {
				return nil, fmt.Errorf("pebblestore: %w", err)
			}
			if err := rep.drop(b, &later, 0, false, m.synced); err != nil {
				return nil, err
			}
			rep.Removed = append(rep.Removed, later.path)
		}
	}
	if m.synced > m.flushed {
		found := false
		for i, l := range logs {
			found = found || (l.synced && (cut < 0 || i <= cut))
		}
		for _, b := range rep.Dropped {
			found = found || (b.Seq <= m.synced && m.synced < b.Seq+uint64(b.Count))
		}
		rep.SyncedUnknown = !found
	}
	if !apply || (cut < 0 && !rep.Refused) {
		return rep, nil
	}
	if cut >= 0 {
		if err := cutLog(logs[cut].path, logs[cut].off); err != nil {
			return nil, err
		}
		for _, p := range rep.Removed {
			if err := os.Remove(p); err != nil {
				return nil, fmt.Errorf("pebblestore: salvage: %w", err)
			}
		}
		if err := syncDir(dir); err != nil {
			return nil, fmt.Errorf("pebblestore: salvage: %w", err)
		}
	}
	// The mark's synced batch is gone now: start it over (Open records
	// what it flushes).
	mark, err := openMark(dir, markState{})
	if err != nil {
		return nil, err
	}
	if err := mark.close(0); err != nil {
		return nil, err
	}
	rep.Applied = true
	return rep, nil
}

// logNeeded reports whether the damaged log i may hold batches not yet in
// sstables (above flushed), so that Pebble replays it: if it has a batch
// above flushed, or nothing shows that its damaged part lies below: the
// next batch after the damage, in it or in the next log.
func logNeeded(logs []logScan, b []byte, i int, flushed uint64) bool {
	l := &logs[i]
	if l.batches > 0 && l.last-1 > flushed {
		return true
	}
	var next uint64
	recs, _, _ := scanLog(b, l.off, uint32(l.num))
	for _, r := range recs {
		if wb, err := decodeBatch(r.payload); err == nil && wb.count > 0 {
			next = wb.seq
			break
		}
	}
	if next == 0 && i+1 < len(logs) && logs[i+1].batches > 0 {
		next = logs[i+1].first
	}
	return next == 0 || next-1 > flushed
}

// drop adds to the report the batches and unreadable stretches of log l
// (bytes b) from off on; damaged says off is the damaged record.
func (rep *WALSalvage) drop(b []byte, l *logScan, off int64, damaged bool, synced uint64) error {
	recs, gaps, tail := scanLog(b, off, uint32(l.num))
	if damaged && (len(gaps) == 0 || gaps[0].off != off) && (len(recs) == 0 || recs[0].off != off) {
		// The damaged record spares no later record: the rest of the
		// file is one stretch.
		if tail != nil && tail.off == off {
			gaps = append([]logGap{{off, -1, tail.problem}}, gaps...)
		} else {
			gaps = append([]logGap{{off, -1, "unreadable record"}}, gaps...)
		}
	}
	for _, g := range gaps {
		n := g.end - g.off
		if g.end < 0 {
			n = -1
		}
		rep.Unreadable = append(rep.Unreadable, WALStretch{File: l.path, Offset: g.off, Length: n, Problem: g.problem})
	}
	for _, r := range recs {
		wb, err := decodeBatch(r.payload)
		if err != nil {
			rep.Unreadable = append(rep.Unreadable, WALStretch{File: l.path, Offset: r.off, Length: r.end - r.off, Problem: err.Error()})
			continue
		}
		if wb.count == 0 {
			continue
		}
		last := wb.seq + uint64(wb.count) - 1
		rep.Dropped = append(rep.Dropped, DroppedBatch{File: l.path, Offset: r.off, Seq: wb.seq, Count: wb.count, Ops: wb.ops, Synced: last <= synced})
	}
	return nil
}

// cutLog truncates the log at path to off bytes, durably.
func cutLog(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("pebblestore: salvage: %w", err)
	}
	err = f.Truncate(off)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pebblestore: salvage: cut %s at %d: %w", filepath.Base(path), off, err)
	}
	return nil
}
