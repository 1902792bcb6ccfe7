package directio

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// Errors returned by this package; check them with errors.Is.
var (
	// ErrInvalidOptions is wrapped by Options.Validate for a bad option.
	ErrInvalidOptions = errors.New("directio: invalid options")
	// ErrReadOnly is returned by the write methods of a file that this
	// package opened for direct reads.
	ErrReadOnly = errors.New("directio: file is open for reading only")
	// ErrUnsupported is returned by the cache helpers on platforms other than
	// Linux.
	ErrUnsupported = errors.New("directio: not supported on this platform")
)

const (
	// DefaultAlignment is the alignment of direct reads when the file system
	// does not ask for more: the page size, which also covers 512-byte and
	// 4 KiB logical sectors.
	DefaultAlignment = 4096
	// DefaultMaxReadSize bounds one bounce buffer; longer reads are split
	// into several preads of at most this size.
	DefaultMaxReadSize = 1 << 20

	minAlignment   = 512
	maxMaxReadSize = 1 << maxClassShift
)

// Options configure NewFSWithOptions. The zero value is valid: it reads
// "*.sst" and "*.blob" files directly, keeps private counters, aligns to
// DefaultAlignment and splits reads at DefaultMaxReadSize.
type Options struct {
	// Stats receives the counters of the FS; nil keeps them private.
	Stats *Stats
	// Match reports whether the file with the given name (as passed to
	// vfs.FS.Open) is read with direct I/O. Default: DefaultMatch.
	Match func(name string) bool
	// Alignment is the minimum alignment, in bytes, of the offset, length
	// and buffer address of each direct read: a power of two, at least 512.
	// A file whose file system reports a larger alignment (statx
	// STATX_DIOALIGN) uses that instead. Default: DefaultAlignment.
	Alignment int
	// MaxReadSize is the largest single pread and bounce buffer, in bytes: a
	// power of two, at least Alignment and at most 64 MiB. Default:
	// DefaultMaxReadSize.
	MaxReadSize int
}

// DefaultMatch selects Pebble's sstables ("NNNNNN.sst") and blob files
// ("NNNNNN.blob"): the files that hold the index's records (posting
// bytes live in segment files, which pebblestore reads with direct I/O
// itself).
func DefaultMatch(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

// EnsureDefaults fills in the zero fields with their defaults and returns o.
func (o *Options) EnsureDefaults() *Options {
	if o.Stats == nil {
		o.Stats = new(Stats)
	}
	if o.Match == nil {
		o.Match = DefaultMatch
	}
	if o.Alignment == 0 {
		o.Alignment = DefaultAlignment
	}
	if o.MaxReadSize == 0 {
		o.MaxReadSize = max(DefaultMaxReadSize, o.Alignment)
	}
	return o
}

// Validate reports an option that is out of range; call it after
// EnsureDefaults.
func (o *Options) Validate() error {
	if o.Alignment < minAlignment || !isPow2(o.Alignment) {
		return fmt.Errorf("%w: Alignment %d is not a power of two >= %d", ErrInvalidOptions, o.Alignment, minAlignment)
	}
	if o.MaxReadSize < o.Alignment || o.MaxReadSize > maxMaxReadSize || !isPow2(o.MaxReadSize) {
		return fmt.Errorf("%w: MaxReadSize %d is not a power of two in [Alignment=%d, %d]",
			ErrInvalidOptions, o.MaxReadSize, o.Alignment, maxMaxReadSize)
	}
	return nil
}

func isPow2(n int) bool { return n > 0 && bits.OnesCount(uint(n)) == 1 }
