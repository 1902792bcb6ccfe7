package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vec"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Bulk import (AdminService.StartImport, GetImport, ListImports,
// CancelImport): a job upserts the rows of a vector file on the server
// (anything index.OpenFile reads) into a collection, row i under id
// first_id + i, in a background goroutine.
//
// Security: the file must lie under Options.ImportDir once symbolic
// links and .. are resolved; anything else is PermissionDenied, so an
// admin key cannot make the server read arbitrary files. The check and
// the open are not atomic: whoever may write the import directory may
// swap a checked name for a link between the two (they are trusted).
//
// Each batch goes through the collection's write path as an Upsert does
// (vectors.go): the collection is acquired for the batch only, so drops,
// snapshots and other writers interleave with a job. A batch is applied whole or not at all; a job that fails or is
// cancelled leaves the rows before it stored (Done says how many).
//
// Jobs live in memory: a restart forgets them. Close and Shutdown cancel
// the running jobs and wait for them to stop before closing the
// collections.

// importBatch is the number of rows a job upserts per batch (at most
// Options.MaxBatch).
const importBatch = 1000

// imports are the server's import jobs. Safe for concurrent use.
type imports struct {
	wg sync.WaitGroup // running jobs
	mu struct {
		sync.Mutex
		jobs   map[string]*importJob
		order  []*importJob // by start
		closed bool         // no new jobs (the server is closing)
	}
}

// importJob is one job. The fields above mu are set before the job
// starts and never change; done is written by the job's goroutine only;
// mu guards the rest.
type importJob struct {
	id, coll, path, tenant string
	tenantID               uint32 // the tenant's number when the job started (0: none)
	firstID, total         uint64
	started                time.Time
	cancel                 context.CancelFunc
	stopped                chan struct{} // closed when the goroutine returns

	done atomic.Uint64
	mu   struct {
		sync.Mutex
		state    shoalv1.ImportJob_State
		err      string
		finished time.Time
	}
}

// proto returns the job's current progress.
func (j *importJob) proto() *shoalv1.ImportJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := &shoalv1.ImportJob{
		Id: j.id, Collection: j.coll, State: j.mu.state, Done: j.done.Load(), Total: j.total,
		Error: j.mu.err, Path: j.path, FirstId: j.firstID, Tenant: j.tenant,
		StartedUnixMs: j.started.UnixMilli(),
	}
	if !j.mu.finished.IsZero() {
		p.FinishedUnixMs = j.mu.finished.UnixMilli()
	}
	return p
}

// finish records the job's end.
func (j *importJob) finish(state shoalv1.ImportJob_State, err string) {
	j.mu.Lock()
	j.mu.state, j.mu.err, j.mu.finished = state, err, time.Now()
	j.mu.Unlock()
}

// add registers a job; false if the server is closing.
func (im *imports) add(j *importJob) bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.mu.closed {
		return false
	}
	if im.mu.jobs == nil {
		im.mu.jobs = make(map[string]*importJob)
	}
	im.mu.jobs[j.id] = j
	im.mu.order = append(im.mu.order, j)
	im.wg.Add(1)
	return true
}

func (im *imports) get(id string) (*importJob, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	j := im.mu.jobs[id]
	if j == nil {
		return nil, status.Errorf(codes.NotFound, "import job %s does not exist (jobs are forgotten when the server restarts)", clip(id))
	}
	return j, nil
}

func (im *imports) list() []*importJob {
	im.mu.Lock()
	defer im.mu.Unlock()
	return append([]*importJob(nil), im.mu.order...)
}

// stop refuses new jobs, cancels the running ones and waits for them.
func (im *imports) stop() {
	im.mu.Lock()
	im.mu.closed = true
	jobs := append([]*importJob(nil), im.mu.order...)
	im.mu.Unlock()
	for _, j := range jobs {
		j.cancel()
	}
	im.wg.Wait()
}

// importPath resolves a request's file name (relative to the import
// directory, or absolute) and checks that it lies in the import
// directory: PermissionDenied if not, NotFound if it does not exist.
func (s *Server) importPath(name string) (string, error) {
	if name == "" {
		return "", status.Error(codes.InvalidArgument, "path is empty")
	}
	dir, err := filepath.Abs(s.opts.ImportDir)
	if err != nil {
		return "", internal("import directory: %v", err)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", status.Errorf(codes.FailedPrecondition, "import directory: %v", err)
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	// Refuse a name outside before looking at it, so that the answer
	// tells nothing of files outside the import directory.
	if !within(root, filepath.Clean(p)) && !within(dir, filepath.Clean(p)) {
		return "", status.Errorf(codes.PermissionDenied, "path %s is outside the server's import directory", clip(name))
	}
	resolved, err := filepath.EvalSymlinks(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", status.Errorf(codes.NotFound, "path %s does not exist in the import directory", clip(name))
	}
	if err != nil {
		return "", status.Errorf(codes.InvalidArgument, "path %s: %s", clip(name), pathless(err))
	}
	if resolved, err = filepath.Abs(resolved); err != nil {
		return "", internal("path %s: %v", clip(name), err)
	}
	if !within(root, resolved) {
		return "", status.Errorf(codes.PermissionDenied, "path %s resolves outside the server's import directory", clip(name))
	}
	return resolved, nil
}

// pathless is err's message without the server's file names: a
// *fs.PathError's error alone, and whatever else names path replaced by
// "the file".
func pathless(err error, paths ...string) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	msg := err.Error()
	for _, p := range paths {
		msg = strings.ReplaceAll(msg, p, "the file")
	}
	return clipMessage(msg)
}

// within reports whether the clean path p lies in directory dir.
func within(dir, p string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func (a adminAPI) StartImport(ctx context.Context, req *shoalv1.StartImportRequest) (*shoalv1.ImportJob, error) {
	path, err := a.importPath(req.GetPath())
	if err != nil {
		return nil, err
	}
	c, err := a.acquire(req.GetCollection())
	if err != nil {
		return nil, err
	}
	dim := c.rec.Dim
	var tenantID uint32
	if req.GetTenant() != "" {
		if err := checkName("tenant", req.GetTenant()); err != nil {
			c.release()
			return nil, err
		}
		if tenantID, err = c.tenantID(req.GetTenant()); err != nil {
			c.release()
			return nil, err
		}
	}
	c.release()
	f, err := index.OpenFile(path)
	if err != nil {
		if errors.Is(err, index.ErrBadInput) {
			return nil, status.Errorf(codes.InvalidArgument, "path %s: %s", clip(req.GetPath()), pathless(err, path))
		}
		return nil, status.Errorf(codes.InvalidArgument, "path %s: not a vector file this server reads (fvecs, bvecs, fbin, u8bin, i8bin, npy): %s", clip(req.GetPath()), pathless(err, path))
	}
	if f.Dim() != dim {
		f.Close()
		return nil, status.Errorf(codes.InvalidArgument, "path %s holds vectors of dimension %d, the collection's dimension is %d", clip(req.GetPath()), f.Dim(), dim)
	}
	total := uint64(f.Len())
	if total > 0 && req.GetFirstId() > math.MaxUint64-(total-1) {
		f.Close()
		return nil, status.Errorf(codes.InvalidArgument, "first_id %d + %d rows overflows uint64", req.GetFirstId(), total)
	}
	jctx, cancel := context.WithCancel(context.Background())
	j := &importJob{
		id: newJobID(), coll: req.GetCollection(), path: path, tenant: req.GetTenant(), tenantID: tenantID,
		firstID: req.GetFirstId(), total: total, started: time.Now(), cancel: cancel,
		stopped: make(chan struct{}),
	}
	j.mu.state = shoalv1.ImportJob_STATE_RUNNING
	if !a.imports.add(j) {
		cancel()
		f.Close()
		return nil, status.Error(codes.Unavailable, "server is shutting down")
	}
	a.log.Info("import started", "job", j.id, "collection", j.coll, "path", path, "rows", total, "tenant", j.tenant)
	go a.runImport(jctx, j, f, c)
	return j.proto(), nil
}

// newJobID returns a random job id: ids of jobs forgotten at a restart
// are not reused.
func newJobID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("server: crypto/rand: %v", err))
	}
	return "imp-" + hex.EncodeToString(b[:])
}

// runImport is a job's goroutine. orig is the collection the job was
// started on: should it be dropped (and maybe created again under the
// same name), the job fails rather than write into another collection.
func (s *Server) runImport(ctx context.Context, j *importJob, f *index.FileSource, orig *collection) {
	defer s.imports.wg.Done()
	defer close(j.stopped)
	defer f.Close()
	state, msg := shoalv1.ImportJob_STATE_DONE, ""
	if err := s.importRows(ctx, j, f, orig); err != nil {
		state, msg = shoalv1.ImportJob_STATE_FAILED, err.Error()
		if ctx.Err() != nil {
			state, msg = shoalv1.ImportJob_STATE_CANCELLED, ""
		}
	}
	j.finish(state, msg)
	log := s.log.Info
	if state == shoalv1.ImportJob_STATE_FAILED {
		log = s.log.Warn
	}
	log("import finished", "job", j.id, "collection", j.coll, "state", state.String(), "done", j.done.Load(), "total", j.total, "err", msg)
}

// importRows upserts the file's rows batch by batch until done, an error
// or ctx is cancelled.
func (s *Server) importRows(ctx context.Context, j *importJob, f *index.FileSource, orig *collection) error {
	n := int(j.total)
	dim := f.Dim()
	batch := min(importBatch, s.opts.MaxBatch)
	rowBytes := dim * f.Elem().Size()
	raw := make([]byte, batch*rowBytes)
	for start := 0; start < n; start += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := min(batch, n-start)
		// The index may keep the slices it is given: fresh ones per batch.
		flat := make([]float32, m*dim)
		if f.Elem() == index.Float32 {
			if err := f.ReadRows(start, m, vec.F32ToBytes(flat)); err != nil {
				return fmt.Errorf("read rows %d..%d: %w", start, start+m-1, err)
			}
		} else {
			if err := f.ReadRows(start, m, raw[:m*rowBytes]); err != nil {
				return fmt.Errorf("read rows %d..%d: %w", start, start+m-1, err)
			}
			widen(f.Elem(), raw[:m*rowBytes], flat)
		}
		ids := make([]uint64, m)
		vecs := make([][]float32, m)
		for i := range ids {
			ids[i] = j.firstID + uint64(start+i)
			vecs[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
			if err := checkVector(fmt.Sprintf("row %d", start+i), vecs[i], dim); err != nil {
				return errors.New(status.Convert(err).Message())
			}
		}
		if err := s.upsertImportBatch(j, orig, ids, vecs); err != nil {
			return err
		}
		j.done.Add(uint64(m))
	}
	return nil
}

// testHookImportBatch, when set by a test, runs as a job's batch starts.
var testHookImportBatch func()

// upsertImportBatch upserts one batch into the job's collection, through the
// write path of vectorsAPI.upsert.
func (s *Server) upsertImportBatch(j *importJob, orig *collection, ids []uint64, vecs [][]float32) error {
	if testHookImportBatch != nil {
		testHookImportBatch()
	}
	c, err := s.acquire(j.coll)
	if err != nil {
		return errors.New(status.Convert(err).Message())
	}
	defer c.release()
	if c != orig {
		return fmt.Errorf("collection %q was dropped", j.coll)
	}
	t, err := tenantNumber(c, j.tenant)
	if err != nil {
		return errors.New(status.Convert(err).Message())
	}
	if t != j.tenantID {
		// The job is bound to the tenant it started with, not its name.
		return fmt.Errorf("tenant %s was deleted and created again during the import", clip(j.tenant))
	}
	if t != 0 {
		if err = checkTenantWrite(c, t, j.tenant, ids); err == nil {
			err = c.ix.UpsertOwned(t, ids, vecs)
		}
	} else {
		err = c.ix.Upsert(ids, vecs)
	}
	if err != nil {
		return fmt.Errorf("rows with ids %d..%d: %s", ids[0], ids[len(ids)-1], status.Convert(indexError(err)).Message())
	}
	return nil
}

// widen converts raw rows of uint8 or int8 elements to float32.
func widen(elem index.ElemType, raw []byte, dst []float32) {
	switch elem {
	case index.Uint8:
		for i, b := range raw {
			dst[i] = float32(b)
		}
	case index.Int8:
		for i, b := range vec.BytesToI8(raw) {
			dst[i] = float32(b)
		}
	default:
		panic(fmt.Sprintf("server: widen: element type %v", elem))
	}
}

func (a adminAPI) GetImport(ctx context.Context, req *shoalv1.GetImportRequest) (*shoalv1.ImportJob, error) {
	j, err := a.imports.get(req.GetId())
	if err != nil {
		return nil, err
	}
	return j.proto(), nil
}

func (a adminAPI) ListImports(ctx context.Context, req *shoalv1.ListImportsRequest) (*shoalv1.ListImportsResponse, error) {
	resp := &shoalv1.ListImportsResponse{}
	for _, j := range a.imports.list() {
		resp.Jobs = append(resp.Jobs, j.proto())
	}
	return resp, nil
}

func (a adminAPI) CancelImport(ctx context.Context, req *shoalv1.CancelImportRequest) (*shoalv1.ImportJob, error) {
	j, err := a.imports.get(req.GetId())
	if err != nil {
		return nil, err
	}
	j.cancel()
	select {
	case <-j.stopped:
	case <-ctx.Done():
		return nil, ctxError(ctx, "the job stopped (it stops after its current batch)")
	}
	a.log.Info("import cancelled", "job", j.id)
	return j.proto(), nil
}
