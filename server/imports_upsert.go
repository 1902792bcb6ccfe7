package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vec"
)

// An upsert job (imports.go) upserts its file's rows batch by batch
// through the write path of vectorsAPI.upsert: each batch acquires the
// collection and holds its write guard for that batch only, so searches,
// other writers, drops and snapshots interleave with the job, and a
// batch is applied whole or not at all. A batch refused because the
// collection's maintenance is behind (index.ErrBusy) is retried after a
// back-off: the job goes at the pace of maintenance instead of failing.
//
// The job's record counts the rows done at most once a second
// (importSaveEvery) and when it stops; a restart resumes from there,
// upserting again at most the rows of the last second, under the same
// ids.

// importSaveEvery is how often an upsert job records its progress.
const importSaveEvery = time.Second

// Back-off of a batch refused with index.ErrBusy: doubled from the first
// to the last.
const (
	importBusyFirst = 50 * time.Millisecond
	importBusyLast  = time.Second
)

// testHookImportBatch, when set by a test, runs as a job's batch starts.
var testHookImportBatch func()

// importRows upserts the file's rows from row j.done on, batch by batch,
// until done, an error or ctx is cancelled.
func (s *Server) importRows(ctx context.Context, j *importJob, f *index.FileSource, orig *collection) error {
	n := int(j.total)
	dim := f.Dim()
	batch := min(importBatch, s.opts.MaxBatch)
	rowBytes := dim * f.Elem().Size()
	raw := make([]byte, batch*rowBytes)
	saved := time.Now()
	for start := int(j.done.Load()); start < n; start += batch {
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
			if err := CheckVector(fmt.Sprintf("row %d", start+i), vecs[i], dim); err != nil {
				return errors.New(status.Convert(err).Message())
			}
		}
		if err := s.upsertImportBatchPaced(ctx, j, orig, ids, vecs); err != nil {
			return err
		}
		j.done.Store(uint64(start + m))
		if time.Since(saved) >= importSaveEvery {
			if err := s.saveJob(j); err != nil {
				s.log.Warn("import progress not recorded", "job", j.id, "err", err)
			}
			saved = time.Now()
		}
	}
	return nil
}

// upsertImportBatchPaced upserts one batch, retrying while the
// collection's maintenance is behind.
func (s *Server) upsertImportBatchPaced(ctx context.Context, j *importJob, orig *collection, ids []uint64, vecs [][]float32) error {
	wait := importBusyFirst
	for {
		err := s.upsertImportBatch(j, orig, ids, vecs)
		if !errors.Is(err, index.ErrBusy) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, importBusyLast)
	}
}

// upsertImportBatch upserts one batch into the job's collection, through
// the write path of vectorsAPI.upsert.
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
	wdone, err := c.writing()
	if err != nil {
		return errors.New(status.Convert(err).Message())
	}
	defer wdone()
	if t != 0 {
		if err = checkTenantWrite(c, t, j.tenant, ids); err != nil {
			return fmt.Errorf("rows with ids %d..%d: %s", ids[0], ids[len(ids)-1], status.Convert(err).Message())
		}
		err = c.ix.UpsertOwned(t, ids, vecs)
	} else {
		err = c.ix.Upsert(ids, vecs)
	}
	if err != nil {
		// Wrapped, so that a busy index is retried (errors.Is).
		return fmt.Errorf("rows with ids %d..%d: %w", ids[0], ids[len(ids)-1], err)
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
