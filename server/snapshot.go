package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Snapshots (AdminService.CreateSnapshot, RestoreSnapshot) are logical:
// a collection's config, tenants, and every vector with its owner and
// grants, in zstd-compressed files with a manifest of checksums. A
// restore builds a new collection from them through the index's own
// writes, so a snapshot does not depend on the index's on-disk layout
// (which is not versioned for copying between namespaces) and restores
// into any later server.
//
// Consistency: CreateSnapshot holds the collection's write lock
// (collection.wmu) exclusively from the moment it lists the ids until
// the last vector is read, so no upsert, delete, grant, revoke or tenant
// change is half seen; searches and gets go on. Writes to the
// collection wait for the snapshot (it reads about as fast as the disk
// and zstd allow: see docs/server.md).
//
// # Format (version 2; version 1 is read too)
//
// A snapshot is a directory:
//
//	manifest.json        the manifest (below), written last
//	vectors-000000.zst   chunk files, each one zstd frame
//	vectors-000001.zst   ...
//
// It is written under a temporary name (".tmp-snapshot-" and random
// hex) beside its final one, every file synced, and renamed into place:
// a snapshot directory that exists is complete, and Open removes the
// temporary directories a crash left. Every path is opened beneath the
// snapshot directory (snapshotdir.go): a symbolic link in it cannot lead
// a snapshot or a restore outside.
//
// The manifest (JSON): format "shoal.snapshot", version 2, the source
// collection's name and config, its tenants (name and the index's
// number), the vector count, and per chunk file its name, vector count,
// raw (decompressed) and compressed sizes and the SHA-256 of the
// compressed file. A restore checks every file against the manifest
// before it creates anything.
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
//	                           byte 1, ...): sign and exponent bytes sit
//	                           together, so zstd finds their redundancy
//
// Version 1 (magic "SHSNAP01") has no label counts and no labels; its
// vectors restore without labels.
//
// Vectors are stored as float32 as Get returns them (decoded from the
// collection's element type, normalised for cosine), so restoring into
// the same element type is exact.

const (
	snapshotFormat   = "shoal.snapshot"
	snapshotVersion  = 2
	snapshotManifest = "manifest.json"
	chunkMagic       = "SHSNAP02"
	chunkMagicV1     = "SHSNAP01" // version 1: no labels
	// chunkValueBytes bounds the value bytes of one chunk (its memory
	// while it is encoded or decoded).
	chunkValueBytes = 8 << 20
	// maxChunkRawBytes bounds the decompressed size of one chunk a
	// restore accepts: its values (chunkValueBytes) plus ids, owners,
	// grants and labels, with room to spare.
	maxChunkRawBytes = 256 << 20
	// restoreBatch is the number of vectors a restore upserts at once.
	restoreBatch = 1000
)

// snapshotManifest is manifest.json.
type manifest struct {
	Format     string           `json:"format"`
	Version    int              `json:"version"`
	Collection string           `json:"collection"`
	Config     snapshotConfig   `json:"config"`
	Tenants    []tenantRecord   `json:"tenants"`
	Vectors    uint64           `json:"vectors"`
	RawBytes   uint64           `json:"raw_bytes"`
	Bytes      uint64           `json:"bytes"`
	CreatedMs  int64            `json:"created_unix_ms"`
	Files      []snapshotFileMD `json:"files"`
}

// snapshotConfig is the collection config of a manifest.
type snapshotConfig struct {
	Dim        int     `json:"dim"`
	Metric     string  `json:"metric"` // shoal.v1 Metric name
	Elem       string  `json:"elem"`   // shoal.v1 ElementType name
	PostingCap int     `json:"posting_cap"`
	Replicas   int     `json:"replicas"`
	NProbe     int     `json:"nprobe,omitempty"`
	Epsilon    float64 `json:"epsilon,omitempty"`
	Beam       int     `json:"beam,omitempty"`
}

type snapshotFileMD struct {
	Name     string `json:"name"`
	Vectors  uint64 `json:"vectors"`
	RawBytes uint64 `json:"raw_bytes"`
	Bytes    uint64 `json:"bytes"`
	SHA256   string `json:"sha256"`
}

func (a adminAPI) CreateSnapshot(ctx context.Context, req *shoalv1.CreateSnapshotRequest) (*shoalv1.CreateSnapshotResponse, error) {
	name, err := checkSnapshotName(req.GetDirectory())
	if err != nil {
		return nil, err
	}
	c, err := a.acquire(req.GetCollection())
	if err != nil {
		return nil, err
	}
	defer c.release()
	root, err := a.openSnapshotRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	parent, err := mkdirAllBeneath(root, path.Dir(name))
	if err != nil {
		return nil, snapshotFSError(name, err)
	}
	defer parent.Close()
	switch exists, err := existsBeneath(parent, path.Base(name)); {
	case err != nil:
		return nil, snapshotFSError(name, err)
	case exists:
		return nil, status.Errorf(codes.AlreadyExists, "snapshot directory %s exists", clip(name))
	}
	start := time.Now()
	m, err := a.writeSnapshot(ctx, c, parent, path.Base(name))
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			err = internal("snapshot of %q: %v", c.rec.Name, err)
		}
		return nil, err
	}
	dir := filepath.Join(a.opts.SnapshotDir, filepath.FromSlash(name))
	a.log.Info("snapshot created", "collection", c.rec.Name, "dir", dir, "vectors", m.Vectors,
		"bytes", m.Bytes, "raw_bytes", m.RawBytes, "took", time.Since(start).String())
	return &shoalv1.CreateSnapshotResponse{Directory: dir, Bytes: m.Bytes, Vectors: m.Vectors, RawBytes: m.RawBytes}, nil
}

// writeSnapshot writes c's snapshot to the directory dst in parent,
// which must not exist: into a temporary directory beside it, renamed
// into place once complete.
func (s *Server) writeSnapshot(ctx context.Context, c *collection, parent *os.File, dst string) (*manifest, error) {
	tmpName, tmp, err := mkdirTempBeneath(parent)
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		tmp.Close()
		if !done {
			if err := removeDirBeneath(parent, tmpName); err != nil {
				s.log.Warn("could not remove a temporary snapshot directory", "dir", filepath.Join(parent.Name(), tmpName), "err", err)
			}
		}
	}()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()

	// Keep writers out from the id list to the last vector.
	t0 := time.Now()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var tm snapshotTimes
	tm.wait = time.Since(t0)
	m := &manifest{
		Format: snapshotFormat, Version: snapshotVersion, Collection: c.rec.Name,
		Config: snapshotConfig{
			Dim: c.rec.Dim, Metric: c.rec.Metric, Elem: c.rec.Elem, PostingCap: c.rec.PostingCap,
			Replicas: c.rec.Replicas, NProbe: c.rec.NProbe, Epsilon: c.rec.Epsilon, Beam: c.rec.Beam,
		},
		CreatedMs: time.Now().UnixMilli(),
	}
	c.tmu.Lock()
	for name, id := range c.tenants {
		m.Tenants = append(m.Tenants, tenantRecord{Version: catalogVersion, Name: name, ID: id})
	}
	c.tmu.Unlock()
	slices.SortFunc(m.Tenants, func(a, b tenantRecord) int { return cmp.Compare(a.Name, b.Name) })
	t0 = time.Now()
	ids, err := c.ix.AppendIDs(nil)
	if err != nil {
		return nil, err
	}
	tm.ids = time.Since(t0)
	per := max(1, chunkValueBytes/(4*c.rec.Dim))
	var ch chunk
	var out []byte
	for first := 0; first < len(ids); first += per {
		if err := ctxError(ctx, "the snapshot was complete"); err != nil {
			return nil, err
		}
		ch.reset(c.rec.Dim)
		part := ids[first:min(first+per, len(ids))]
		t0 = time.Now()
		err := c.ix.ReadSorted(part, func(i int, v []float32, owner uint32, granted []uint32) error {
			labels, err := c.ix.Labels(part[i])
			if err != nil {
				return fmt.Errorf("labels of id %d: %w", part[i], err)
			}
			ch.add(part[i], owner, granted, labels, v)
			return nil
		})
		if err != nil {
			return nil, err
		}
		t1 := time.Now()
		raw := ch.encode()
		out = enc.EncodeAll(raw, out[:0])
		t2 := time.Now()
		name := fmt.Sprintf("vectors-%06d.zst", len(m.Files))
		if err := writeFileSyncBeneath(tmp, name, out); err != nil {
			return nil, err
		}
		tm.read += t1.Sub(t0)
		tm.compress += t2.Sub(t1)
		tm.write += time.Since(t2)
		sum := sha256.Sum256(out)
		m.Files = append(m.Files, snapshotFileMD{
			Name: name, Vectors: uint64(len(ch.ids)), RawBytes: uint64(len(raw)), Bytes: uint64(len(out)),
			SHA256: hex.EncodeToString(sum[:]),
		})
		m.Vectors += uint64(len(ch.ids))
		m.RawBytes += uint64(len(raw))
		m.Bytes += uint64(len(out))
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileSyncBeneath(tmp, snapshotManifest, append(b, '\n')); err != nil {
		return nil, err
	}
	m.Bytes += uint64(len(b) + 1)
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := unix.Renameat(int(parent.Fd()), tmpName, int(parent.Fd()), dst); err != nil {
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.ENOTDIR) {
			return nil, status.Errorf(codes.AlreadyExists, "snapshot directory %s exists", clip(dst))
		}
		return nil, &fs.PathError{Op: "rename", Path: dst, Err: err}
	}
	done = true
	s.log.Debug("snapshot phases", "collection", c.rec.Name, "wait_writers", tm.wait.String(), "list_ids", tm.ids.String(),
		"read", tm.read.String(), "compress", tm.compress.String(), "write_sync", tm.write.String())
	return m, parent.Sync()
}

// snapshotTimes are the phases of a snapshot, for the debug log.
type snapshotTimes struct{ wait, ids, read, compress, write time.Duration }

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

// maxManifestBytes bounds the size of a manifest.json that a restore
// reads (one of a snapshot of a billion vectors is about 3 MiB).
const maxManifestBytes = 64 << 20

// readSnapshotFile reads the file name of the snapshot directory dir
// (named dirName in the request), of want bytes (any size up to limit
// if want < 0).
func readSnapshotFile(dir *os.File, dirName, name string, limit, want int64) ([]byte, error) {
	b, err := readFileBeneath(dir, name, limit, want)
	switch {
	case err == nil:
		return b, nil
	case errors.Is(err, errOutside):
		return nil, status.Errorf(codes.PermissionDenied, "snapshot %s: file %s leads outside the snapshot directory (through a symbolic link)", clip(dirName), clip(name))
	case name == snapshotManifest && errors.Is(err, fs.ErrNotExist):
		return nil, status.Errorf(codes.NotFound, "no snapshot in %s (no %s)", clip(dirName), snapshotManifest)
	case name == snapshotManifest && errors.Is(err, errTooLarge):
		return nil, status.Errorf(codes.InvalidArgument, "snapshot %s: %v", clip(dirName), err)
	}
	return nil, status.Errorf(codes.DataLoss, "snapshot %s: file %s: %v", clip(dirName), clip(name), err)
}

// readManifest reads and checks the manifest of the snapshot directory
// dir (named name in the request) and the checksums of its files.
func readManifest(dir *os.File, name string) (*manifest, error) {
	b, err := readSnapshotFile(dir, name, snapshotManifest, maxManifestBytes, -1)
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Format != snapshotFormat {
		return nil, status.Errorf(codes.InvalidArgument, "%s/%s is not a Shoal snapshot manifest", clip(name), snapshotManifest)
	}
	if m.Version != snapshotVersion && m.Version != 1 {
		return nil, status.Errorf(codes.FailedPrecondition, "snapshot version %d; this server reads versions 1 to %d", m.Version, snapshotVersion)
	}
	if err := m.Config.check(); err != nil {
		return nil, err
	}
	var n uint64
	for _, f := range m.Files {
		if !filepath.IsLocal(f.Name) || filepath.Base(f.Name) != f.Name || f.Bytes > math.MaxInt64 {
			return nil, status.Errorf(codes.InvalidArgument, "snapshot manifest names file %s of %d bytes", clip(f.Name), f.Bytes)
		}
		b, err := readSnapshotFile(dir, name, f.Name, math.MaxInt64, int64(f.Bytes))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			return nil, status.Errorf(codes.DataLoss, "snapshot file %s: SHA-256 %x, the manifest says %s", f.Name, sum, clip(f.SHA256))
		}
		n += f.Vectors
	}
	if n != m.Vectors {
		return nil, status.Errorf(codes.DataLoss, "snapshot files hold %d vectors, the manifest says %d", n, m.Vectors)
	}
	return &m, nil
}

// check refuses a manifest's config that no collection may have.
func (c *snapshotConfig) check() error {
	_, metric := shoalv1.Metric_value[c.Metric]
	_, elem := shoalv1.ElementType_value[c.Elem]
	switch {
	case c.Dim <= 0 || c.Dim > maxDim:
		return status.Errorf(codes.InvalidArgument, "snapshot manifest: dimension %d, want 1 to %d", c.Dim, maxDim)
	case !metric || !elem:
		return status.Errorf(codes.InvalidArgument, "snapshot manifest: metric %s, element type %s", clip(c.Metric), clip(c.Elem))
	case c.PostingCap < 0 || c.PostingCap > math.MaxUint32 || c.Replicas < 0 || c.Replicas > math.MaxUint32 ||
		c.NProbe < 0 || c.NProbe > math.MaxUint32 || c.Beam < 0 || c.Beam > math.MaxUint32:
		// Above what the API allows, but not wrapped: newCollection
		// refuses them with its own message.
		return status.Errorf(codes.InvalidArgument, "snapshot manifest: posting_cap %d, replicas %d, nprobe %d, beam %d", c.PostingCap, c.Replicas, c.NProbe, c.Beam)
	}
	return nil
}

func (a adminAPI) RestoreSnapshot(ctx context.Context, req *shoalv1.RestoreSnapshotRequest) (*shoalv1.Collection, error) {
	name, err := checkSnapshotName(req.GetDirectory())
	if err != nil {
		return nil, err
	}
	if err := checkName("collection", req.GetCollection()); err != nil {
		return nil, err
	}
	root, err := a.openSnapshotRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	dir, err := openBeneath(root, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, snapshotFSError(name, err)
	}
	defer dir.Close()
	m, err := readManifest(dir, name)
	if err != nil {
		return nil, err
	}
	cfg := &shoalv1.CollectionConfig{
		Dim:         uint32(m.Config.Dim),
		Metric:      shoalv1.Metric(shoalv1.Metric_value[m.Config.Metric]),
		ElementType: shoalv1.ElementType(shoalv1.ElementType_value[m.Config.Elem]),
		PostingCap:  uint32(m.Config.PostingCap),
		Replicas:    uint32(m.Config.Replicas),
		DefaultSearch: &shoalv1.SearchParams{
			Nprobe: uint32(m.Config.NProbe), Epsilon: m.Config.Epsilon, Beam: uint32(m.Config.Beam),
		},
	}
	// DDL waits for the restore: the new collection is listed only
	// once it holds every vector (a crash before leaves an orphan that
	// the next Open drops).
	a.ddl.Lock()
	defer a.ddl.Unlock()
	start := time.Now()
	c, err := a.newCollection(ctx, req.GetCollection(), cfg)
	if err != nil {
		return nil, err
	}
	if err := a.restoreInto(ctx, c, dir, name, m); err != nil {
		a.discardCollection(c)
		if _, ok := status.FromError(err); !ok {
			err = indexError(fmt.Errorf("restore %s: %w", clip(name), err))
		}
		return nil, err
	}
	if err := a.addCollection(c); err != nil {
		return nil, err
	}
	a.log.Info("snapshot restored", "collection", c.rec.Name, "dir", dir.Name(), "vectors", m.Vectors, "took", time.Since(start).String())
	return describe(c.rec, c.ix.Len()), nil
}

// restoreInto fills the new collection c from the snapshot directory
// dir (named name in the request).
func (s *Server) restoreInto(ctx context.Context, c *collection, dir *os.File, name string, m *manifest) error {
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
