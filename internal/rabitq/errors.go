package rabitq

import "errors"

var (
	// ErrBadDim is returned, wrapped, for a dimension outside [1, MaxDim].
	ErrBadDim = errors.New("rabitq: bad dimension")
	// ErrBadOptions is returned, wrapped, by Options.Validate.
	ErrBadOptions = errors.New("rabitq: bad options")
	// ErrLength is returned, wrapped, when a vector or code has the wrong
	// length for the quantizer.
	ErrLength = errors.New("rabitq: wrong length")
)

// MaxDim is the largest dimension supported. It keeps D′ within a uint16
// header field and every integer sum of the scoring kernels far from
// overflow.
const MaxDim = 65536
