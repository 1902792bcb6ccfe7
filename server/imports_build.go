package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// A build job (imports.go) loads a collection without vectors by SPANN's
// offline build (index.Build) of its whole file, several times faster
// than upserting the rows (docs/BENCHMARKS.md, "Ingest: bulk import"),
// and the index it makes is the one a build makes, not one still being
// split and folded by maintenance.
//
// Layout: a collection's Pebble records are a namespace of the shared
// database named by its directory (index.SharedDB). A built index cannot
// be moved into another namespace (its keys carry the namespace's id,
// its files live in its directory), so the job builds into a new
// namespace beside the collection's, "collections/<number>-<job>-<n>"
// (n counts the restarts the job went through), and the swap points the
// collection's catalog record at it:
//
//  1. index.Build into the new namespace, with the collection's metric,
//     element type, posting cap and replicas; its manifest, written
//     last, marks it complete.
//  2. Open it; create the collection's tenants in it, with their
//     numbers; with a tenant, make it the owner of every row (Index.Own).
//  3. Swap, holding the collection exclusively (no call uses it): write
//     the collection's record with the new directory (one synced Pebble
//     write: the commit point), then serve the new index.
//  4. Close the old index and drop its namespace.
//
// Crash safety: before step 3's write, the record names the old
// namespace and the next Open drops the new one as an orphan (a
// namespace under collections/ that no record names), so the collection
// is the old, empty one; after it, the record names the new one and Open
// drops the old one. The job's record names the new namespace (BuildDir)
// before the build begins, so Open knows a job whose build was swapped
// in (DONE) from one to run again from the start.
//
// Writes: from the moment the job finds the collection empty (under its
// write guard, so no write is in flight) until it ends, every write to
// the collection (upsert, delete, labels, tenants, grants) is refused
// with FailedPrecondition (collection.writing): the build would not hold
// it. Searches and gets are answered from the old, empty index until the
// swap. A drop cancels the job.
//
// Cancelling (CancelImport, shutdown, drop) takes effect at the build's
// next read of the file: every stage reads it but clustering, which runs
// to its end (seconds to a minute for millions of rows).

// buildDir returns the namespace directory (relative to the data
// directory, slashes) a build job builds into after resumed restarts.
func buildDir(coll uint64, job string, resumed uint32) string {
	return path.Join(collectionsDir, strconv.FormatUint(coll, 10)+"-"+strings.TrimPrefix(job, "imp-")+"-"+strconv.FormatUint(uint64(resumed), 10))
}

// importOwnBatch is how many rows one Index.Own call gives the job's
// tenant.
const importOwnBatch = 10_000

// testHookImportSwap, when set by a test, runs before a build job swaps
// its index in, with the job's id.
var testHookImportSwap func(job string)

// importSource is the job's file as index.Build reads it: a read fails
// once ctx is cancelled, which ends the build.
type importSource struct {
	*index.FileSource
	ctx context.Context
}

func (s importSource) ReadRows(start, n int, dst []byte) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	return s.FileSource.ReadRows(start, n, dst)
}

// importBuild builds the job's file into a new namespace and swaps it in
// for the collection orig, which the job has claimed (orig.building).
func (s *Server) importBuild(ctx context.Context, j *importJob, f *index.FileSource, orig *collection) error {
	defer orig.building.CompareAndSwap(j, nil) // if not swapped in
	j.mu.Lock()
	dir := j.mu.buildDir
	j.mu.Unlock()
	abs := filepath.Join(s.db.Dir(), filepath.FromSlash(dir))
	// The job holds orig.building: no one else changes orig.rec.
	rec := orig.rec
	rec.Dir = dir
	opts := &index.Options{
		Shared:     s.db,
		Metric:     metrics[shoalv1.Metric(shoalv1.Metric_value[rec.Metric])],
		Elem:       elems[shoalv1.ElementType(shoalv1.ElementType_value[rec.Elem])],
		PostingCap: rec.PostingCap,
		Replicas:   rec.Replicas,
		// The collection's indexed payload fields are its index's: the
		// built one records them too.
		IndexedPayloadFields: orig.ix.IndexedFields(),
		Progress: func(p index.Progress) {
			j.setStage(p.Stage, uint64(p.Done), uint64(p.Total))
		},
	}
	// Its postings hold what the collection's do, bits included: the
	// swap keeps the record, which describes them.
	opts.Quant, opts.QuantBits = quantOptions(orig.ix.Manifest().Quant)
	if _, err := index.Build(abs, importSource{f, ctx}, opts); err != nil {
		s.dropBuild(abs)
		return fmt.Errorf("build: %s", pathless(err, abs))
	}
	ix, err := index.Open(abs, s.indexOptions(rec))
	if err != nil {
		s.dropBuild(abs)
		return fmt.Errorf("open the built index: %s", pathless(err, abs))
	}
	if err := s.buildTenants(ctx, j, orig, ix); err != nil {
		ix.Close()
		s.dropBuild(abs)
		return err
	}
	if testHookImportSwap != nil {
		testHookImportSwap(j.id)
	}
	if err := ctx.Err(); err != nil {
		ix.Close()
		s.dropBuild(abs)
		return err
	}
	j.setStage("swap", 0, 0)
	return s.swapBuild(j, orig, ix, rec)
}

// buildTenants gives the built index ix the tenants of the collection,
// with their numbers, and makes the job's tenant the owner of every row.
func (s *Server) buildTenants(ctx context.Context, j *importJob, orig *collection, ix *index.Index) error {
	// Tenants are not created or deleted while the job holds the
	// collection (writing refuses it).
	orig.tmu.Lock()
	ts := make([]uint32, 0, len(orig.tenants))
	for _, t := range orig.tenants {
		ts = append(ts, t)
	}
	owner, ok := orig.tenants[j.tenant]
	orig.tmu.Unlock()
	if len(ts) > 0 {
		if err := ix.CreateTenants(ts); err != nil {
			return fmt.Errorf("tenants of the built index: %w", err)
		}
	}
	if j.tenantID == 0 {
		return nil
	}
	if !ok || owner != j.tenantID {
		return fmt.Errorf("tenant %s was deleted during the import", clip(j.tenant))
	}
	ids := make([]uint64, 0, importOwnBatch)
	for lo := uint64(0); lo < j.total; lo += importOwnBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		j.setStage("tenants", lo, j.total)
		ids = ids[:0]
		for id := lo; id < min(lo+importOwnBatch, j.total); id++ {
			ids = append(ids, id)
		}
		if err := ix.Own(owner, ids); err != nil {
			return fmt.Errorf("rows %d..%d: owner: %w", ids[0], ids[len(ids)-1], err)
		}
	}
	return nil
}

// swapBuild makes the built index ix, whose record rec names its
// directory, the index of collection orig (steps 3 and 4 above).
func (s *Server) swapBuild(j *importJob, orig *collection, ix *index.Index, rec collectionRecord) error {
	orig.mu.Lock()
	if orig.gone {
		orig.mu.Unlock()
		ix.Close()
		s.dropBuild(s.collDir(rec))
		return errCollDropped
	}
	if err := s.cat.putCollection(rec); err != nil {
		orig.mu.Unlock()
		// Whether the record reached the disk is unknown: keep both
		// namespaces, and the next Open drops the one it does not name.
		ix.Close()
		return fmt.Errorf("swap the built index in: %w", err)
	}
	old, oldRec := orig.ix, orig.rec
	// Only Dir changes: calls that read orig.rec without holding orig
	// (DropCollection reads its name and number) do not race with this.
	orig.ix, orig.rec.Dir = ix, rec.Dir
	j.done.Store(j.total)
	orig.building.Store(nil)
	orig.mu.Unlock()
	// No call holds the old index now.
	err := old.Close()
	if err == nil {
		err = index.Drop(s.collDir(oldRec), &index.Options{Shared: s.db})
	}
	if err != nil {
		s.log.Warn("the index replaced by an import was not dropped; the next start drops it", "collection", oldRec.Name, "dir", oldRec.Dir, "err", err)
	}
	s.log.Info("import build swapped in", "job", j.id, "collection", rec.Name, "dir", rec.Dir, "rows", j.total)
	return nil
}

// dropBuild removes what a build left in directory abs: its namespace,
// or the directory alone if the build failed before it made one.
func (s *Server) dropBuild(abs string) {
	err := index.Drop(abs, &index.Options{Shared: s.db})
	if errors.Is(err, index.ErrNoIndex) {
		err = os.RemoveAll(abs)
	}
	if err != nil {
		s.log.Warn("an import's partial build was not removed; the next start drops it", "dir", abs, "err", err)
	}
}
