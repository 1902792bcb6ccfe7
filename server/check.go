package server

import (
	"fmt"

	"github.com/shoaldb/shoal/index"
)

// CollectionCheck is the result of checking one collection of a data
// directory.
type CollectionCheck struct {
	Name    string
	Vectors int
	Heads   int
	// Err is nil when the collection opened and passed index.Check.
	Err error
}

// CheckDataDir checks, offline, every collection of the data directory of
// a server that is not running (the directory's lock is held by a running
// one, and opening fails). Each collection is opened with background
// maintenance paused, so that it is checked as it was found, and then
// index.Check runs on it. A collection that fails is reported in its
// CollectionCheck and the others are still checked; the error is for a
// data directory that cannot be opened or whose catalog cannot be read.
func CheckDataDir(dataDir string) ([]CollectionCheck, error) {
	db, err := index.OpenSharedDB(dataDir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	defer db.Close()
	cat, err := openCatalog(db)
	if err != nil {
		return nil, err
	}
	recs, err := cat.collections()
	if err != nil {
		return nil, err
	}
	s := &Server{db: db}
	out := make([]CollectionCheck, 0, len(recs))
	for _, r := range recs {
		c := CollectionCheck{Name: r.Name}
		opts := s.indexOptions(r)
		opts.CacheBytes = -1
		opts.MaintenancePaused = true
		ix, err := index.Open(s.collDir(r), opts)
		if err == nil {
			err = ix.Check()
			st := ix.Stats()
			c.Vectors, c.Heads = ix.Len(), st.Heads
			if cerr := ix.Close(); err == nil {
				err = cerr
			}
		}
		c.Err = err
		out = append(out, c)
	}
	return out, nil
}
