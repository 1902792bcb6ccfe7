package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Bulk import (AdminService.StartImport, Import, GetImport, ListImports,
// CancelImport): a job loads the rows of a vector file on the server
// (anything index.OpenFile reads) into a collection, row i under id
// first_id + i, in a background goroutine, by one of two methods:
//
//   - build (imports_build.go): into a collection without vectors, with
//     first_id 0, SPANN's offline build of the whole file into a new
//     namespace of the shared database, swapped in when complete; writes
//     to the collection are refused meanwhile (collection.writing).
//   - upsert (imports_upsert.go): batches of rows through the write path
//     of Upsert, each applied whole or not at all.
//
// AUTO picks build where it may be used and the file holds at least
// Options.ImportBuildMinRows rows (docs/server.md says why).
//
// Security: a StartImport file must lie under Options.ImportDir once
// symbolic links and .. are resolved; anything else is PermissionDenied,
// so an admin key cannot make the server read arbitrary files. The check
// and the open are not atomic: whoever may write the import directory
// may swap a checked name for a link between the two (they are trusted).
// Import streams the rows into a file of the server's own
// (imports_stream.go), removed when the job ends.
//
// Durability: every job has a record in the catalog (importRecord),
// written before the job starts, as it advances and when it ends. Open
// resumes the jobs that were running (resumeImport): an upsert job from
// the last row its record counts (upserting a row again is harmless: its
// id is its row's), a build job from the start, or, if its build was
// swapped in before the crash, it is DONE. A job that cannot resume (its
// collection, tenant or file gone or changed) is FAILED with the reason.
// Close and Shutdown stop the running jobs and leave their records
// RUNNING, so the next Open resumes them.

// importBatch is the number of rows an upsert job upserts per batch (at
// most Options.MaxBatch).
const importBatch = 1000

// maxFinishedImports bounds the finished jobs the catalog keeps (and
// ListImports shows): past it the oldest are deleted.
const maxFinishedImports = 1000

// Why a job's context was cancelled (context.Cause).
var (
	errImportCancelled = errors.New("cancelled by CancelImport")
	errServerClosing   = errors.New("the server is shutting down")
	errCollDropped     = errors.New("the collection was dropped")
)

// imports are the server's import jobs. Safe for concurrent use.
type imports struct {
	wg sync.WaitGroup // running jobs
	mu struct {
		sync.Mutex
		jobs   map[string]*importJob
		closed bool // no new jobs (the server is closing)
	}
}

// importJob is one job. The fields above mu are set before the job
// starts and never change; done is written by the job's goroutine only;
// mu guards the rest.
type importJob struct {
	id, coll, path, tenant string
	collNum                uint64
	tenantID               uint32 // the tenant's number when the job started (0: none)
	firstID, total         uint64
	method                 string // methodUpsert or methodBuild
	spool                  bool   // path is the server's own copy (Import), removed at the end
	started                time.Time
	cancel                 context.CancelCauseFunc
	stopped                chan struct{} // closed when the goroutine returns

	done atomic.Uint64
	mu   struct {
		sync.Mutex
		state    shoalv1.ImportJob_State
		err      string
		finished time.Time
		resumed  uint32
		buildDir string // a build job's namespace directory, relative
		// A build's stage and its progress (not recorded).
		stage                 string
		stageDone, stageTotal uint64
	}
}

// proto returns the job's current progress.
func (j *importJob) proto() *shoalv1.ImportJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := &shoalv1.ImportJob{
		Id: j.id, Collection: j.coll, State: j.mu.state, Done: j.done.Load(), Total: j.total,
		Error: j.mu.err, Path: j.path, FirstId: j.firstID, Tenant: j.tenant,
		StartedUnixMs: j.started.UnixMilli(), Method: apiMethod(j.method),
		Stage: j.mu.stage, StageDone: j.mu.stageDone, StageTotal: j.mu.stageTotal,
		Resumed: j.mu.resumed,
	}
	if !j.mu.finished.IsZero() {
		p.FinishedUnixMs = j.mu.finished.UnixMilli()
	}
	return p
}

func apiMethod(m string) shoalv1.ImportMethod {
	if m == methodBuild {
		return shoalv1.ImportMethod_IMPORT_METHOD_BUILD
	}
	return shoalv1.ImportMethod_IMPORT_METHOD_UPSERT
}

// record returns the job's catalog record.
func (j *importJob) record() importRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := importRecord{
		ID: j.id, Collection: j.coll, CollNumber: j.collNum, Path: j.path, Spool: j.spool,
		FirstID: j.firstID, Tenant: j.tenant, TenantID: j.tenantID, Method: j.method,
		BuildDir: j.mu.buildDir, State: j.mu.state.String(), Done: j.done.Load(), Total: j.total,
		Error: j.mu.err, Resumed: j.mu.resumed, StartedMs: j.started.UnixMilli(),
	}
	if !j.mu.finished.IsZero() {
		r.FinishedMs = j.mu.finished.UnixMilli()
	}
	return r
}

// jobFromRecord returns the job a record describes, not started.
func jobFromRecord(r importRecord) *importJob {
	j := &importJob{
		id: r.ID, coll: r.Collection, path: r.Path, tenant: r.Tenant, collNum: r.CollNumber,
		tenantID: r.TenantID, firstID: r.FirstID, total: r.Total, method: r.Method, spool: r.Spool,
		started: time.UnixMilli(r.StartedMs), cancel: func(error) {}, stopped: make(chan struct{}),
	}
	j.done.Store(r.Done)
	j.mu.state = shoalv1.ImportJob_State(shoalv1.ImportJob_State_value[r.State])
	j.mu.err, j.mu.resumed, j.mu.buildDir = r.Error, r.Resumed, r.BuildDir
	if r.FinishedMs != 0 {
		j.mu.finished = time.UnixMilli(r.FinishedMs)
	}
	return j
}

// running reports whether the job has not ended.
func (j *importJob) running() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.mu.state == shoalv1.ImportJob_STATE_RUNNING
}

// finish records the job's end in memory.
func (j *importJob) finish(state shoalv1.ImportJob_State, err string, at time.Time) {
	j.mu.Lock()
	j.mu.state, j.mu.err, j.mu.finished = state, err, at
	j.mu.stage, j.mu.stageDone, j.mu.stageTotal = "", 0, 0
	j.mu.Unlock()
}

// setStage records a build's progress.
func (j *importJob) setStage(stage string, done, total uint64) {
	j.mu.Lock()
	j.mu.stage, j.mu.stageDone, j.mu.stageTotal = stage, done, total
	j.mu.Unlock()
}

// add registers a job that will run (a goroutine must follow, and call
// im.wg.Done); false if the server is closing.
func (im *imports) add(j *importJob) bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.mu.closed {
		return false
	}
	im.put(j)
	im.wg.Add(1)
	return true
}

// put registers a job without running it. The caller holds im.mu, or
// is Open.
func (im *imports) put(j *importJob) {
	if im.mu.jobs == nil {
		im.mu.jobs = make(map[string]*importJob)
	}
	im.mu.jobs[j.id] = j
}

func (im *imports) get(id string) (*importJob, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	j := im.mu.jobs[id]
	if j == nil {
		return nil, status.Errorf(codes.NotFound, "import job %s does not exist (the server keeps the last %d finished jobs)", clip(id), maxFinishedImports)
	}
	return j, nil
}

// list returns the jobs, oldest first.
func (im *imports) list() []*importJob {
	im.mu.Lock()
	out := make([]*importJob, 0, len(im.mu.jobs))
	for _, j := range im.mu.jobs {
		out = append(out, j)
	}
	im.mu.Unlock()
	slices.SortFunc(out, func(a, b *importJob) int {
		return cmp.Or(a.started.Compare(b.started), strings.Compare(a.id, b.id))
	})
	return out
}

// runningOn returns the jobs of collection number coll that have not
// ended.
func (im *imports) runningOn(coll uint64) []*importJob {
	var out []*importJob
	for _, j := range im.list() {
		if j.collNum == coll && j.running() {
			out = append(out, j)
		}
	}
	return out
}

// Test hooks, set by tests only: testHookImportsStop runs once stop has
// cancelled the running jobs, testHookImportCancel once CancelImport has
// cancelled its job.
var (
	testHookImportsStop  func()
	testHookImportCancel func(job string)
)

// stop refuses new jobs, stops the running ones and waits for them.
func (im *imports) stop() {
	im.mu.Lock()
	im.mu.closed = true
	im.mu.Unlock()
	for _, j := range im.list() {
		j.cancel(errServerClosing)
	}
	if testHookImportsStop != nil {
		testHookImportsStop()
	}
	im.wg.Wait()
}

// pruneImports forgets the oldest finished jobs past maxFinishedImports, in
// memory and in the catalog.
func (s *Server) pruneImports() {
	var finished []*importJob
	for _, j := range s.imports.list() {
		if !j.running() {
			finished = append(finished, j)
		}
	}
	for _, j := range finished[:max(0, len(finished)-maxFinishedImports)] {
		if err := s.cat.deleteImport(j.id); err != nil {
			s.log.Warn("import job record not deleted", "job", j.id, "err", err)
			return
		}
		s.imports.mu.Lock()
		delete(s.imports.mu.jobs, j.id)
		s.imports.mu.Unlock()
	}
}

// saveJob writes the job's record.
func (s *Server) saveJob(j *importJob) error {
	if err := s.cat.putImport(j.record()); err != nil {
		return fmt.Errorf("import job %s: record: %w", j.id, err)
	}
	return nil
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

// importSpec is what a job is asked to do: StartImport's request, or
// Import's first message.
type importSpec struct {
	coll, tenant string
	firstID      uint64
	method       shoalv1.ImportMethod
	path         string // resolved
	name         string // as the request gave it, for messages
	spool        bool
}

func (a adminAPI) StartImport(ctx context.Context, req *shoalv1.StartImportRequest) (*shoalv1.ImportJob, error) {
	path, err := a.importPath(req.GetPath())
	if err != nil {
		return nil, err
	}
	return a.startImport(importSpec{
		coll: req.GetCollection(), tenant: req.GetTenant(), firstID: req.GetFirstId(),
		method: req.GetMethod(), path: path, name: req.GetPath(),
	})
}

// startImport checks a job, records it and starts it. Nothing is left
// behind when it fails.
func (s *Server) startImport(sp importSpec) (*shoalv1.ImportJob, error) {
	if _, ok := shoalv1.ImportMethod_name[int32(sp.method)]; !ok {
		return nil, status.Errorf(codes.InvalidArgument, "unknown import method %d", sp.method)
	}
	f, err := index.OpenFile(sp.path)
	if err != nil {
		if errors.Is(err, index.ErrBadInput) {
			return nil, status.Errorf(codes.InvalidArgument, "path %s: %s", clip(sp.name), pathless(err, sp.path))
		}
		return nil, status.Errorf(codes.InvalidArgument, "path %s: not a vector file this server reads (fvecs, bvecs, fbin, u8bin, i8bin, npy): %s", clip(sp.name), pathless(err, sp.path))
	}
	c, err := s.acquire(sp.coll)
	if err != nil {
		f.Close()
		return nil, err
	}
	j, err := s.newJob(sp, f, c)
	if err != nil {
		c.release()
		f.Close()
		return nil, err
	}
	c.release()
	if err := s.saveJob(j); err != nil {
		c.building.CompareAndSwap(j, nil)
		f.Close()
		return nil, internal("%v", err)
	}
	if !s.launch(j, f, c) {
		c.building.CompareAndSwap(j, nil)
		_ = s.cat.deleteImport(j.id)
		f.Close()
		return nil, status.Error(codes.Unavailable, "server is shutting down")
	}
	s.log.Info("import started", "job", j.id, "collection", j.coll, "path", j.path, "rows", j.total, "tenant", j.tenant, "method", j.method)
	return j.proto(), nil
}

// launch registers j and starts its goroutine on file f and collection
// orig; false if the server is closing (then nothing started).
func (s *Server) launch(j *importJob, f *index.FileSource, orig *collection) bool {
	ctx, cancel := context.WithCancelCause(context.Background())
	j.cancel = cancel
	if !s.imports.add(j) {
		cancel(nil)
		return false
	}
	go s.runImport(ctx, j, f, orig)
	return true
}

// newJob checks a job against its collection c (held shared by the
// caller) and its file, and picks its method. A build job claims c
// (c.building): the caller clears the claim if the job does not start.
func (s *Server) newJob(sp importSpec, f *index.FileSource, c *collection) (*importJob, error) {
	var tenantID uint32
	if sp.tenant != "" {
		if err := checkName("tenant", sp.tenant); err != nil {
			return nil, err
		}
		var err error
		if tenantID, err = c.tenantID(sp.tenant); err != nil {
			return nil, err
		}
	}
	if f.Dim() != c.rec.Dim {
		return nil, status.Errorf(codes.InvalidArgument, "path %s holds vectors of dimension %d, the collection's dimension is %d", clip(sp.name), f.Dim(), c.rec.Dim)
	}
	total := uint64(f.Len())
	if total > 0 && sp.firstID > math.MaxUint64-(total-1) {
		return nil, status.Errorf(codes.InvalidArgument, "first_id %d + %d rows overflows uint64", sp.firstID, total)
	}
	if b := c.building.Load(); b != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "collection %s is being loaded by import job %s (an offline build): start this job when it ends", clip(sp.coll), b.id)
	}
	j := &importJob{
		id: newJobID(), coll: sp.coll, path: sp.path, tenant: sp.tenant, collNum: c.rec.Number, tenantID: tenantID,
		firstID: sp.firstID, total: total, method: methodUpsert, spool: sp.spool, started: time.Now(),
		stopped: make(chan struct{}),
	}
	j.mu.state = shoalv1.ImportJob_STATE_RUNNING
	if sp.method == shoalv1.ImportMethod_IMPORT_METHOD_UPSERT {
		return j, nil
	}
	// Held exclusively, c.wmu means no write is in flight: c is empty
	// now and, once c.building is set, stays so.
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if b := c.building.Load(); b != nil {
		// Claimed since the check above.
		return nil, status.Errorf(codes.FailedPrecondition, "collection %s is being loaded by import job %s (an offline build): start this job when it ends", clip(sp.coll), b.id)
	}
	why := s.buildRefusal(sp, c, total)
	switch {
	case why == "":
		j.method = methodBuild
		j.mu.buildDir = buildDir(c.rec.Number, j.id, 0)
		c.building.Store(j)
	case sp.method == shoalv1.ImportMethod_IMPORT_METHOD_BUILD:
		return nil, status.Errorf(codes.FailedPrecondition, "import method BUILD cannot load collection %s: %s (use AUTO or UPSERT)", clip(sp.coll), why)
	}
	return j, nil
}

// buildRefusal says why a job may not build its collection offline, or
// returns "" if it may. The caller holds c.wmu exclusively.
func (s *Server) buildRefusal(sp importSpec, c *collection, total uint64) string {
	switch {
	case c.ix.Len() > 0:
		return "it holds vectors (a build replaces a collection without any)"
	case sp.firstID != 0:
		return "first_id is not 0 (a build numbers rows from 0)"
	case total == 0:
		return "the file holds no rows"
	case total > math.MaxUint32:
		return fmt.Sprintf("the file holds %d rows, a build at most %d", total, uint64(math.MaxUint32))
	case len(s.imports.runningOn(c.rec.Number)) > 0:
		return "another import job is loading it"
	case sp.method == shoalv1.ImportMethod_IMPORT_METHOD_AUTO && total < uint64(s.opts.ImportBuildMinRows):
		return fmt.Sprintf("the file holds %d rows, fewer than the %d for which a build is faster", total, s.opts.ImportBuildMinRows)
	}
	return ""
}

// newJobID returns a random job id.
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
	var err error
	if j.method == methodBuild {
		err = s.importBuild(ctx, j, f, orig)
	} else {
		err = s.importRows(ctx, j, f, orig)
	}
	f.Close()
	if cause := context.Cause(ctx); err != nil && cause != nil {
		err = cause
	}
	j.cancel(nil)
	if errors.Is(err, errServerClosing) {
		// Left RUNNING: the next Open resumes it.
		if rerr := s.saveJob(j); rerr != nil {
			s.log.Warn("import job not recorded at shutdown", "job", j.id, "err", rerr)
		}
		s.log.Info("import stopped by shutdown; it resumes at the next start", "job", j.id, "collection", j.coll, "done", j.done.Load(), "total", j.total)
		return
	}
	state, msg := shoalv1.ImportJob_STATE_DONE, ""
	switch {
	case errors.Is(err, errImportCancelled):
		state = shoalv1.ImportJob_STATE_CANCELLED
	case err != nil:
		state, msg = shoalv1.ImportJob_STATE_FAILED, err.Error()
	}
	s.endJob(j, state, msg)
}

// endJob records a job's end, removes its spool file and forgets the
// oldest finished jobs past the limit. The end is recorded first (a
// restart then never resumes a job whose rows are gone) and shown to
// callers last, so a job seen ended has no spool file left.
func (s *Server) endJob(j *importJob, state shoalv1.ImportJob_State, msg string) {
	finished := time.Now()
	rec := j.record()
	rec.State, rec.Error, rec.FinishedMs = state.String(), msg, finished.UnixMilli()
	if err := s.cat.putImport(rec); err != nil {
		s.log.Warn("import job end not recorded", "job", j.id, "err", err)
	}
	if j.spool {
		if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("import spool file not removed", "job", j.id, "err", err)
		}
	}
	j.finish(state, msg, finished)
	log := s.log.Info
	if state == shoalv1.ImportJob_STATE_FAILED {
		log = s.log.Warn
	}
	log("import finished", "job", j.id, "collection", j.coll, "method", j.method, "state", state.String(), "done", j.done.Load(), "total", j.total, "err", msg)
	s.pruneImports()
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
	if !j.running() {
		return j.proto(), nil
	}
	j.cancel(errImportCancelled)
	if testHookImportCancel != nil {
		testHookImportCancel(j.id)
	}
	select {
	case <-j.stopped:
	case <-ctx.Done():
		return nil, ctxError(ctx, "the job stopped (an upsert job stops after its current batch, a build at its next read of the file)")
	}
	a.log.Info("import cancelled", "job", j.id)
	return j.proto(), nil
}
