package tenant

import (
	"encoding/binary"
	"fmt"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
)

// accessRec is an id's access record ('o' id → vv u8, owner u32 LE,
// granted u32 LE × n).
type accessRec struct {
	vv      uint8
	owner   ID   // 0: none
	granted []ID // other tenants that may read the id
}

func (a *accessRec) encode() []byte {
	b := make([]byte, 1, 5+4*len(a.granted))
	b[0] = a.vv
	b = binary.LittleEndian.AppendUint32(b, uint32(a.owner))
	for _, t := range a.granted {
		b = binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	return b
}

func decodeAccess(b []byte) (accessRec, error) {
	if len(b) < 5 || (len(b)-1)%4 != 0 {
		return accessRec{}, fmt.Errorf("%w: access record of %d bytes", errs.Corrupt, len(b))
	}
	a := accessRec{vv: b[0], owner: ID(binary.LittleEndian.Uint32(b[1:]))}
	for o := 5; o < len(b); o += 4 {
		a.granted = append(a.granted, ID(binary.LittleEndian.Uint32(b[o:])))
	}
	return a, nil
}

// readers returns every tenant that may read the id.
func (a *accessRec) readers() []ID {
	out := make([]ID, 0, 1+len(a.granted))
	if a.owner != 0 {
		out = append(out, a.owner)
	}
	return append(out, a.granted...)
}

// accessMany returns the access records of ids, which must be distinct
// (ok[i] is false for an id with none), reading them in id order with one
// iterator.
func (c *Curator) accessMany(ids []uint64) (recs []accessRec, ok []bool, err error) {
	order, ks := keys.SortedIDs(keys.Access, ids)
	recs, ok = make([]accessRec, len(ids)), make([]bool, len(ids))
	err = c.store.GetSorted(ks, func(j int, v []byte) error {
		i := order[j]
		a, err := decodeAccess(v)
		if err != nil {
			return fmt.Errorf("id %d: %w", ids[i], err)
		}
		recs[i], ok[i] = a, true
		return nil
	})
	return recs, ok, err
}

// Access returns, for each of ids (distinct), its owner (0: none) and the
// other tenants it was granted to, read in id order with one iterator.
func (c *Curator) Access(ids []uint64) (owners []ID, granted [][]ID, err error) {
	recs, _, err := c.accessMany(ids)
	if err != nil {
		return nil, nil, err
	}
	owners, granted = make([]ID, len(ids)), make([][]ID, len(ids))
	for i, a := range recs {
		owners[i], granted[i] = a.owner, a.granted
	}
	return owners, granted, nil
}
