package index

import (
	"github.com/shoaldb/shoal/index/internal/vectors"
	"github.com/shoaldb/shoal/posting"
)

// openVectors opens the stored vectors of the index (package
// index/internal/vectors): the build's rows and the upserted records.
func (ix *Index) openVectors() (err error) {
	ix.vectors, err = vectors.Open(ix.dir, ix.man.Count, ix.rowBytes, ix.store, posting.ErrNotFound)
	return err
}
