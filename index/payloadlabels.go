package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
)

// Indexed payload fields: for each vector whose payload has one of these
// top-level fields with a string, number or bool value (or a list of
// them), the label named "field=value" is set on the vector, in addition
// to its explicit labels (numbers in shortest decimal form,
// strconv.FormatFloat(f, 'g', -1, 64); bools "true" and "false"). A value
// whose label name would be longer than MaxLabelNameBytes, or not valid
// as a name, derives no label; nulls, objects and lists of them neither.
// The fields are kept in the index's store:
//
//	'F' → format u8 (1), JSON array of field names
//
// How derived labels and explicit ones combine: a vector's stored labels
// are its explicit labels ∪ the labels its payload derives. A write of
// labels (SetLabels, an upsert with labels) replaces the explicit ones
// and keeps the derived ones of the payload; a write of the payload
// (SetPayloads, an upsert with a payload) replaces the derived ones and
// keeps the explicit ones, where the explicit ones are taken to be the
// stored labels less those the old payload derives. So an explicit
// label that equals a derived one (a caller setting "color=red" by hand
// on a vector whose payload says so) follows the payload.

const (
	indexedFieldsFormat = 1
	// MaxIndexedFields bounds the indexed payload fields of an index.
	MaxIndexedFields = 64
	// MaxIndexedFieldBytes bounds the name of an indexed field.
	MaxIndexedFieldBytes = 128
)

// loadIndexedFields reads the indexed payload fields at Open.
func (ix *Index) loadIndexedFields() error {
	v, err := ix.store.Get(keys.Prefix(keys.IndexedFields))
	if errors.Is(err, posting.ErrNotFound) {
		ix.fields.Store(&[]string{})
		return nil
	}
	if err != nil {
		return err
	}
	var fs []string
	if len(v) < 1 || v[0] != indexedFieldsFormat || json.Unmarshal(v[1:], &fs) != nil {
		return fmt.Errorf("%w: indexed fields record of %d bytes", errs.Corrupt, len(v))
	}
	ix.fields.Store(&fs)
	return nil
}

func (ix *Index) indexedFields() []string { return *ix.fields.Load() }

// IndexedFields returns the indexed payload fields (SetIndexedFields).
func (ix *Index) IndexedFields() []string { return slices.Clone(ix.indexedFields()) }

// CheckIndexedFields reports whether fields can be indexed payload
// fields: at most MaxIndexedFields distinct names of
// 1..MaxIndexedFieldBytes bytes of UTF-8 without "=".
func CheckIndexedFields(fields []string) error {
	if len(fields) > MaxIndexedFields {
		return fmt.Errorf("%w: %d indexed payload fields, at most %d", ErrBadInput, len(fields), MaxIndexedFields)
	}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		switch {
		case len(f) == 0 || len(f) > MaxIndexedFieldBytes:
			return fmt.Errorf("%w: indexed payload field of %d bytes, want 1..%d", ErrBadInput, len(f), MaxIndexedFieldBytes)
		case !utf8.ValidString(f):
			return fmt.Errorf("%w: indexed payload field %q is not valid UTF-8", ErrBadInput, f)
		case strings.Contains(f, "="):
			return fmt.Errorf("%w: indexed payload field %q holds \"=\"", ErrBadInput, f)
		case seen[f]:
			return fmt.Errorf("%w: indexed payload field %q twice", ErrBadInput, f)
		}
		seen[f] = true
	}
	return nil
}

// writeIndexedFields records fields in a new index's store (Build,
// Create), before its manifest; none writes nothing.
func writeIndexedFields(store posting.Store, fields []string) error {
	if len(fields) == 0 {
		return nil
	}
	enc, _ := json.Marshal(fields)
	b := store.NewBatch()
	defer b.Close()
	b.Set(keys.Prefix(keys.IndexedFields), append([]byte{indexedFieldsFormat}, enc...))
	return b.Commit(true)
}

// SetIndexedFields replaces the indexed payload fields and re-derives
// the labels of every vector with a payload, in one atomic batch,
// durable on return. It reads every payload: meant for an index's setup
// (the server calls it when it creates a collection), not for a hot
// path.
//
// Errors: ErrBadInput (CheckIndexedFields).
func (ix *Index) SetIndexedFields(fields []string) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	if err := CheckIndexedFields(fields); err != nil {
		return err
	}
	fields = slices.Clone(fields)
	return ix.writeSynced("set indexed fields", func(b posting.Batch) (func() error, error) {
		old := ix.indexedFields()
		if slices.Equal(old, fields) {
			return nil, nil
		}
		enc, _ := json.Marshal(fields)
		b.Set(keys.Prefix(keys.IndexedFields), append([]byte{indexedFieldsFormat}, enc...))
		var ids []uint64
		var ps [][]byte
		err := ix.store.ScanPrefix(keys.Prefix(keys.Payload), func(k, v []byte) error {
			if len(k) != 9 {
				return fmt.Errorf("%w: payload record key %x", errs.Corrupt, k)
			}
			id := binary.BigEndian.Uint64(k[1:])
			if !ix.Contains(id) {
				return nil
			}
			p, err := decodePayload(v)
			if err != nil {
				return fmt.Errorf("id %d: %w", id, err)
			}
			ids, ps = append(ids, id), append(ps, p)
			return nil
		})
		if err != nil {
			return nil, err
		}
		publish := func() {}
		if len(ids) > 0 {
			if publish, err = ix.stageDerived(b, ids, nil, ps, ps, old, fields); err != nil {
				return nil, err
			}
		}
		return func() error {
			ix.fields.Store(&fields)
			publish()
			return nil
		}, nil
	})
}

// derivedNames returns the label names payload p derives under fields.
func derivedNames(p []byte, fields []string) []string {
	if len(p) == 0 || len(fields) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(p, &obj) != nil {
		return nil
	}
	var out []string
	add := func(f string, v any) {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		case bool:
			s = strconv.FormatBool(x)
		default:
			return
		}
		name := f + "=" + s
		if checkLabelName(name) == nil {
			out = append(out, name)
		}
	}
	for _, f := range fields {
		raw, ok := obj[f]
		if !ok {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		if list, ok := v.([]any); ok {
			for _, e := range list {
				add(f, e)
			}
			continue
		}
		add(f, v)
	}
	return out
}

// stageDerived stages the labels of ids (distinct) whose payloads change
// from oldP to newP and whose indexed fields change from oldFields to
// newFields: each id's labels become its explicit labels (labels[i], or
// with labels nil its stored labels less those oldP derives under
// oldFields) together with those newP derives under newFields, whose
// names are given ids as needed in b. The caller holds the writer lock.
func (ix *Index) stageDerived(b posting.Batch, ids []uint64, labels [][]uint32, oldP, newP [][]byte, oldFields, newFields []string) (publish func(), err error) {
	var stored [][]uint32
	if labels == nil {
		if stored, err = ix.lab.Many(ids); err != nil {
			return nil, err
		}
	}
	// One stage of every new name, so that fresh names get distinct ids.
	var all []string
	bounds := make([]int, len(ids)+1)
	for i := range ids {
		all = append(all, derivedNames(newP[i], newFields)...)
		bounds[i+1] = len(all)
	}
	allIDs, publishNames, err := ix.names.stage(b, all)
	if err != nil {
		return nil, err
	}
	final := make([][]uint32, len(ids))
	for i, id := range ids {
		var explicit []uint32
		if labels != nil {
			explicit = labels[i]
		} else {
			var oldD []uint32
			for _, n := range derivedNames(oldP[i], oldFields) {
				if l, ok := ix.LabelID(n); ok {
					oldD = append(oldD, l)
				}
			}
			for _, l := range stored[i] {
				if !slices.Contains(oldD, l) {
					explicit = append(explicit, l)
				}
			}
		}
		ls := append(slices.Clone(explicit), allIDs[bounds[i]:bounds[i+1]]...)
		slices.Sort(ls)
		ls = slices.Compact(ls)
		if len(ls) > MaxLabelsPerID {
			return nil, fmt.Errorf("%w: id %d would have %d labels (explicit and derived), at most %d", ErrBadInput, id, len(ls), MaxLabelsPerID)
		}
		final[i] = ls
	}
	publishLabels, err := ix.lab.StageSet(b, ids, final)
	if err != nil {
		return nil, err
	}
	return func() {
		if publishNames != nil {
			publishNames()
		}
		publishLabels()
	}, nil
}
