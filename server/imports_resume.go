package server

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// loadImports reads the import job records at Open, after the
// collections: finished jobs are listed; running ones, which a restart
// interrupted, resume or fail with the reason they cannot (resumeImport).
// Then spool files no running job reads are removed.
func (s *Server) loadImports() error {
	recs, err := s.cat.imports()
	if err != nil {
		return err
	}
	slices.SortFunc(recs, func(a, b importRecord) int {
		return cmp.Or(cmp.Compare(a.StartedMs, b.StartedMs), strings.Compare(a.ID, b.ID))
	})
	keep := map[string]bool{}
	for _, r := range recs {
		j := jobFromRecord(r)
		if r.State != shoalv1.ImportJob_STATE_RUNNING.String() {
			close(j.stopped)
			s.imports.put(j)
			continue
		}
		if s.resumeImport(j) && j.spool {
			keep[j.path] = true
		}
	}
	s.cleanSpool(keep)
	s.pruneImports()
	return nil
}

// resumeImport starts again job j, which a restart interrupted; it
// returns whether j runs. The caller is Open: no call is served yet.
func (s *Server) resumeImport(j *importJob) bool {
	c, f, why := s.reopenImport(j)
	if why == "" && j.method == methodBuild && c.rec.Dir == j.mu.buildDir {
		// The build was swapped in; only the job's end was not recorded.
		j.done.Store(j.total)
		close(j.stopped)
		s.imports.put(j)
		f.Close()
		s.endJob(j, shoalv1.ImportJob_STATE_DONE, "")
		return false
	}
	if why == "" && j.method == methodBuild {
		if c.ix.Len() > 0 {
			why = "the collection holds vectors, and the job's build would replace them (start it again with method UPSERT)"
		} else {
			s.removeStaleBuild(j.mu.buildDir)
			j.mu.resumed++
			j.mu.buildDir = buildDir(c.rec.Number, j.id, j.mu.resumed)
			c.building.Store(j)
		}
	} else if why == "" {
		j.mu.resumed++
	}
	if why == "" {
		if err := s.saveJob(j); err != nil {
			why = err.Error()
		}
	}
	if why != "" {
		if c != nil {
			c.building.CompareAndSwap(j, nil)
		}
		if f != nil {
			f.Close()
		}
		if j.method == methodBuild {
			s.removeStaleBuild(j.mu.buildDir)
		}
		close(j.stopped)
		s.imports.put(j)
		s.endJob(j, shoalv1.ImportJob_STATE_FAILED, "not resumed after a restart: "+why)
		return false
	}
	s.log.Info("import resumed", "job", j.id, "collection", j.coll, "method", j.method, "from_row", j.done.Load(), "total", j.total)
	if !s.launch(j, f, c) {
		panic("server: imports closed while the server opens")
	}
	return true
}

// reopenImport finds the collection and opens the file of an
// interrupted job, or says why it cannot resume.
func (s *Server) reopenImport(j *importJob) (*collection, *index.FileSource, string) {
	c := s.mu.colls[j.coll]
	switch {
	case c == nil || c.rec.Number != j.collNum:
		return nil, nil, "the collection was dropped"
	case c.damaged != nil:
		return nil, nil, "the collection failed its checks"
	case j.tenantID != 0 && c.tenants[j.tenant] != j.tenantID:
		return nil, nil, fmt.Sprintf("tenant %s was deleted", clip(j.tenant))
	}
	p := j.path
	if j.spool {
		if !within(s.spoolDir(), p) {
			return nil, nil, "its copy of the streamed rows is not in the spool directory"
		}
	} else {
		var err error
		if p, err = s.importPath(p); err != nil {
			return nil, nil, "its file: " + status.Convert(err).Message()
		}
	}
	f, err := index.OpenFile(p)
	if err != nil {
		return nil, nil, "its file: " + pathless(err, p)
	}
	if f.Dim() != c.rec.Dim || uint64(f.Len()) != j.total {
		f.Close()
		return nil, nil, fmt.Sprintf("its file changed: %d rows of dimension %d, the job started with %d", f.Len(), f.Dim(), j.total)
	}
	return c, f, ""
}

// removeStaleBuild removes a build directory that a crash left without
// a namespace (Open dropped the namespaces no record names).
func (s *Server) removeStaleBuild(dir string) {
	if dir == "" || slices.Contains(s.db.Namespaces(), dir) {
		return
	}
	if err := os.RemoveAll(filepath.Join(s.db.Dir(), filepath.FromSlash(dir))); err != nil {
		s.log.Warn("a stale import build directory was not removed", "dir", dir, "err", err)
	}
}
