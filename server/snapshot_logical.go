package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Logical snapshots (manifest versions 1 and 2), which servers before
// physical snapshots wrote: the collection's config, its tenants, and
// every vector with its owner, grants (and, version 2, labels), in
// zstd-compressed chunk files listed in the manifest with their SHA-256.
// This server no longer writes them; RestoreSnapshot still restores them,
// by creating an empty collection and upserting the vectors (about 12 s
// per 100k vectors of 128 dimensions), so that snapshots taken before
// stay usable.
//
// A chunk, decompressed (little-endian):
//
//	"SHSNAP02"                 8-byte magic
//	n u32, dim u32             vectors in the chunk, their dimension
//	n × id u64                 increasing, across the whole snapshot
//	n × owner u32              owner tenant, 0 for none
//	n × grants u32             number of tenants each vector is granted to
//	n × labels u32             number of labels of each vector
//	Σgrants × tenant u32       the granted tenants, vector by vector
//	Σlabels × label u32        the labels (ascending), vector by vector
//	4 × n·dim bytes            the float32 values in row order, split in
//	                           byte planes (byte 0 of every value, then
//	                           byte 1, ...)
//
// Version 1 (magic "SHSNAP01") has no label counts and no labels; its
// vectors restore without labels. Values are float32 as Get returned
// them.

const (
	chunkMagic   = "SHSNAP02"
	chunkMagicV1 = "SHSNAP01" // version 1: no labels
	// maxChunkRawBytes bounds the decompressed size of one chunk a
	// restore accepts (a chunk was written with at most 8 MiB of values,
	// plus ids, owners, grants and labels), with room to spare.
	maxChunkRawBytes = 256 << 20
	// restoreBatch is the number of vectors a restore upserts at once.
	restoreBatch = 1000
)

// chunk is the content of one chunk file.
type chunk struct {
	dim     int
	ids     []uint64
	owners  []uint32
	counts  []uint32
	granted []uint32
	lcounts []uint32 // labels per vector
	labels  []uint32
	values  []float32
}

func (c *chunk) reset(dim int) {
	c.dim = dim
	c.ids, c.owners, c.counts, c.granted, c.values = c.ids[:0], c.owners[:0], c.counts[:0], c.granted[:0], c.values[:0]
	c.lcounts, c.labels = c.lcounts[:0], c.labels[:0]
}

func (c *chunk) add(id uint64, owner uint32, granted, labels []uint32, v []float32) {
	c.ids = append(c.ids, id)
	c.owners = append(c.owners, owner)
	c.counts = append(c.counts, uint32(len(granted)))
	c.granted = append(c.granted, granted...)
	c.lcounts = append(c.lcounts, uint32(len(labels)))
	c.labels = append(c.labels, labels...)
	c.values = append(c.values, v...)
}

func (c *chunk) encode() []byte {
	n := len(c.ids)
	b := make([]byte, 0, 16+20*n+4*len(c.granted)+4*len(c.labels)+4*len(c.values))
	b = append(b, chunkMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, uint32(c.dim))
	for _, id := range c.ids {
		b = binary.LittleEndian.AppendUint64(b, id)
	}
	for _, xs := range [][]uint32{c.owners, c.counts, c.lcounts, c.granted, c.labels} {
		for _, x := range xs {
			b = binary.LittleEndian.AppendUint32(b, x)
		}
	}
	planes := b[len(b) : len(b)+4*len(c.values)]
	nv := len(c.values)
	for i, v := range c.values {
		u := math.Float32bits(v)
		planes[i], planes[nv+i], planes[2*nv+i], planes[3*nv+i] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return b[:len(b)+4*nv]
}

// errBadChunk reports a chunk that does not decode.
var errBadChunk = errors.New("server: bad snapshot chunk")

// decode parses a decompressed chunk (of either version) of vectors of
// dimension dim.
func (c *chunk) decode(b []byte, dim int) error {
	c.reset(dim)
	if len(b) < 16 || (string(b[:8]) != chunkMagic && string(b[:8]) != chunkMagicV1) {
		return fmt.Errorf("%w: no header", errBadChunk)
	}
	v1 := string(b[:8]) == chunkMagicV1
	perVector := uint64(20) // id, owner, grants, labels
	if v1 {
		perVector = 16
	}
	n := int(binary.LittleEndian.Uint32(b[8:]))
	if d := int(binary.LittleEndian.Uint32(b[12:])); d != dim {
		return fmt.Errorf("%w: dimension %d, the manifest says %d", errBadChunk, d, dim)
	}
	b = b[16:]
	if n < 0 || uint64(len(b)) < uint64(n)*perVector {
		return fmt.Errorf("%w: %d vectors in %d bytes", errBadChunk, n, len(b))
	}
	for i := 0; i < n; i++ {
		c.ids = append(c.ids, binary.LittleEndian.Uint64(b[8*i:]))
	}
	b = b[8*n:]
	u32s := func(dst []uint32, k int) []uint32 {
		for i := 0; i < k; i++ {
			dst = append(dst, binary.LittleEndian.Uint32(b[4*i:]))
		}
		b = b[4*k:]
		return dst
	}
	c.owners = u32s(c.owners, n)
	c.counts = u32s(c.counts, n)
	if !v1 {
		c.lcounts = u32s(c.lcounts, n)
	}
	total, ltotal := uint64(0), uint64(0)
	for _, k := range c.counts {
		total += uint64(k)
	}
	for _, k := range c.lcounts {
		ltotal += uint64(k)
	}
	nv := uint64(n) * uint64(dim)
	if total > uint64(len(b)) || ltotal > uint64(len(b)) || uint64(len(b)) != 4*total+4*ltotal+4*nv {
		return fmt.Errorf("%w: %d bytes of grants, labels and values, want %d", errBadChunk, len(b), 4*total+4*ltotal+4*nv)
	}
	c.granted = u32s(c.granted, int(total))
	c.labels = u32s(c.labels, int(ltotal))
	if v1 {
		c.lcounts = append(c.lcounts, make([]uint32, n)...)
	}
	for i := uint64(0); i < nv; i++ {
		u := uint32(b[i]) | uint32(b[nv+i])<<8 | uint32(b[2*nv+i])<<16 | uint32(b[3*nv+i])<<24
		c.values = append(c.values, math.Float32frombits(u))
	}
	return nil
}

// checkLogicalFiles checks the chunk files of a version 1 or 2 manifest
// m of the snapshot directory dir (named name in the request): each
// file's size and SHA-256, and the vectors they hold in all.
func checkLogicalFiles(dir *os.File, name string, m *manifest) error {
	var n uint64
	for _, f := range m.Files {
		if !filepath.IsLocal(f.Name) || filepath.Base(f.Name) != f.Name || f.Bytes > math.MaxInt64 {
			return status.Errorf(codes.InvalidArgument, "snapshot manifest names file %s of %d bytes", clip(f.Name), f.Bytes)
		}
		b, err := readSnapshotFile(dir, name, f.Name, math.MaxInt64, int64(f.Bytes))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			return status.Errorf(codes.DataLoss, "snapshot file %s: SHA-256 %x, the manifest says %s", f.Name, sum, clip(f.SHA256))
		}
		n += f.Vectors
	}
	if n != m.Vectors {
		return status.Errorf(codes.DataLoss, "snapshot files hold %d vectors, the manifest says %d", n, m.Vectors)
	}
	return nil
}

// restoreLogical fills the new collection c from the logical snapshot
// in dir (named name in the request), whose manifest m was checked.
func (s *Server) restoreLogical(ctx context.Context, c *collection, dir *os.File, name string, m *manifest) error {
	known := map[uint32]bool{}
	for _, t := range m.Tenants {
		if err := checkName("tenant", t.Name); err != nil || t.ID == 0 || known[t.ID] {
			return status.Errorf(codes.InvalidArgument, "snapshot manifest: tenant %q number %d", t.Name, t.ID)
		}
		known[t.ID] = true
		if err := s.cat.putTenant(c.rec.Number, tenantRecord{Name: t.Name, ID: t.ID}); err != nil {
			return err
		}
		if err := c.ix.CreateTenant(t.ID); err != nil {
			return err
		}
		c.tenants[t.Name] = t.ID
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxChunkRawBytes))
	if err != nil {
		return err
	}
	defer dec.Close()
	type batch struct {
		ids  []uint64
		vecs [][]float32
	}
	pending := map[uint32]*batch{}
	flush := func(owner uint32) error {
		b := pending[owner]
		if b == nil || len(b.ids) == 0 {
			return nil
		}
		var err error
		if owner == 0 {
			err = c.ix.Upsert(b.ids, b.vecs)
		} else {
			err = c.ix.UpsertOwned(owner, b.ids, b.vecs)
		}
		b.ids, b.vecs = b.ids[:0], b.vecs[:0]
		return err
	}
	grants := map[uint32][]uint64{}
	var labelled []uint64 // ids with labels, and their labels
	var labels [][]uint32
	var ch chunk
	var raw []byte
	last, seen := uint64(0), false
	for _, f := range m.Files {
		if err := ctxError(ctx, "the restore was complete"); err != nil {
			return err
		}
		b, err := readSnapshotFile(dir, name, f.Name, math.MaxInt64, int64(f.Bytes))
		if err != nil {
			return err
		}
		// A chunk decompresses to the size its manifest entry and its
		// frame header both declare, within a bound: a tampered chunk
		// cannot make the restore allocate without limit.
		var h zstd.Header
		if err := h.Decode(b); err != nil || !h.HasFCS || h.FrameContentSize != f.RawBytes || f.RawBytes > maxChunkRawBytes {
			return status.Errorf(codes.DataLoss, "snapshot file %s: its frame declares %d raw bytes (has size %v, %v), the manifest %d; a chunk holds at most %d",
				f.Name, h.FrameContentSize, h.HasFCS, err, f.RawBytes, maxChunkRawBytes)
		}
		if raw, err = dec.DecodeAll(b, raw[:0]); err != nil || uint64(len(raw)) != f.RawBytes {
			return status.Errorf(codes.DataLoss, "snapshot file %s: %d raw bytes, %v", f.Name, len(raw), err)
		}
		if err := ch.decode(raw, m.Config.Dim); err != nil || uint64(len(ch.ids)) != f.Vectors {
			return status.Errorf(codes.DataLoss, "snapshot file %s: %v (%d vectors, the manifest says %d)", f.Name, err, len(ch.ids), f.Vectors)
		}
		g, l := 0, 0
		for i, id := range ch.ids {
			if seen && id <= last {
				return status.Errorf(codes.DataLoss, "snapshot file %s: id %d after %d", f.Name, id, last)
			}
			last, seen = id, true
			owner := ch.owners[i]
			if owner != 0 && !known[owner] {
				return status.Errorf(codes.DataLoss, "snapshot file %s: id %d owned by unknown tenant %d", f.Name, id, owner)
			}
			for _, t := range ch.granted[g : g+int(ch.counts[i])] {
				if !known[t] {
					return status.Errorf(codes.DataLoss, "snapshot file %s: id %d granted to unknown tenant %d", f.Name, id, t)
				}
				grants[t] = append(grants[t], id)
			}
			g += int(ch.counts[i])
			if k := int(ch.lcounts[i]); k > 0 {
				labelled = append(labelled, id)
				labels = append(labels, slices.Clone(ch.labels[l:l+k]))
				l += k
			}
			p := pending[owner]
			if p == nil {
				p = &batch{}
				pending[owner] = p
			}
			p.ids = append(p.ids, id)
			// The chunk's values are reused by the next chunk: copy.
			p.vecs = append(p.vecs, slices.Clone(ch.values[i*m.Config.Dim:(i+1)*m.Config.Dim]))
			if len(p.ids) == restoreBatch {
				if err := flush(owner); err != nil {
					return err
				}
			}
		}
	}
	for owner := range pending {
		if err := flush(owner); err != nil {
			return err
		}
	}
	for first := 0; first < len(labelled); first += restoreBatch {
		hi := min(first+restoreBatch, len(labelled))
		if err := c.ix.SetLabels(labelled[first:hi], labels[first:hi]); err != nil {
			return status.Errorf(codes.DataLoss, "snapshot labels: %v", err)
		}
	}
	for t, ids := range grants {
		for first := 0; first < len(ids); first += s.opts.MaxBatch {
			if err := c.ix.Grant(t, ids[first:min(first+s.opts.MaxBatch, len(ids))]); err != nil {
				return err
			}
		}
	}
	if n := c.ix.Len(); uint64(n) != m.Vectors {
		return internal("restore: the new collection holds %d vectors, the snapshot %d", n, m.Vectors)
	}
	return nil
}
