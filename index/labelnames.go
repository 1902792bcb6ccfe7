package index

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
)

// Label names: a per-index dictionary name ⇄ label id, kept in the
// index's Pebble store so that library users, snapshots and the server
// share it:
//
//	'N' name → id u32 LE            a name and its id
//	'N'      → next u64 LE          (no name) the floor of new names' ids
//
// A name is 1..MaxLabelNameBytes bytes of UTF-8 and not all digits: an
// all-digit string is a label id in decimal (0..4294967295), as ever.
//
// Id allocation, so that a name's id never collides with an id a caller
// chose by number: ids below NamedLabelBase (2^31) are the caller's;
// names get ids from NamedLabelBase upward, each above every id given to
// a name and above every id of NamedLabelBase or more that a write used
// by number (the floor record keeps the highest such number + 1, written
// in the batch of the write that used it). A number at or above
// NamedLabelBase that is a name's id is that name's label (the server
// and Get show ids and names interchangeably). A write by number of
// 4294967295 leaves no id for new names: creating one is then
// ErrBadInput. Reads (filters) take any id and never create anything.
//
// Names are created on write (LabelIDs, and the labels derived from
// indexed payload fields), never on read: a filter naming an unknown
// name is an error (filter.ErrUnknownLabel, wrapped with ErrBadInput). A
// name is never removed; one that no vector carries any more costs a
// record.

const (
	// MaxLabelNameBytes bounds a label name.
	MaxLabelNameBytes = 256
	// NamedLabelBase is the first label id given to a name.
	NamedLabelBase = 1 << 31
)

// LabelName is a label name and its id.
type LabelName struct {
	Name string
	ID   uint32
}

// labelNames is the in-memory copy of the dictionary. Readers take mu
// shared; writers stage under the index's writer lock and publish under
// mu after their batch committed.
type labelNames struct {
	mu     sync.RWMutex
	byName map[string]uint32
	byID   map[uint32]string
	// next is the lowest id a new name may get, NamedLabelBase..2^32
	// (2^32: none left). Guarded by the writer lock; a stage advances
	// it at once, so a batch that then fails to commit leaves a hole.
	// floor is next as the floor record has it committed (guarded by
	// mu): while next is above it, every stage writes the record, so a
	// number a committed write used is below the committed floor.
	next  uint64
	floor uint64
}

// floorKey is the key of the floor record.
var floorKey = keys.Prefix(keys.LabelName)

// loadLabelNames reads the dictionary at Open.
func (ix *Index) loadLabelNames() error {
	ln := &labelNames{byName: make(map[string]uint32), byID: make(map[uint32]string), next: NamedLabelBase}
	err := ix.store.ScanPrefix(keys.Prefix(keys.LabelName), func(k, v []byte) error {
		if len(k) == 1 {
			if len(v) != 8 || binary.LittleEndian.Uint64(v) > 1<<32 {
				return fmt.Errorf("%w: label id floor record of %d bytes", errs.Corrupt, len(v))
			}
			ln.floor = binary.LittleEndian.Uint64(v)
			ln.next = max(ln.next, ln.floor)
			return nil
		}
		if len(v) != 4 {
			return fmt.Errorf("%w: label name record %q of %d bytes", errs.Corrupt, k, len(v))
		}
		name, id := string(k[1:]), binary.LittleEndian.Uint32(v)
		ln.byName[name], ln.byID[id] = id, name
		ln.next = max(ln.next, uint64(id)+1)
		return nil
	})
	ix.names = ln
	return err
}

// checkLabelName reports whether s is a valid label name (not a number).
func checkLabelName(s string) error {
	switch {
	case len(s) == 0 || len(s) > MaxLabelNameBytes:
		return fmt.Errorf("%w: label name of %d bytes, want 1..%d", ErrBadInput, len(s), MaxLabelNameBytes)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: label name %q is not valid UTF-8", ErrBadInput, s)
	case allDigits(s):
		return fmt.Errorf("%w: label name %q is all digits (a label id)", ErrBadInput, s)
	}
	return nil
}

func allDigits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// LabelID returns the id of label s, a name or a decimal id, without
// creating anything: ok is false for an unknown name or an invalid one.
func (ix *Index) LabelID(s string) (id uint32, ok bool) {
	if allDigits(s) {
		n, err := strconv.ParseUint(s, 10, 32)
		return uint32(n), err == nil
	}
	ix.names.mu.RLock()
	defer ix.names.mu.RUnlock()
	id, ok = ix.names.byName[s]
	return id, ok
}

// LabelName returns the name of label id (ok false if it has none).
func (ix *Index) LabelName(id uint32) (name string, ok bool) {
	ix.names.mu.RLock()
	defer ix.names.mu.RUnlock()
	name, ok = ix.names.byID[id]
	return name, ok
}

// LabelNames returns the dictionary, by name.
func (ix *Index) LabelNames() []LabelName {
	ix.names.mu.RLock()
	out := make([]LabelName, 0, len(ix.names.byName))
	for n, id := range ix.names.byName {
		out = append(out, LabelName{n, id})
	}
	ix.names.mu.RUnlock()
	slices.SortFunc(out, func(a, b LabelName) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// FilterNames returns the resolver of label names for filter.Parse: it
// knows the names the index has given ids to.
func (ix *Index) FilterNames() filter.Names {
	return func(name string) (uint32, bool) { return ix.LabelID(name) }
}

// ParseFilter parses a filter in the text syntax of package filter,
// resolving label names through the dictionary. Errors wrap ErrBadInput
// and filter.ErrSyntax or filter.ErrUnknownLabel.
func (ix *Index) ParseFilter(text string) (*filter.Expr, error) {
	e, err := filter.Parse(text, ix.FilterNames())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	return e, nil
}

// LabelIDs returns the ids of labels (names or decimal ids), giving new
// names ids of their own: their records are written and synced before
// it returns (a name whose write then fails to use it stays, unused).
//
// Errors: ErrBadInput for an invalid name, a decimal id that is not a
// uint32, or no id left for a new name.
func (ix *Index) LabelIDs(labels []string) ([]uint32, error) {
	if ix.closed.Load() {
		return nil, ErrClosed
	}
	var out []uint32
	err := ix.writeSynced("label names", func(b posting.Batch) (func() error, error) {
		ids, publish, err := ix.names.stage(b, labels)
		if err != nil {
			return nil, err
		}
		out = ids
		if publish == nil {
			return nil, nil
		}
		return func() error { publish(); return nil }, nil
	})
	return out, err
}

// stage resolves labels, staging in b the records of the names that are
// new (and the floor, for numbers it passes); publish (nil when no name
// is new) adds them to memory once b committed. The caller holds the
// writer lock.
func (ln *labelNames) stage(b posting.Batch, labels []string) (ids []uint32, publish func(), err error) {
	ids = make([]uint32, len(labels))
	var fresh map[string]uint32
	ln.mu.RLock()
	defer ln.mu.RUnlock()
	next := ln.next
	for i, s := range labels {
		if allDigits(s) {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: label %q is not a label id 0..4294967295", ErrBadInput, s)
			}
			ids[i] = uint32(n)
			if _, named := ln.byID[uint32(n)]; !named && n >= next {
				next = n + 1
			}
			continue
		}
		if id, ok := ln.byName[s]; ok {
			ids[i] = id
			continue
		}
		if id, ok := fresh[s]; ok {
			ids[i] = id
			continue
		}
		if err := checkLabelName(s); err != nil {
			return nil, nil, err
		}
		if fresh == nil {
			fresh = make(map[string]uint32)
		}
		fresh[s] = 0 // given an id below, above every number of the call
	}
	// Names are given ids once the numbers of the call have raised next.
	for i, s := range labels {
		if id, ok := fresh[s]; !ok || id != 0 {
			if ok {
				ids[i] = id
			}
			continue
		}
		if next >= 1<<32 {
			return nil, nil, fmt.Errorf("%w: no label id is left for label name %q (ids %d and up are for names, and a write used %d by number)", ErrBadInput, s, uint32(NamedLabelBase), next-1)
		}
		fresh[s], ids[i] = uint32(next), uint32(next)
		b.Set(append(keys.Prefix(keys.LabelName), s...), binary.LittleEndian.AppendUint32(nil, uint32(next)))
		next++
	}
	ln.next = max(ln.next, next)
	floor := ln.stageFloor(b)
	if fresh == nil && floor == 0 {
		return ids, nil, nil
	}
	return ids, func() {
		ln.mu.Lock()
		for n, id := range fresh {
			ln.byName[n], ln.byID[id] = id, n
		}
		ln.floor = max(ln.floor, floor)
		ln.mu.Unlock()
	}, nil
}

// stageFloor stages the floor record when next is above the committed
// floor, and returns the floor it wrote (0 for none). The caller holds
// the writer lock and mu, shared at least.
func (ln *labelNames) stageFloor(b posting.Batch) uint64 {
	if ln.next <= ln.floor {
		return 0
	}
	b.Set(floorKey, binary.LittleEndian.AppendUint64(nil, ln.next))
	return ln.next
}

// stageNumbers stages what labels written by number (normalised) do to
// the dictionary: ids of NamedLabelBase or more that are no name's raise
// the floor of new names' ids above them. It returns what to publish
// once b committed (nil: nothing). The caller holds the writer lock.
func (ln *labelNames) stageNumbers(b posting.Batch, labels [][]uint32) (publish func()) {
	ln.mu.RLock()
	defer ln.mu.RUnlock()
	for _, ls := range labels {
		// Ascending: the last one not named decides.
		for j := len(ls) - 1; j >= 0 && uint64(ls[j]) >= ln.next; j-- {
			if _, named := ln.byID[ls[j]]; !named {
				ln.next = uint64(ls[j]) + 1
				break
			}
		}
	}
	floor := ln.stageFloor(b)
	if floor == 0 {
		return nil
	}
	return func() {
		ln.mu.Lock()
		ln.floor = max(ln.floor, floor)
		ln.mu.Unlock()
	}
}

// CheckLabel reports whether s can be a label of a write: a decimal id
// (a uint32) or a valid name. It does not look the name up.
func CheckLabel(s string) error {
	if allDigits(s) {
		if _, err := strconv.ParseUint(s, 10, 32); err != nil {
			return fmt.Errorf("%w: label %q is not a label id 0..4294967295", ErrBadInput, s)
		}
		return nil
	}
	return checkLabelName(s)
}

// LabelNamesFor returns the names, by name, of the labels that some
// vector tenant t may read carries.
func (ix *Index) LabelNamesFor(t uint32) ([]LabelName, error) {
	if ix.closed.Load() {
		return nil, ErrClosed
	}
	view, err := ix.viewOf(t)
	if err != nil {
		return nil, err
	}
	all := ix.LabelNames()
	out := all[:0]
	for _, n := range all {
		if bm := ix.lab.Bitmap(n.ID); bm != nil && bm.Intersects(view) {
			out = append(out, n)
		}
	}
	return out, nil
}
