package index

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/index/internal/qcodes"
	"github.com/shoaldb/shoal/index/internal/tail"
	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/rabitq"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

// Quant selects what an index's postings hold (issue 15).
type Quant uint8

const (
	// QuantNone stores every replica's full row in its posting (posting
	// format version 1): a search scores rows exactly as it reads them.
	QuantNone Quant = iota
	// QuantRaBitQ stores a RaBitQ code of each entry relative to its head
	// (posting format version 2, package internal/rabitq); the full rows
	// are stored once and read only for the candidates whose error bound
	// can still reach the top k, which are reranked exactly.
	QuantRaBitQ
)

// String returns the name ParseQuant reads ("none", "rabitq").
func (q Quant) String() string {
	switch q {
	case QuantNone:
		return "none"
	case QuantRaBitQ:
		return "rabitq"
	}
	return "Quant(" + strconv.Itoa(int(q)) + ")"
}

// ParseQuant reads a quantization as the CLI and the API write it:
// "none" (or ""), or "rabitq" optionally followed by the bits per
// dimension ("rabitq1" … "rabitq8"; 0 bits means the default for the
// dimension).
func ParseQuant(s string) (Quant, int, error) {
	switch {
	case s == "none" || s == "":
		return QuantNone, 0, nil
	case strings.HasPrefix(s, "rabitq"):
		rest := strings.TrimPrefix(s, "rabitq")
		if rest == "" {
			return QuantRaBitQ, 0, nil
		}
		b := 0
		if len(rest) == 1 && rest[0] >= '1' && rest[0] <= '8' {
			b = int(rest[0] - '0')
		}
		if b == 0 {
			return 0, 0, fmt.Errorf("%w: quantization %q: bits must be 1..8 (rabitq1 … rabitq8)", ErrInvalidOptions, s)
		}
		return QuantRaBitQ, b, nil
	}
	return 0, 0, fmt.Errorf("%w: quantization %q: want none or rabitq[1-8]", ErrInvalidOptions, s)
}

// DefaultQuantBits returns the bits per dimension a RaBitQ index of
// dimension dim uses unless told otherwise. The error bound of an
// estimate shrinks as 1/√D′ (D′ the padded dimension) and by about 2^B
// with the bits: high-dimensional data needs fewer bits for the same
// rerank count. The offline simulation of issue 15 (docs/decisions.md)
// found the fewest bytes per query at recall 0.92 with 2 bits at 784
// dimensions and 4 at 128; 1-bit codes at 128 dimensions reranked
// twelve times as many candidates.
func DefaultQuantBits(dim int) int {
	if rabitq.PaddedDim(dim) >= 512 {
		return 2
	}
	return 4
}

// QuantInfo is the manifest record of a quantized index: everything that
// fixes its codes.
type QuantInfo struct {
	Kind string `json:"kind"` // "rabitq"
	Bits int    `json:"bits"`
	Seed uint64 `json:"seed"` // of the rotation and the query dither
}

// newQuantizer returns the quantizer of man's codes, nil for an index
// without.
func newQuantizer(man *Manifest) (*rabitq.Quantizer, error) {
	if man.Quant == nil {
		return nil, nil
	}
	if man.Quant.Kind != "rabitq" {
		return nil, fmt.Errorf("%w: manifest quantization %q", ErrCorrupt, man.Quant.Kind)
	}
	z, err := rabitq.New(rabitq.Options{Dim: man.Dim, Bits: man.Quant.Bits, Metric: vec.Metric(man.Metric), Seed: man.Quant.Seed})
	if err != nil {
		return nil, fmt.Errorf("%w: manifest quantization: %v", ErrCorrupt, err)
	}
	return z, nil
}

// quantState is what a quantized index adds to Index: the quantizer,
// encoders for the update path, and the stamp of every head's centroid.
type quantState struct {
	z    *rabitq.Quantizer
	encs sync.Pool // *qcodes.Encoder
}

func newQuantState(z *rabitq.Quantizer) *quantState {
	s := &quantState{z: z}
	s.encs.New = func() any { return qcodes.New(z) }
	return s
}

// quantized reports whether the index's postings hold codes.
func (ix *Index) quantized() bool { return ix.qs != nil }

// encodePosting returns the stored form of m, posting p's content, with
// center the head its codes are relative to (quantized indexes; nil
// means p's head in the tree now).
func (ix *Index) encodePosting(p uint32, m *posting.Posting, center []float32) ([]byte, error) {
	m.Elem, m.Dim = ix.elem(), ix.man.Dim
	if !ix.quantized() {
		return posting.Encode(nil, m), nil
	}
	if center == nil {
		ix.rmu.RLock()
		if !ix.tree.IsLeaf(p) {
			ix.rmu.RUnlock()
			return nil, fmt.Errorf("%w: posting %d has no head to encode against", ErrCorrupt, p)
		}
		center = append([]float32(nil), ix.tree.Head(int(p))...)
		ix.rmu.RUnlock()
	}
	e := ix.qs.encs.Get().(*qcodes.Encoder)
	defer ix.qs.encs.Put(e)
	b, err := e.Posting(nil, ix.elem(), center, m.IDs, m.Versions, m.Vectors)
	if err != nil {
		return nil, fmt.Errorf("%w: encode posting %d: %v", ErrCorrupt, p, err)
	}
	return b, nil
}

// appendStored appends to m the entries of dec, posting p's decoded
// stored bytes, that keep accepts, with their rows: a posting of rows has
// them; a quantized one has codes, so its rows come from the stored
// vectors (an id deleted meanwhile is left out).
func (ix *Index) appendStored(m *posting.Posting, p uint32, dec *posting.Posting, keep func(id uint64, ver uint8) bool) error {
	if !dec.Quantized() {
		for i, id := range dec.IDs {
			if keep(id, dec.Versions[i]) {
				m.Add(id, dec.Versions[i], dec.Row(i))
			}
		}
		return nil
	}
	var ids []uint64
	var vers []uint8
	for i, id := range dec.IDs {
		if keep(id, dec.Versions[i]) {
			ids, vers = append(ids, id), append(vers, dec.Versions[i])
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := ix.vectors.Rows(ids)
	if err == nil {
		for i, id := range ids {
			m.Add(id, vers[i], rows[i*ix.rowBytes:(i+1)*ix.rowBytes])
		}
		return nil
	}
	if !errors.Is(err, errs.NotFound) {
		return fmt.Errorf("posting %d: rows of its entries: %w", p, err)
	}
	// Some id was deleted meanwhile: one at a time, skipping those.
	for i, id := range ids {
		row, err := ix.vectors.Row(id)
		if errors.Is(err, errs.NotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("posting %d: row of id %d: %w", p, id, err)
		}
		m.Add(id, vers[i], row)
	}
	return nil
}

// checkCodes is Check's part for a quantized posting p stored for head
// id: the codes are of this index's quantizer and relative to the head
// in tree, and each live entry's code is what encoding its stored vector
// gives now. It marks the live ids covered.
func (ix *Index) checkCodes(tree *cluster.Tree, id uint32, p *posting.Posting, covered map[uint64]struct{}, report func(string, ...any) bool) {
	if !ix.quantized() {
		report("posting %d holds codes, but the index is not quantized", id)
		return
	}
	if p.Bits != ix.man.Quant.Bits || p.CodeSize != ix.qs.z.CodeSize() {
		report("posting %d holds %d-bit codes of %d bytes, index %d-bit of %d", id, p.Bits, p.CodeSize, ix.man.Quant.Bits, ix.qs.z.CodeSize())
		return
	}
	head := tree.Head(int(id))
	if p.Stamp != posting.CenterStamp(head) {
		report("posting %d: codes relative to another center than its head's", id)
		return
	}
	e := ix.qs.encs.Get().(*qcodes.Encoder)
	defer ix.qs.encs.Put(e)
	if err := e.SetCenter(head); err != nil {
		report("posting %d: %v", id, err)
		return
	}
	var live []int
	var ids []uint64
	for i, v := range p.IDs {
		if ix.vers.live(v, p.Versions[i]) {
			covered[v] = struct{}{}
			live, ids = append(live, i), append(ids, v)
		}
	}
	// The rows of the posting in one batched read; one at a time (naming
	// the id that fails) only if that read fails.
	rows, batchErr := ix.vectors.Rows(ids)
	for j, i := range live {
		v := ids[j]
		var row []byte
		if batchErr == nil {
			row = rows[j*ix.rowBytes : (j+1)*ix.rowBytes]
		} else {
			var err error
			if row, err = ix.vectors.Row(v); err != nil {
				report("id %d: stored vector: %v", v, err)
				continue
			}
		}
		if err := e.Code(ix.elem(), row); err != nil || !bytes.Equal(e.Last(), p.Code(i)) {
			report("posting %d: the code of id %d is not its stored vector's", id, v)
		}
	}
}

// foldCodes is foldMany for a quantized index: a posting that needs
// neither a split nor a merge keeps the codes of its live stored entries
// as they are (its head has not moved: the stamp says so) and gets codes
// for the live copies of its tail, encoded once; its rows are not read.
// The others (rest, and any whose stamp is not its head's) go through
// rewrite, which works on rows.
func (ix *Index) foldCodes(read []uint32, tails []*tail.Tail, rest []uint32) (int, error) {
	ms := make([]posting.Posting, len(read))
	stored := make([]int, len(read))
	stamps := make([]uint32, len(read))
	var dec posting.Posting
	err := ix.store.ReadBatch(read, func(i int, b []byte) error {
		if err := posting.Decode(b, &dec); err != nil {
			return fmt.Errorf("%w: posting %d: %v", ErrCorrupt, read[i], err)
		}
		stored[i] = dec.Len()
		if !dec.Quantized() || dec.CodeSize != ix.qs.z.CodeSize() {
			return nil // stamp 0: rewritten from rows
		}
		stamps[i] = dec.Stamp
		m := &ms[i]
		m.CodeSize, m.Bits = dec.CodeSize, dec.Bits
		for j, id := range dec.IDs {
			if ix.vers.live(id, dec.Versions[j]) {
				m.AddCode(id, dec.Versions[j], dec.Code(j))
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	b := ix.store.NewBatch()
	defer b.Close()
	live := ix.liveLeaves()
	e := ix.qs.encs.Get().(*qcodes.Encoder)
	defer ix.qs.encs.Put(e)
	var fold []foldStaged
	for i, p := range read {
		t, m := tails[i], &ms[i]
		ix.rmu.RLock()
		var head []float32
		if ix.tree.IsLeaf(p) {
			head = slices.Clone(ix.tree.Head(int(p)))
		}
		ix.rmu.RUnlock()
		var stamp uint32
		if head != nil {
			stamp = posting.CenterStamp(head)
		}
		if head == nil || (stored[i] > 0 && stamps[i] != stamp) {
			rest = append(rest, p)
			continue
		}
		n := m.Len()
		if t != nil {
			for j, id := range t.IDs {
				if ix.vers.live(id, t.Vers[j]) {
					n++
				}
			}
		}
		if n > ix.splitAbove() || ix.shouldMerge(n, stored[i]+t.Len(), live) {
			rest = append(rest, p)
			continue
		}
		if err := e.SetCenter(head); err != nil {
			return 0, err
		}
		m.CodeSize, m.Bits = ix.qs.z.CodeSize(), ix.man.Quant.Bits
		if t != nil {
			for j, id := range t.IDs {
				if !ix.vers.live(id, t.Vers[j]) {
					continue
				}
				if err := e.Code(ix.elem(), t.Vecs[j*ix.rowBytes:(j+1)*ix.rowBytes]); err != nil {
					return 0, fmt.Errorf("%w: encode a copy of id %d: %v", ErrCorrupt, id, err)
				}
				m.AddCode(id, t.Vers[j], e.Last())
			}
		}
		last := t.Last()
		if m.Len() == 0 {
			b.DeletePosting(p)
		} else {
			m.Elem, m.Dim, m.Stamp = ix.elem(), ix.man.Dim, stamp
			if err := b.PutPosting(p, posting.EncodeCodes(nil, m)); err != nil {
				return 0, err
			}
		}
		stageTrim(b, p, t, last)
		fold = append(fold, foldStaged{p, last})
	}
	return ix.finishFolds(b, fold, rest)
}

// checkPosting reports a decoded posting that does not fit this index: of
// another dimension or element type, or codes of another shape (or codes
// in an index without a quantizer). Such bytes pass their checksum only
// if written by something else, but scoring them would index out of
// range.
func (ix *Index) checkPosting(p *posting.Posting) error {
	switch {
	case p.Dim != ix.man.Dim || p.Elem != ix.elem():
		return fmt.Errorf("holds %d-dim %v, index %d-dim %v", p.Dim, p.Elem, ix.man.Dim, ix.elem())
	case p.Quantized() && !ix.quantized():
		return errors.New("holds codes, but the index has no quantizer")
	case p.Quantized() && p.CodeSize != ix.qs.z.CodeSize():
		return fmt.Errorf("holds %d-bit codes of %d bytes, index %d-byte codes", p.Bits, p.CodeSize, ix.qs.z.CodeSize())
	}
	return nil
}
