package index

import (
	"errors"

	"github.com/shoaldb/shoal/internal/errs"
)

// Errors returned by the index. Check them with errors.Is; they are wrapped
// with context.
var (
	// ErrInvalidOptions reports options that cannot work.
	ErrInvalidOptions = errors.New("shoal: invalid options")
	// ErrDimensionMismatch reports a vector whose length is not the index's
	// dimension.
	ErrDimensionMismatch = errors.New("shoal: dimension mismatch")
	// ErrNotFinite reports a vector with NaN or ±Inf.
	ErrNotFinite = errs.NotFinite
	// ErrNoIndex reports a directory that holds no complete index: it does
	// not exist, or a build was interrupted before it finished.
	ErrNoIndex = errors.New("shoal: no index in directory")
	// ErrExists reports a Build into a directory that is not empty.
	ErrExists = errors.New("shoal: directory is not empty")
	// ErrClosed reports use of a closed index.
	ErrClosed = errors.New("shoal: index is closed")
	// ErrCorrupt reports index files that fail their checks.
	ErrCorrupt = errs.Corrupt
	// ErrEmpty reports a Build from a source with no vectors.
	ErrEmpty = errors.New("shoal: no vectors")
	// ErrBadInput reports an argument that cannot be served, such as k < 1
	// or a zero vector for the Cosine metric.
	ErrBadInput = errs.BadInput
	// ErrNotFound reports an id that holds no vector.
	ErrNotFound = errs.NotFound
	// ErrBusy reports a write refused because background maintenance is
	// behind: the posting tails stayed over twice Options.UpdateBuffer for
	// Options.WriteStall. Nothing was written; retry after a back-off.
	ErrBusy = errors.New("shoal: busy: background maintenance is behind")
	// ErrNotOwned reports a write, on behalf of a tenant, to a vector
	// that tenant does not own (SetLabelsOwned, SetPayloadsOwned).
	// Nothing was written.
	ErrNotOwned = errors.New("shoal: vector not owned by the tenant")
)
