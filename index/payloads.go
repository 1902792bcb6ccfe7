package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/tenant"
)

// Payloads: a vector may carry a payload, a JSON object stored with it
// and returned by Payload(s). One record per id that has one, in the
// caller-record space of the posting store, written in the same batch as
// the write it belongs to (an upsert, SetPayloads, a delete):
//
//	'P' id u64 (BE) → format u8 (1), compact JSON object
//
// Payloads are stored as compact JSON (encoding/json's Compact): key
// order and number text are kept as given. They are not compressed:
// payloads are small, Pebble's blocks are compressed already, and a
// payload is read whole per hit.
//
// A delete removes the payload of the ids it deletes (a tenant's drop
// too), so an id upserted again starts with none; upserting a live id
// without a payload keeps its payload.

const (
	// payloadFormat is the first byte of a payload record.
	payloadFormat = 1
	// DefaultMaxPayloadBytes is Options.MaxPayloadBytes's default.
	DefaultMaxPayloadBytes = 64 << 10
)

// payloadWrite is what a write does to one id's payload.
type payloadWrite struct {
	set  bool   // false: keep the stored payload
	json []byte // compact JSON; nil with set: remove it
}

// normalizePayload checks that p is one JSON object of valid UTF-8 whose
// numbers are float64s, of at most max bytes once compacted, and returns
// it compacted.
func normalizePayload(p []byte, max int) ([]byte, error) {
	if !utf8.Valid(p) {
		return nil, fmt.Errorf("%w: payload is not valid UTF-8", ErrBadInput)
	}
	if !json.Valid(p) {
		return nil, fmt.Errorf("%w: payload is not valid JSON", ErrBadInput)
	}
	var buf bytes.Buffer
	buf.Grow(len(p))
	if err := json.Compact(&buf, p); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrBadInput, err)
	}
	c := buf.Bytes()
	if c[0] != '{' {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrBadInput)
	}
	if err := checkPayloadTokens(c); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrBadInput, err)
	}
	if len(c) > max {
		return nil, fmt.Errorf("%w: payload of %d bytes (compact JSON), at most %d", ErrBadInput, len(c), max)
	}
	return c, nil
}

// checkPayloadTokens walks valid JSON c and refuses what the server's
// Struct (and most JSON readers) cannot hold the same way: a number that
// is no float64 (1e400), and an object with a key twice (readers keep
// one or the other; the server could not return it).
func checkPayloadTokens(c []byte) error {
	d := json.NewDecoder(bytes.NewReader(c))
	d.UseNumber()
	// keys[i] holds the keys seen in the i-th open object, nil for an
	// array; expectKey says whether the next string token is a key.
	var keys []map[string]bool
	inObject := func() bool { return len(keys) > 0 && keys[len(keys)-1] != nil }
	expectKey := false // whether the next string token is a key
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				keys, expectKey = append(keys, map[string]bool{}), true
			case '[':
				keys, expectKey = append(keys, nil), false
			default: // '}' or ']' ends a value
				keys = keys[:len(keys)-1]
				expectKey = inObject()
			}
		case string:
			if expectKey {
				top := keys[len(keys)-1]
				if top[t] {
					return fmt.Errorf("key %q appears twice in one object", clipKey(t))
				}
				top[t], expectKey = true, false
				continue
			}
			expectKey = inObject()
		case json.Number:
			if _, err := strconv.ParseFloat(string(t), 64); err != nil {
				return fmt.Errorf("number %s does not fit a float64", clipKey(string(t)))
			}
			expectKey = inObject()
		default: // bool, null
			expectKey = inObject()
		}
	}
}

// clipKey shortens s for an error message.
func clipKey(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// preparePayloads checks the payloads of a write to ids; keepNil says
// whether a nil entry keeps the stored payload (upserts) or removes it
// (SetPayloads).
func (ix *Index) preparePayloads(ids []uint64, payloads [][]byte, keepNil bool) ([]payloadWrite, error) {
	if len(payloads) != len(ids) {
		return nil, fmt.Errorf("%w: %d ids for %d payloads", ErrBadInput, len(ids), len(payloads))
	}
	out := make([]payloadWrite, len(ids))
	for i, p := range payloads {
		if p == nil {
			out[i] = payloadWrite{set: !keepNil}
			continue
		}
		c, err := normalizePayload(p, ix.opts.MaxPayloadBytes)
		if err != nil {
			return nil, fmt.Errorf("vector %d (id %d): %w", i, ids[i], err)
		}
		out[i] = payloadWrite{set: true, json: c}
	}
	return out, nil
}

func encodePayload(c []byte) []byte {
	return append([]byte{payloadFormat}, c...)
}

// decodePayload returns the JSON of a payload record.
func decodePayload(v []byte) ([]byte, error) {
	if len(v) < 3 || v[0] != payloadFormat || v[1] != '{' {
		first := -1
		if len(v) > 0 {
			first = int(v[0])
		}
		return nil, fmt.Errorf("%w: payload record of %d bytes (format %d)", errs.Corrupt, len(v), first)
	}
	return bytes.Clone(v[1:]), nil
}

// loadPayloadState reads, at Open, the indexed payload fields and whether
// any payload is stored.
func (ix *Index) loadPayloadState() error {
	if err := ix.loadIndexedFields(); err != nil {
		return err
	}
	errFound := errors.New("found")
	err := ix.store.ScanPrefix(keys.Prefix(keys.Payload), func(k, v []byte) error { return errFound })
	switch {
	case errors.Is(err, errFound):
		ix.hasPayloads.Store(true)
	case err != nil:
		return err
	}
	return nil
}

// Payload returns the payload of vector id (nil for none), or
// ErrNotFound for an id that holds no vector.
func (ix *Index) Payload(id uint64) ([]byte, error) {
	if ix.closed.Load() {
		return nil, ErrClosed
	}
	if !ix.Contains(id) {
		return nil, fmt.Errorf("id %d: %w", id, ErrNotFound)
	}
	if !ix.hasPayloads.Load() {
		return nil, nil
	}
	v, err := ix.store.Get(keys.ID(keys.Payload, id))
	if errors.Is(err, posting.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := decodePayload(v)
	if err != nil {
		return nil, fmt.Errorf("id %d: %w", id, err)
	}
	return p, nil
}

// Payloads returns the payloads of ids (distinct), read in id order with
// one iterator: nil for an id with none or with no vector.
func (ix *Index) Payloads(ids []uint64) ([][]byte, error) {
	if ix.closed.Load() {
		return nil, ErrClosed
	}
	if err := checkIDs(ids); err != nil {
		return nil, err
	}
	out, err := ix.readPayloads(ids)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if !ix.Contains(id) {
			out[i] = nil
		}
	}
	return out, nil
}

// readPayloads reads the stored payloads of ids (distinct).
func (ix *Index) readPayloads(ids []uint64) ([][]byte, error) {
	out := make([][]byte, len(ids))
	if !ix.hasPayloads.Load() {
		return out, nil
	}
	order, ks := keys.SortedIDs(keys.Payload, ids)
	err := ix.store.GetSorted(ks, func(j int, v []byte) error {
		i := order[j]
		p, err := decodePayload(v)
		if err != nil {
			return fmt.Errorf("id %d: %w", ids[i], err)
		}
		out[i] = p
		return nil
	})
	return out, err
}

// SetPayloads replaces the payload of each ids[i] with payloads[i] (nil:
// remove it). Labels derived from indexed payload fields
// (SetIndexedFields) follow. Every id must hold a vector (else
// ErrNotFound, and nothing changes). The batch is atomic, and durable on
// return unless Options.NoSync is set.
//
// Errors: ErrBadInput for an empty batch, len(ids) != len(payloads), an
// id twice in the batch, a payload that is not a JSON object of valid
// UTF-8 or is larger than Options.MaxPayloadBytes; ErrNotFound.
func (ix *Index) SetPayloads(ids []uint64, payloads [][]byte) error {
	return ix.setPayloads(0, false, ids, payloads)
}

// SetPayloadsOwned is SetPayloads on behalf of tenant owner (not 0):
// every id must hold a vector owner owns, checked under the writer lock
// with the write (else ErrNotOwned, and nothing changes).
func (ix *Index) SetPayloadsOwned(owner uint32, ids []uint64, payloads [][]byte) error {
	if owner == 0 {
		return fmt.Errorf("%w: SetPayloadsOwned with owner 0 (use SetPayloads)", ErrBadInput)
	}
	return ix.setPayloads(owner, true, ids, payloads)
}

// checkWritable checks, under the writer lock, that every id holds a
// vector (ErrNotFound) and, when owned, that owner owns it
// (ErrNotOwned).
func (ix *Index) checkWritable(what string, owner uint32, owned bool, ids []uint64) error {
	for _, id := range ids {
		if !ix.Contains(id) {
			return fmt.Errorf("shoal: %s: id %d: %w", what, id, ErrNotFound)
		}
		if !owned {
			continue
		}
		o, err := ix.ten.Owner(id)
		if err != nil {
			return fmt.Errorf("shoal: %s: id %d: %w", what, id, err)
		}
		if uint32(o) != owner {
			return fmt.Errorf("shoal: %s: id %d: %w", what, id, ErrNotOwned)
		}
	}
	return nil
}

func (ix *Index) setPayloads(owner uint32, owned bool, ids []uint64, payloads [][]byte) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	if err := checkIDs(ids); err != nil {
		return err
	}
	pw, err := ix.preparePayloads(ids, payloads, false)
	if err != nil {
		return err
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if err := ix.checkWritable("set payloads", owner, owned, ids); err != nil {
		return err
	}
	b := ix.store.NewBatch()
	defer b.Close()
	publish, err := ix.stagePayloads(b, ids, nil, pw)
	if err != nil {
		return err
	}
	if err := b.Commit(false); err != nil {
		return fmt.Errorf("shoal: set payloads: %w", err)
	}
	publish()
	return ix.syncWrites()
}

// UpsertWithPayloads is UpsertLabeled (owner 0: no owner) that also
// stores payloads: payloads[i] replaces the payload of ids[i], a nil
// entry keeps it (a new id then has none). labels may be nil: the ids
// keep their explicit labels. payloads may be nil: every id keeps its
// payload. The vectors, labels and payloads are one atomic batch.
//
// Errors: those of Upsert, and ErrBadInput for a payload that is not a
// JSON object of valid UTF-8 or is larger than Options.MaxPayloadBytes,
// naming the vector; nothing is stored then.
func (ix *Index) UpsertWithPayloads(owner uint32, ids []uint64, vectors [][]float32, labels [][]uint32, payloads [][]byte) error {
	var pw []payloadWrite
	if payloads != nil {
		var err error
		if pw, err = ix.preparePayloads(ids, payloads, true); err != nil {
			return err
		}
	}
	return ix.upsertWith(tenant.ID(owner), ids, vectors, labels, pw)
}

// stagePayloads stages in b the payload writes pw of ids (nil: none) and
// the label changes of ids: labels (normalised; nil keeps each id's
// explicit labels) together with the labels derived from the indexed
// payload fields. It returns what to publish once b committed. The
// caller holds the writer lock; ids are distinct.
func (ix *Index) stagePayloads(b posting.Batch, ids []uint64, labels [][]uint32, pw []payloadWrite) (publish func(), err error) {
	publishFloor := func() {}
	if labels != nil {
		if p := ix.names.stageNumbers(b, labels); p != nil {
			publishFloor = p
		}
	}
	wrote := false
	for i, id := range ids {
		if pw == nil || !pw[i].set {
			continue
		}
		wrote = true
		if pw[i].json == nil {
			b.Delete(keys.ID(keys.Payload, id))
		} else {
			b.Set(keys.ID(keys.Payload, id), encodePayload(pw[i].json))
		}
	}
	fields := ix.indexedFields()
	if len(fields) == 0 {
		p := ix.payloadsPublished(wrote)
		if labels == nil {
			return p, nil
		}
		pl, err := ix.lab.StageSet(b, ids, labels)
		if err != nil {
			return nil, err
		}
		return func() { publishFloor(); p(); pl() }, nil
	}
	// Derived labels: only ids whose payload or labels change.
	var sub []uint64
	var subLabels [][]uint32
	var oldP, newP [][]byte
	var at []int
	for i, id := range ids {
		if labels == nil && (pw == nil || !pw[i].set) {
			continue
		}
		sub, at = append(sub, id), append(at, i)
		if labels != nil {
			subLabels = append(subLabels, labels[i])
		}
	}
	if len(sub) == 0 {
		p := ix.payloadsPublished(wrote)
		return func() { publishFloor(); p() }, nil
	}
	old, err := ix.readPayloads(sub)
	if err != nil {
		return nil, err
	}
	oldP, newP = old, make([][]byte, len(sub))
	for j, i := range at {
		newP[j] = oldP[j]
		if pw != nil && pw[i].set {
			newP[j] = pw[i].json
		}
	}
	if labels == nil {
		subLabels = nil
	}
	pl, err := ix.stageDerived(b, sub, subLabels, oldP, newP, fields, fields)
	if err != nil {
		return nil, err
	}
	p := ix.payloadsPublished(wrote)
	return func() { publishFloor(); p(); pl() }, nil
}

// payloadsPublished returns what publishes a write that stored payloads
// (wrote) or not.
func (ix *Index) payloadsPublished(wrote bool) func() {
	if !wrote {
		return func() {}
	}
	return func() { ix.hasPayloads.Store(true) }
}

// stagePayloadDelete stages the removal of the payloads of the deleted
// ids gone.
func (ix *Index) stagePayloadDelete(b posting.Batch, gone []uint64) {
	if !ix.hasPayloads.Load() {
		return
	}
	for _, id := range gone {
		b.Delete(keys.ID(keys.Payload, id))
	}
}
