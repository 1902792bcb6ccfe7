package directio

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// NewFS wraps base (normally vfs.Default) so that Pebble reads its sstables
// and blob files with direct I/O, counting into stats (nil keeps the counts
// private). It uses the default Options; see NewFSWithOptions.
func NewFS(base vfs.FS, stats *Stats) vfs.FS {
	fs, err := NewFSWithOptions(base, &Options{Stats: stats})
	if err != nil {
		panic(fmt.Sprintf("directio: default options rejected: %v", err))
	}
	return fs
}

// NewFSWithOptions wraps base so that files selected by opts.Match are opened
// for reading with O_DIRECT (see the package documentation); other files and
// all writes go to base unchanged. A nil opts means the zero Options.
//
// Direct files are opened by name with open(2), not through base, so base
// must name real files: vfs.Default or a wrapper of it whose Unwrap chain
// reaches vfs.Default. Any other base (vfs.NewMem, for one) is returned
// unchanged, as it is on platforms other than Linux. Wrappers of base see
// every call except the reads of direct files.
//
// The returned FS is safe for concurrent use, as are the files it opens for
// direct reads (ReadAt may be called concurrently; Read keeps a private
// offset under a mutex).
func NewFSWithOptions(base vfs.FS, opts *Options) (vfs.FS, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.EnsureDefaults().Validate(); err != nil {
		return nil, err
	}
	if !osBacked(base) {
		return base, nil
	}
	return newDirectFS(base, o), nil
}

// osBacked reports whether fs, or an FS it wraps, is vfs.Default.
func osBacked(fs vfs.FS) bool {
	for fs != nil {
		if fs == vfs.Default {
			return true
		}
		fs = fs.Unwrap()
	}
	return false
}
