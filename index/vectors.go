package index

import (
	"errors"

	"github.com/shoaldb/shoal/index/internal/vectors"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
)

// openVectors opens the stored vectors of the index (package
// index/internal/vectors): the build's rows and the upserted records.
func (ix *Index) openVectors() (err error) {
	ix.vectors, err = vectors.Open(ix.dir, ix.man.Count, ix.rowBytes, ix.store, posting.ErrNotFound)
	if err != nil {
		return err
	}
	// Reranks skip the record lookup while no vector was ever upserted.
	errFound := errors.New("found")
	err = ix.store.ScanPrefix(keys.Prefix(keys.Vector), func(_, _ []byte) error { return errFound })
	switch {
	case errors.Is(err, errFound):
		ix.vectors.NoteRecords()
	case err != nil:
		ix.vectors.Close()
		return err
	}
	return nil
}
