package tenant

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
)

// Check verifies the tenant state against the stored shortlists, for the
// index's Check. The index scans every stored posting once and hands the
// shortlists among them to Rows; Finish then checks, for every tenant,
// that each live vector it may read has a current row in its shortlists,
// that the access lists match the access records, and that every
// shortlist is stored. The caller holds the writer lock throughout.
type Check struct {
	c      *Curator
	owner  map[uint32]ID // shortlist posting → tenant
	rows   map[ID]map[uint64]struct{}
	stored map[uint32]struct{}
}

// NewCheck starts a check.
func (c *Curator) NewCheck() *Check {
	ck := &Check{c: c, owner: make(map[uint32]ID), rows: make(map[ID]map[uint64]struct{}), stored: make(map[uint32]struct{})}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for t, s := range c.parts {
		for _, p := range s.ids {
			ck.owner[p] = t
		}
	}
	return ck
}

// Owner returns the tenant whose shortlist posting p is, if any.
func (ck *Check) Owner(p uint32) (ID, bool) {
	t, ok := ck.owner[p]
	return t, ok
}

// Rows notes the current rows of shortlist p (decoded in dec) of tenant
// t and calls same for each, to compare it with the id's stored vector.
func (ck *Check) Rows(t ID, p uint32, dec *posting.Posting, same func(p uint32, id uint64, row []byte)) {
	ck.stored[p] = struct{}{}
	m := ck.rows[t]
	if m == nil {
		m = make(map[uint64]struct{})
		ck.rows[t] = m
	}
	view, err := ck.c.lists.View(t)
	if err != nil || dec.Quantized() {
		return
	}
	for i, id := range dec.IDs {
		if ck.c.RowCurrent(view, id, dec.Versions[i]) {
			m[id] = struct{}{}
			same(p, id, dec.Row(i))
		}
	}
}

var errStop = errors.New("stop")

// Finish returns the problems found, at most max of them.
func (ck *Check) Finish(max int) []string {
	c := ck.c
	var out []string
	for _, t := range c.lists.Tenants() {
		view, err := c.lists.View(t)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		ids := view.ToArray()
		recs, found, err := c.accessMany(ids)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		for i, id := range ids {
			if len(out) >= max {
				break
			}
			if !c.host.Live(id) {
				out = append(out, fmt.Sprintf("tenant %d: list holds id %d, which holds no vector", t, id))
				continue
			}
			if _, ok := ck.rows[t][id]; !ok {
				out = append(out, fmt.Sprintf("tenant %d may read id %d but no shortlist of it holds a current row", t, id))
			}
			if !found[i] || !slices.Contains(recs[i].readers(), t) {
				out = append(out, fmt.Sprintf("tenant %d: list holds id %d, its access record does not", t, id))
			}
		}
		if s := c.part(t); s != nil {
			for _, p := range s.ids {
				if _, ok := ck.stored[p]; !ok {
					out = append(out, fmt.Sprintf("tenant %d: shortlist %d is not stored", t, p))
				}
			}
		}
	}
	err := c.store.ScanPrefix(keys.Prefix(keys.Access), func(k, v []byte) error {
		id := binary.BigEndian.Uint64(k[1:])
		a, err := decodeAccess(v)
		if err != nil {
			return err
		}
		for _, t := range a.readers() {
			if !c.lists.Can(t, id) {
				out = append(out, fmt.Sprintf("access record of id %d names tenant %d, whose list lacks it", id, t))
			}
		}
		if len(out) >= max {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		out = append(out, err.Error())
	}
	return out
}
