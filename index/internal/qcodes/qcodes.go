// Package qcodes turns rows of an index into quantized postings (posting
// format version 2): each row is rotated and encoded with RaBitQ
// (internal/rabitq) relative to the rotated head of its posting. The
// offline build and the update path share it, so a posting encodes the
// same way whichever wrote it.
package qcodes

import (
	"fmt"

	"github.com/shoaldb/shoal/internal/rabitq"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

// Encoder encodes postings for one quantizer. It holds scratch space; it
// is not safe for concurrent use (one per goroutine).
type Encoder struct {
	z    *rabitq.Quantizer
	enc  *rabitq.Encoder
	f    []float32 // a row widened to float32
	o, c []float32 // rotated row and center
	code []byte
	p    posting.Posting
}

// New returns an Encoder for z.
func New(z *rabitq.Quantizer) *Encoder {
	dp := z.PaddedDim()
	return &Encoder{
		z: z, enc: z.NewEncoder(),
		f: make([]float32, z.Dim()), o: make([]float32, dp), c: make([]float32, dp),
		code: make([]byte, z.CodeSize()),
	}
}

// Posting appends to dst the version 2 encoding of the entries ids (at
// versions vers) whose rows (len(ids) rows of elem, raw) are coded
// relative to center, the posting's head. An empty posting is encoded
// too (the caller decides whether to store it).
func (e *Encoder) Posting(dst []byte, elem vec.ElemType, center []float32, ids []uint64, vers []uint8, rows []byte) ([]byte, error) {
	dim := e.z.Dim()
	rb := dim * elem.Size()
	if len(center) != dim || len(vers) != len(ids) || len(rows) != len(ids)*rb {
		return nil, fmt.Errorf("qcodes: center of %d, %d ids, %d versions, %d row bytes for dim %d", len(center), len(ids), len(vers), len(rows), dim)
	}
	if err := e.z.Rotate(e.c, center); err != nil {
		return nil, err
	}
	e.p = posting.Posting{
		Elem: elem, Dim: dim, Bits: e.z.Options().Bits, CodeSize: len(e.code),
		Stamp: posting.CenterStamp(center),
		IDs:   ids, Versions: vers, Codes: e.p.Codes[:0],
	}
	for i := range ids {
		if err := e.Code(elem, rows[i*rb:(i+1)*rb]); err != nil {
			return nil, err
		}
		e.p.Codes = append(e.p.Codes, e.code...)
	}
	return posting.EncodeCodes(dst, &e.p), nil
}

// Code encodes one row relative to the center of the last Posting or
// SetCenter call; the code is valid until the next call.
func (e *Encoder) Code(elem vec.ElemType, row []byte) error {
	vec.ToFloat32(elem, row, e.f)
	if err := vec.CheckFinite(e.f); err != nil {
		return err
	}
	if err := e.z.Rotate(e.o, e.f); err != nil {
		return err
	}
	return e.enc.Encode(e.code, e.o, e.c)
}

// SetCenter sets the center Code encodes against.
func (e *Encoder) SetCenter(center []float32) error { return e.z.Rotate(e.c, center) }

// Last returns the code of the last Code call.
func (e *Encoder) Last() []byte { return e.code }
