package vecfile

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them when they
// are caused by the contents of a file or by the caller's arguments; check
// with errors.Is. I/O errors from the operating system are wrapped as they
// are.
var (
	// ErrFormat means a file does not follow its format: a bad or unsupported
	// header, an unknown extension, a row with a different dimension, or
	// bytes after the last row.
	ErrFormat = errors.New("vecfile: bad or unsupported format")
	// ErrTruncated means a file ends before the data its header or its size
	// promises.
	ErrTruncated = errors.New("vecfile: truncated file")
	// ErrRange means a row range or a buffer passed by the caller does not
	// fit the file (ReadRows out of bounds, a Next buffer smaller than one
	// row, a Write that is not a whole number of rows).
	ErrRange = errors.New("vecfile: out of range")
)

// MaxDim is the largest dimension accepted in a file header or by Create.
// Larger values are taken to be a corrupt header rather than real data.
const MaxDim = 1 << 20

// fileError is an error about one file. Its message names the file and is
// followed by the details (which carry the byte offset); it unwraps to a
// sentinel so that callers can use errors.Is.
type fileError struct {
	path string
	kind error // ErrFormat, ErrTruncated or ErrRange
	msg  string
}

func (e *fileError) Error() string { return "vecfile: " + e.path + ": " + e.msg }
func (e *fileError) Unwrap() error { return e.kind }

// errorf returns a *fileError for path that wraps kind.
func errorf(path string, kind error, format string, args ...any) error {
	return &fileError{path: path, kind: kind, msg: fmt.Sprintf(format, args...)}
}
