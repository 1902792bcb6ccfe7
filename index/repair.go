package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// Repair of an index whose write-ahead log is damaged (docs/reliability.md,
// "Write-ahead log damage"). Open refuses such an index rather than drop
// acknowledged writes silently; Repair says exactly what a salvage loses
// and, only when asked, salvages: it keeps every batch logged before the
// damage, drops everything after it, and lists the vector ids whose
// writes it dropped.

// RepairOptions configure Repair. The zero value only reports.
type RepairOptions struct {
	// Salvage makes Repair change the index: the damaged log is cut at
	// the damage and later logs are deleted, so that the index opens
	// with every write logged before the damage and none after it.
	// Without it Repair changes nothing and reports what a salvage
	// would drop.
	Salvage bool
}

// RepairReport is what Repair found and did.
type RepairReport struct {
	Dir string
	// Refused is set if Open refuses the index as it is; Reason is
	// Open's error (it wraps ErrCorrupt).
	Refused bool
	Reason  error
	// Damage lists the write-ahead logs that stop being readable before
	// their end, oldest first. Cut is the one a salvage cuts at (nil if
	// none): the oldest in a log the database replays, other than a torn
	// tail.
	Damage []LogDamage
	Cut    *LogDamage
	// Removed are the logs after the cut log, which a salvage deletes.
	Removed []string
	// Lost are the writes a salvage drops, by index: "" for the index of
	// Dir, "namespace N" for the indexes of a shared database.
	Lost map[string]*LostWrites
	// Unreadable are the stretches of the logs, from the cut on, that
	// hold no intact record, the damaged record first: the ids of the
	// writes they held are unknown.
	Unreadable []LogStretch
	// SyncedUnknown is set if the last batch known to be synced is
	// neither kept nor dropped: it, and synced batches before it that
	// are not listed, were in the unreadable stretches or in a log file
	// that is gone, and what they held is unknown.
	SyncedUnknown bool
	// Salvaged is set if Repair changed the index; Checked lists what
	// was opened and checked (Index.Check) after it.
	Salvaged bool
	Checked  []string
}

// LogDamage is where one write-ahead log stops being readable.
type LogDamage struct {
	File    string
	Offset  int64
	Problem string
	// Needed is set if the database replays the log; damage in a log it
	// no longer needs (flushed, kept to be recycled) loses nothing.
	Needed bool
	// TornTail is set for damage in the newest log past its last synced
	// batch: Open drops the rest of the log as writes in flight at a
	// crash, never acknowledged, and a salvage leaves it.
	TornTail bool
}

// LogStretch is a part of a log that holds no intact record.
type LogStretch struct {
	File    string
	Offset  int64
	Length  int64 // -1: to the end of the file
	Problem string
}

// LostWrites are the writes of one index in the batches a salvage drops.
// Ids are sorted and distinct within a list; an id written several times
// after the damage is in each list that applies.
type LostWrites struct {
	// Upserts are ids whose upsert is dropped: each holds its previous
	// vector, or none, after the salvage.
	Upserts []uint64
	// Deletes are ids whose delete is dropped: each comes back with the
	// vector it held before.
	Deletes []uint64
	// Labels, Payloads and Access are the other ids whose labels,
	// payload, or owner and grants lose a change (SetLabels,
	// SetPayloads, Own, Grant, Revoke, DropTenant).
	Labels   []uint64
	Payloads []uint64
	Access   []uint64
	// Batches counts the dropped batches, Synced those the log says were
	// synced (acknowledged, unless written with NoSync), Maintenance
	// those that changed no id's vector, state, labels, payload or
	// access:
	// maintenance and tenant records, whose work the index redoes.
	Batches, Synced, Maintenance int
	// FirstSeq and LastSeq are the sequence numbers of the first and the
	// last dropped batch.
	FirstSeq, LastSeq uint64
}

// Repair examines the write-ahead log of the index (or the shared
// database) in dir, which must not be open, and reports what a salvage
// drops. With o.Salvage it salvages, then opens and checks what it
// repaired: the index in dir, or every index of the shared database in
// dir. It returns the report and, if the check fails, the error.
func Repair(dir string, o *RepairOptions) (*RepairReport, error) {
	var opts RepairOptions
	if o != nil {
		opts = *o
	}
	ws, err := pebblestore.SalvageWAL(dir, opts.Salvage)
	if err != nil {
		return nil, err
	}
	rep := &RepairReport{Dir: dir, Refused: ws.Refused, Reason: ws.Reason, Removed: ws.Removed, Salvaged: ws.Applied}
	for _, d := range ws.Damage {
		rep.Damage = append(rep.Damage, LogDamage(d))
		if ws.Cut != nil && d == *ws.Cut {
			rep.Cut = &rep.Damage[len(rep.Damage)-1]
		}
	}
	for _, s := range ws.Unreadable {
		rep.Unreadable = append(rep.Unreadable, LogStretch(s))
	}
	rep.Lost = lostWrites(ws.Dropped)
	rep.SyncedUnknown = ws.SyncedUnknown
	if !ws.Applied {
		return rep, nil
	}
	return rep, rep.check()
}

// withRepairHint adds to an error of a damaged write-ahead log how to
// salvage the index in dir.
func withRepairHint(dir string, err error) error {
	if _, ok := errors.AsType[*pebblestore.WALDamageError](err); !ok {
		return err
	}
	return fmt.Errorf("%w; open refuses the index rather than drop them: `shoal repair -salvage %s` (index.Repair) keeps every write logged before the damage and lists the ids of the writes it drops", err, dir)
}

// check opens and checks the repaired index, or every index of the
// repaired shared database.
func (rep *RepairReport) check() error {
	checkOne := func(dir string, o *Options) error {
		ix, err := Open(dir, o)
		if err != nil {
			return err
		}
		defer ix.Close()
		if err := ix.Check(); err != nil {
			return fmt.Errorf("after salvage: %s: %w", dir, err)
		}
		rep.Checked = append(rep.Checked, dir)
		return nil
	}
	err := checkOne(rep.Dir, &Options{MaintenancePaused: true, CacheBytes: -1})
	if !errors.Is(err, pebblestore.ErrWrongLayout) {
		return err
	}
	db, err := OpenSharedDB(rep.Dir)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, ns := range db.Namespaces() {
		err := checkOne(filepath.Join(rep.Dir, filepath.FromSlash(ns)), &Options{MaintenancePaused: true, CacheBytes: -1, Shared: db})
		if err != nil {
			return err
		}
	}
	return nil
}

// lostWrites sorts the changes of dropped batches into the ids they
// change, by index. A key of a shared database starts with its
// namespace ('n' ns u32); a store's own keys with 'm', 'p' or 'u'
// (internal/keys).
func lostWrites(dropped []pebblestore.DroppedBatch) map[string]*LostWrites {
	out := map[string]*LostWrites{}
	type idSets struct{ upserts, deletes, labels, payloads, access map[uint64]bool }
	sets := map[string]*idSets{}
	get := func(name string) (*LostWrites, *idSets) {
		if out[name] == nil {
			out[name] = &LostWrites{}
			sets[name] = &idSets{map[uint64]bool{}, map[uint64]bool{}, map[uint64]bool{}, map[uint64]bool{}, map[uint64]bool{}}
		}
		return out[name], sets[name]
	}
	for _, b := range dropped {
		touched := map[string]bool{}
		changed := map[string]bool{}
		for _, op := range b.Ops {
			name, k := "", op.Key
			if len(k) >= 5 && k[0] == keys.StoreNamespace {
				name, k = fmt.Sprintf("namespace %d", binary.BigEndian.Uint32(k[1:])), k[5:]
			}
			touched[name] = true
			_, s := get(name)
			if len(k) != 10 || k[0] != keys.StoreUser {
				continue
			}
			id := binary.BigEndian.Uint64(k[2:])
			set := op.Kind == pebble.InternalKeyKindSet
			del := op.Kind == pebble.InternalKeyKindDelete || op.Kind == pebble.InternalKeyKindSingleDelete || op.Kind == pebble.InternalKeyKindDeleteSized
			switch keys.Kind(k[1]) {
			case keys.Vector:
				if set {
					s.upserts[id] = true
				} else if del {
					s.deletes[id] = true
				}
				changed[name] = true
			case keys.State:
				if set && len(op.Value) == 1 && op.Value[0]&0x80 == 0 {
					s.deletes[id] = true
					changed[name] = true
				}
			case keys.Label:
				if set || del {
					s.labels[id] = true
					changed[name] = true
				}
			case keys.Payload:
				if set || del {
					s.payloads[id] = true
					changed[name] = true
				}
			case keys.Access:
				s.access[id] = true
				changed[name] = true
			}
		}
		for name := range touched {
			lw, _ := get(name)
			if lw.Batches == 0 {
				lw.FirstSeq = b.Seq
			}
			lw.Batches++
			lw.LastSeq = b.Seq + uint64(max(b.Count, 1)) - 1
			if b.Synced {
				lw.Synced++
			}
			if !changed[name] {
				lw.Maintenance++
			}
		}
	}
	sorted := func(m map[uint64]bool) []uint64 {
		ids := make([]uint64, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	for name, lw := range out {
		s := sets[name]
		// An upsert's or a delete's own label, payload and access
		// records are part of it.
		for _, m := range []map[uint64]bool{s.upserts, s.deletes} {
			for id := range m {
				delete(s.labels, id)
				delete(s.payloads, id)
				delete(s.access, id)
			}
		}
		lw.Upserts, lw.Deletes, lw.Labels, lw.Payloads, lw.Access = sorted(s.upserts), sorted(s.deletes), sorted(s.labels), sorted(s.payloads), sorted(s.access)
	}
	return out
}
