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
//	'N' name → id u32 LE
//
// A name is 1..MaxLabelNameBytes bytes of UTF-8 and not all digits: an
// all-digit string is a label id in decimal (0..4294967295), as ever.
//
// Id allocation: names get ids from NamedLabelBase (2^31) upward, the
// next one above the highest given so far. Ids below NamedLabelBase are
// the caller's to pick by number; a write may name an id at or above it
// only by its name or, in decimal, if it is the id of a name (else
// ErrBadInput), so a name's id never collides with a label a caller
// chose by number. Reads (filters) take any id.
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
	next   uint32 // the next id to give (guarded by the writer lock)
}

// loadLabelNames reads the dictionary at Open.
func (ix *Index) loadLabelNames() error {
	ln := &labelNames{byName: make(map[string]uint32), byID: make(map[uint32]string), next: NamedLabelBase}
	err := ix.store.ScanPrefix(keys.Prefix(keys.LabelName), func(k, v []byte) error {
		if len(v) != 4 || len(k) < 2 {
			return fmt.Errorf("%w: label name record %q of %d bytes", errs.Corrupt, k, len(v))
		}
		name, id := string(k[1:]), binary.LittleEndian.Uint32(v)
		ln.byName[name], ln.byID[id] = id, name
		if id >= ln.next {
			if id == 1<<32-1 {
				ln.next = 0 // exhausted
			} else {
				ln.next = id + 1
			}
		}
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
// uint32, or one in the named range that no name has; ErrBadInput too when the
// named range is exhausted.
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
// new; publish (nil when none is new) adds them to memory once b
// committed. The caller holds the writer lock.
func (ln *labelNames) stage(b posting.Batch, labels []string) (ids []uint32, publish func(), err error) {
	ids = make([]uint32, len(labels))
	var fresh map[string]uint32
	next := ln.next
	ln.mu.RLock()
	defer ln.mu.RUnlock()
	for i, s := range labels {
		if allDigits(s) {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: label %q is not a label id 0..4294967295", ErrBadInput, s)
			}
			if n >= NamedLabelBase {
				if _, ok := ln.byID[uint32(n)]; !ok {
					return nil, nil, fmt.Errorf("%w: label id %d is in the range of named labels (%d and up) but names no label", ErrBadInput, n, uint32(NamedLabelBase))
				}
			}
			ids[i] = uint32(n)
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
		if next == 0 {
			return nil, nil, fmt.Errorf("%w: every label id for names is taken", ErrBadInput)
		}
		if fresh == nil {
			fresh = make(map[string]uint32)
		}
		fresh[s], ids[i] = next, next
		b.Set(append(keys.Prefix(keys.LabelName), s...), binary.LittleEndian.AppendUint32(nil, next))
		if next == 1<<32-1 {
			next = 0
		} else {
			next++
		}
	}
	if fresh == nil {
		return ids, nil, nil
	}
	return ids, func() {
		ln.mu.Lock()
		for n, id := range fresh {
			ln.byName[n], ln.byID[id] = id, n
		}
		ln.next = next
		ln.mu.Unlock()
	}, nil
}

// checkNumbered checks labels given by number for a write: one at or
// above NamedLabelBase must be the id of a name.
func (ix *Index) checkNumbered(labels [][]uint32) error {
	ix.names.mu.RLock()
	defer ix.names.mu.RUnlock()
	for _, ls := range labels {
		for _, l := range ls {
			if l >= NamedLabelBase {
				if _, ok := ix.names.byID[l]; !ok {
					return fmt.Errorf("%w: label id %d is in the range of named labels (%d and up) but names no label", ErrBadInput, l, uint32(NamedLabelBase))
				}
			}
		}
	}
	return nil
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
