package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Snapshots (AdminService.CreateSnapshot, RestoreSnapshot) are physical:
// a checkpoint of the collection's index (index.Index.Checkpoint), which
// links the index's immutable files and copies the rest, plus a manifest
// of every file's size and SHA-256. A restore copies the files into the
// data directory, checking each against the manifest as it goes, and
// imports them as a new collection (index.Restore: the index's records
// ingested into a new namespace of the server's database, its files
// linked into the collection's directory), at the speed of the disk.
//
// Consistency: the cut is a Pebble snapshot of the collection's records,
// taken under the index's writer lock (microseconds; index.Checkpoint),
// so it holds each upsert, delete, label, grant, revoke or tenant change
// whole or not at all; the server holds the collection's tenant lock
// (collection.tmu) around it, so the tenants recorded in the manifest
// are the index's at the cut, and the index counts its vectors there.
// Writers are not kept out otherwise: they go on while the files are
// linked, copied and checksummed.
//
// # Format (version 3; versions 1 and 2, logical, are restored too:
// snapshot_logical.go)
//
// A snapshot is a directory:
//
//	manifest.json        the manifest (below), written last
//	index/               the checkpoint: a directory index.Open opens as
//	                     an index of its own (shoal check -index works on
//	                     it): Pebble's files, postings-NNNNNN.seg,
//	                     tree*.shct; format: docs/format.md
//
// It is written under a temporary name (".tmp-snapshot-" and random
// hex) beside its final one, every file synced, and renamed into place:
// a snapshot directory that exists is complete, and Open removes the
// temporary directories a crash left. Every path is opened beneath the
// snapshot directory (snapshotdir.go), the checkpoint included (it is
// written through /proc/self/fd of the temporary directory): a symbolic
// link in it cannot lead a snapshot or a restore outside.
//
// The manifest (JSON): format "shoal.snapshot", version 3, the source
// collection's name and config, its tenants (name and the index's
// number), the vectors it held at the cut, the bytes of its files, and
// per file its name ("index/" and the file's name), size and SHA-256.
// Files of the checkpoint are hard links to the collection's where the
// file system allows (sealed segments, sstables, tree files: never
// changed in place), so a snapshot on the data directory's file system
// costs little space until the collection's files are replaced.

const (
	snapshotFormat   = "shoal.snapshot"
	snapshotVersion  = 3
	snapshotManifest = "manifest.json"
	// snapshotIndexDir is the checkpoint's directory in a snapshot.
	snapshotIndexDir = "index"
	// restoreTempPrefix starts the name of the directory in the data
	// directory that a restore copies a snapshot's files to; Open
	// removes what a crash left of one.
	restoreTempPrefix = ".restore-"
	// copyBuffer is the buffer a restore copies files through.
	copyBuffer = 1 << 20
)

// manifest is manifest.json.
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
	// IndexedFields are the collection's indexed payload fields (a
	// physical snapshot's index holds them too).
	IndexedFields []string `json:"indexed_payload_fields,omitempty"`
	// Quant is what the collection's postings hold ("rabitq4"; "" for
	// rows): a physical snapshot's index says so too, and is the truth
	// for a restore.
	Quant string `json:"quant,omitempty"`
}

// snapshotFileMD is one file of a manifest; Vectors and RawBytes only
// in versions 1 and 2.
type snapshotFileMD struct {
	Name     string `json:"name"`
	Vectors  uint64 `json:"vectors,omitempty"`
	RawBytes uint64 `json:"raw_bytes,omitempty"`
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
		"bytes", m.Bytes, "files", len(m.Files), "took", time.Since(start).String())
	// The directory as RestoreSnapshot takes it: relative to the
	// snapshot directory (a path of the server's file system would mean
	// nothing to a client on another machine).
	return &shoalv1.CreateSnapshotResponse{Directory: name, Bytes: m.Bytes, Vectors: m.Vectors, RawBytes: m.RawBytes}, nil
}

// writeSnapshot writes c's snapshot to the directory dst in parent,
// which must not exist: into a temporary directory beside it, renamed
// into place once complete.
func (s *Server) writeSnapshot(ctx context.Context, c *collection, parent *os.File, dst string) (*manifest, error) {
	if err := ctxError(ctx, "the snapshot was taken"); err != nil {
		return nil, err
	}
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
	m := &manifest{
		Format: snapshotFormat, Version: snapshotVersion, Collection: c.rec.Name,
		Config: snapshotConfig{
			Dim: c.rec.Dim, Metric: c.rec.Metric, Elem: c.rec.Elem, PostingCap: c.rec.PostingCap,
			Replicas: c.rec.Replicas, NProbe: c.rec.NProbe, Epsilon: c.rec.Epsilon, Beam: c.rec.Beam,
			IndexedFields: c.rec.IndexedFields, Quant: c.rec.Quant,
		},
		CreatedMs: time.Now().UnixMilli(),
	}
	var wait time.Duration
	cut := func(take func() error) error {
		// A tenant's creation or deletion holds tmu across its catalog
		// record and its index call: under it, the tenants are the
		// index's at the cut. Writes of vectors go on; the index holds
		// its writer lock for the microseconds the cut takes.
		t0 := time.Now()
		c.tmu.Lock()
		defer c.tmu.Unlock()
		wait = time.Since(t0)
		for name, id := range c.tenants {
			m.Tenants = append(m.Tenants, tenantRecord{Version: catalogVersion, Name: name, ID: id})
		}
		return take()
	}
	// The checkpoint goes through the descriptor of the temporary
	// directory, not its path, so that nothing swapped in on the way
	// leads it elsewhere.
	st, err := c.ix.Checkpoint(fdPath(tmp)+"/"+snapshotIndexDir, &index.CheckpointOptions{Cut: cut})
	if err != nil {
		return nil, err
	}
	if st.Vectors < 0 {
		return nil, internal("snapshot of %q: the checkpoint did not count its vectors", c.rec.Name)
	}
	m.Vectors = uint64(st.Vectors)
	slices.SortFunc(m.Tenants, func(a, b tenantRecord) int { return cmp.Compare(a.Name, b.Name) })
	t0 := time.Now()
	if m.Files, err = hashFilesBeneath(ctx, tmp, snapshotIndexDir); err != nil {
		return nil, err
	}
	hashed := time.Since(t0)
	for _, f := range m.Files {
		m.Bytes += f.Bytes
	}
	m.RawBytes = m.Bytes
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileSyncBeneath(tmp, snapshotManifest, append(b, '\n')); err != nil {
		return nil, err
	}
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
	s.log.Debug("snapshot phases", "collection", c.rec.Name, "wait_tenants", wait.String(), "cut", st.Cut.String(),
		"checkpoint", st.Took.String(), "linked_bytes", st.LinkedBytes, "copied_bytes", st.CopiedBytes, "checksums", hashed.String())
	return m, parent.Sync()
}

// fdPath returns a path that names the open directory f itself
// (/proc/self/fd/N), whatever happens to the path it was opened by; f's
// name where /proc is not mounted.
func fdPath(f *os.File) string {
	p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return p
	}
	return f.Name()
}

// hashFilesBeneath returns the name ("sub/" and the file's), size and
// SHA-256 of every file of the directory sub of dir, by name, each read
// through a descriptor opened beneath dir; anything but a regular file is
// an error.
func hashFilesBeneath(ctx context.Context, dir *os.File, sub string) ([]snapshotFileMD, error) {
	d, err := openBeneath(dir, sub, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]snapshotFileMD, 0, len(names))
	buf := make([]byte, copyBuffer)
	for _, n := range names {
		if err := ctxError(ctx, "the snapshot was complete"); err != nil {
			return nil, err
		}
		f, err := openBeneath(dir, sub+"/"+n, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			return nil, err
		}
		md, err := hashFile(f, buf)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		md.Name = sub + "/" + n
		out = append(out, md)
	}
	return out, nil
}

// hashFile returns the size and SHA-256 of the regular file f, and
// drops its pages from the page cache (a snapshot of a large collection
// must not push out what searches use).
func hashFile(f *os.File, buf []byte) (snapshotFileMD, error) {
	st, err := f.Stat()
	if err != nil {
		return snapshotFileMD{}, err
	}
	if !st.Mode().IsRegular() {
		return snapshotFileMD{}, errNotRegular
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, buf)
	if err != nil {
		return snapshotFileMD{}, err
	}
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	return snapshotFileMD{Bytes: uint64(n), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// maxManifestBytes bounds the size of a manifest.json that a restore
// reads (one of a snapshot of a billion vectors is about 3 MiB).
const maxManifestBytes = 64 << 20

// readSnapshotFile reads the file name of the snapshot directory dir
// (named dirName in the request), of want bytes (any size up to limit
// if want < 0).
func readSnapshotFile(dir *os.File, dirName, name string, limit, want int64) ([]byte, error) {
	b, err := readFileBeneath(dir, name, limit, want)
	if err != nil {
		return nil, snapshotFileError(dirName, name, err)
	}
	return b, nil
}

// snapshotFileError turns an error met on file name of the snapshot
// directory dirName into a status.
func snapshotFileError(dirName, name string, err error) error {
	switch {
	case errors.Is(err, errOutside):
		return status.Errorf(codes.PermissionDenied, "snapshot %s: file %s leads outside the snapshot directory (through a symbolic link)", clip(dirName), clip(name))
	case name == snapshotManifest && errors.Is(err, fs.ErrNotExist):
		return status.Errorf(codes.NotFound, "no snapshot in %s (no %s)", clip(dirName), snapshotManifest)
	case name == snapshotManifest && errors.Is(err, errTooLarge):
		return status.Errorf(codes.InvalidArgument, "snapshot %s: %v", clip(dirName), err)
	}
	return status.Errorf(codes.DataLoss, "snapshot %s: file %s: %v", clip(dirName), clip(name), err)
}

// readManifest reads and checks the manifest of the snapshot directory
// dir (named name in the request): its format, version, config and file
// names, and for a logical snapshot (versions 1 and 2) the checksums of
// its files. A physical snapshot's files are checked as a restore copies
// them.
func readManifest(dir *os.File, name string) (*manifest, error) {
	b, err := readSnapshotFile(dir, name, snapshotManifest, maxManifestBytes, -1)
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Format != snapshotFormat {
		return nil, status.Errorf(codes.InvalidArgument, "%s/%s is not a Shoal snapshot manifest", clip(name), snapshotManifest)
	}
	if m.Version < 1 || m.Version > snapshotVersion {
		return nil, status.Errorf(codes.FailedPrecondition, "snapshot version %d; this server reads versions 1 to %d", m.Version, snapshotVersion)
	}
	if err := m.Config.check(); err != nil {
		return nil, err
	}
	if m.Version < 3 {
		if err := checkLogicalFiles(dir, name, &m); err != nil {
			return nil, err
		}
		return &m, nil
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		base, ok := strings.CutPrefix(f.Name, snapshotIndexDir+"/")
		if !ok || base == "" || strings.HasPrefix(base, ".") || !filepath.IsLocal(base) || filepath.Base(base) != base ||
			f.Bytes > math.MaxInt64 || seen[base] {
			return nil, status.Errorf(codes.InvalidArgument, "snapshot manifest names file %s of %d bytes", clip(f.Name), f.Bytes)
		}
		seen[base] = true
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

// checkTenants checks the tenants of a manifest: valid names, numbers
// above 0, each once.
func (m *manifest) checkTenants() error {
	names, ids := map[string]bool{}, map[uint32]bool{}
	for _, t := range m.Tenants {
		if err := checkName("tenant", t.Name); err != nil || t.ID == 0 || ids[t.ID] || names[t.Name] {
			return status.Errorf(codes.InvalidArgument, "snapshot manifest: tenant %s number %d", clip(t.Name), t.ID)
		}
		names[t.Name], ids[t.ID] = true, true
	}
	return nil
}

func (a adminAPI) RestoreSnapshot(ctx context.Context, req *shoalv1.RestoreSnapshotRequest) (*shoalv1.Collection, error) {
	name, err := a.restoreSnapshotName(req.GetDirectory())
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
	if err := m.checkTenants(); err != nil {
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
		IndexedPayloadFields: m.Config.IndexedFields,
		Quant:                m.Config.Quant,
	}
	// DDL waits for the restore: the new collection is listed only
	// once it is complete (a crash before leaves an orphan namespace,
	// which the next Open drops, and a temporary directory, which it
	// removes).
	a.ddl.Lock()
	defer a.ddl.Unlock()
	start := time.Now()
	var c *collection
	if m.Version < 3 {
		if c, err = a.newCollection(ctx, req.GetCollection(), cfg); err != nil {
			return nil, err
		}
		err = a.restoreLogical(ctx, c, dir, name, m)
		if err != nil {
			a.discardCollection(c)
		}
	} else {
		c, err = a.restorePhysical(ctx, req.GetCollection(), cfg, dir, name, m)
	}
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			err = indexError(fmt.Errorf("restore %s: %w", clip(name), err))
		}
		return nil, err
	}
	if err := a.addCollection(c); err != nil {
		return nil, err
	}
	a.log.Info("snapshot restored", "collection", c.rec.Name, "dir", dir.Name(), "vectors", m.Vectors, "bytes", m.Bytes,
		"version", m.Version, "took", time.Since(start).String())
	return describe(c.rec, c.ix.Len()), nil
}

// restorePhysical makes the new collection coll of the physical snapshot
// in dir (named name in the request), whose manifest m was read: its
// files copied to a temporary directory in the data directory, each
// checked against the manifest as it is copied, then imported as the
// collection's index (index.Restore) and opened. It returns the
// collection, open but not listed; on error it leaves nothing behind.
// The caller holds s.ddl.
func (s *Server) restorePhysical(ctx context.Context, coll string, cfg *shoalv1.CollectionConfig, dir *os.File, name string, m *manifest) (*collection, error) {
	r, err := s.newRecord(ctx, coll, cfg)
	if err != nil {
		return nil, err
	}
	staging := filepath.Join(s.db.Dir(), restoreTempPrefix+strconv.FormatUint(r.Number, 10))
	collDir := s.collDir(r)
	var ix *index.Index
	ok := false
	defer func() {
		if err := os.RemoveAll(staging); err != nil {
			s.log.Warn("could not remove a restore's temporary directory", "dir", staging, "err", err)
		}
		if ok {
			return
		}
		if ix != nil {
			_ = ix.Close()
		}
		if err := index.Drop(collDir, &index.Options{Shared: s.db}); err != nil && !errors.Is(err, index.ErrNoIndex) {
			s.log.Warn("could not drop a failed restore's collection directory (the next start drops it)", "dir", collDir, "err", err)
		}
		_ = s.cat.deleteTenants(r.Number)
	}()
	// Paths of the data directory stay out of the messages of errors
	// that are the snapshot's fault.
	scrub := func(err error) string {
		return strings.NewReplacer(staging, "snapshot", collDir, "collection").Replace(err.Error())
	}
	if err := os.Mkdir(staging, 0o755); err != nil {
		return nil, internal("restore: %v", err)
	}
	if err := copySnapshotFiles(ctx, dir, name, m, staging); err != nil {
		return nil, err
	}
	if err := index.Restore(staging, collDir, &index.Options{Shared: s.db}); err != nil {
		return nil, restoreError(name, scrub(err), err)
	}
	if ix, err = index.Open(collDir, s.indexOptions(r)); err != nil {
		return nil, restoreError(name, scrub(err), err)
	}
	man := ix.Manifest()
	if man.Dim != m.Config.Dim || metrics[cfg.GetMetric()] != man.Metric || elems[cfg.GetElementType()] != man.Elem {
		return nil, status.Errorf(codes.DataLoss, "snapshot %s: its index has dimension %d, metric %v, element type %v; its manifest says %d, %s, %s",
			clip(name), man.Dim, man.Metric, man.Elem, m.Config.Dim, m.Config.Metric, m.Config.Elem)
	}
	if n := ix.Len(); uint64(n) != m.Vectors {
		return nil, status.Errorf(codes.DataLoss, "snapshot %s: its index holds %d vectors, its manifest says %d", clip(name), n, m.Vectors)
	}
	r.PostingCap, r.Replicas, r.Quant = man.PostingCap, man.Replicas, quantName(man.Quant)
	// The index's indexed fields came with it; they are the truth.
	r.IndexedFields = ix.IndexedFields()
	c := &collection{rec: r, ix: ix}
	for _, t := range m.Tenants {
		if err := s.cat.putTenant(r.Number, tenantRecord{Name: t.Name, ID: t.ID}); err != nil {
			return nil, internal("restore: %v", err)
		}
	}
	// The index's tenants are the manifest's (both read at the cut);
	// loadTenants makes them agree if a hand-made manifest differs.
	if err := s.loadTenants(c); err != nil {
		return nil, indexError(err)
	}
	ok = true
	return c, nil
}

// restoreError is the status of an error (whose message, without the
// data directory's paths, is msg) met importing or opening a snapshot's
// index: DataLoss where the snapshot's files are at fault.
func restoreError(name, msg string, err error) error {
	switch {
	case errors.Is(err, index.ErrCorrupt), errors.Is(err, index.ErrNoIndex), errors.Is(err, fs.ErrNotExist):
		return status.Errorf(codes.DataLoss, "snapshot %s does not hold an index that opens: %s", clip(name), msg)
	}
	return internal("restore %s: %s", clip(name), msg)
}

// copySnapshotFiles copies the files of the physical snapshot in dir
// (named name in the request) to the directory staging, checking each
// file's size and SHA-256 against the manifest m as it goes.
func copySnapshotFiles(ctx context.Context, dir *os.File, name string, m *manifest, staging string) error {
	buf := make([]byte, copyBuffer)
	h := sha256.New()
	for _, f := range m.Files {
		if err := ctxError(ctx, "the restore was complete"); err != nil {
			return err
		}
		if err := copySnapshotFile(dir, name, f, filepath.Join(staging, path.Base(f.Name)), h, buf); err != nil {
			return err
		}
	}
	return nil
}

// copySnapshotFile copies the snapshot file f to the new file dst.
func copySnapshotFile(dir *os.File, name string, f snapshotFileMD, dst string, h hash.Hash, buf []byte) error {
	// O_NONBLOCK: a FIFO planted in its place must not block the call.
	in, err := openBeneath(dir, f.Name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return snapshotFileError(name, f.Name, err)
	}
	defer in.Close()
	st, err := in.Stat()
	switch {
	case err != nil:
		return snapshotFileError(name, f.Name, err)
	case !st.Mode().IsRegular():
		return snapshotFileError(name, f.Name, errNotRegular)
	case uint64(st.Size()) != f.Bytes:
		return snapshotFileError(name, f.Name, fmt.Errorf("%w: %d bytes, want %d", errSizeDiffers, st.Size(), f.Bytes))
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return internal("restore: %v", err)
	}
	defer out.Close()
	h.Reset()
	n, err := io.CopyBuffer(io.MultiWriter(out, h), io.LimitReader(in, int64(f.Bytes)+1), buf)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == out.Name() {
			return internal("restore: %v", err)
		}
		return snapshotFileError(name, f.Name, err)
	}
	if uint64(n) != f.Bytes {
		return snapshotFileError(name, f.Name, fmt.Errorf("%w: %d bytes read, want %d (changed while read?)", errSizeDiffers, n, f.Bytes))
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return status.Errorf(codes.DataLoss, "snapshot %s: file %s: SHA-256 %s, the manifest says %s", clip(name), clip(f.Name), sum, clip(f.SHA256))
	}
	if err := out.Sync(); err != nil {
		return internal("restore: %v", err)
	}
	_ = unix.Fadvise(int(in.Fd()), 0, 0, unix.FADV_DONTNEED)
	_ = unix.Fadvise(int(out.Fd()), 0, 0, unix.FADV_DONTNEED)
	return nil
}

// cleanRestoreTemps removes the temporary directories of restores that a
// crash cut short.
func (s *Server) cleanRestoreTemps() {
	ents, err := os.ReadDir(s.db.Dir())
	if err != nil {
		s.log.Warn("could not look for temporary restore directories", "dir", s.db.Dir(), "err", err)
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), restoreTempPrefix) {
			continue
		}
		p := filepath.Join(s.db.Dir(), e.Name())
		if err := os.RemoveAll(p); err != nil {
			s.log.Warn("could not remove a temporary restore directory", "dir", p, "err", err)
			continue
		}
		s.log.Warn("removed a temporary restore directory (a restore was cut short)", "dir", p)
	}
}
