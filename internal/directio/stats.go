package directio

import "sync/atomic"

// Stats counts the files opened and the reads served by an FS from NewFS.
// It is safe for concurrent use; the zero value is ready. One Stats may be
// shared by several FSs.
type Stats struct {
	readOps, readBytes             atomic.Int64
	directFiles, bufferedFallbacks atomic.Int64
	fallbackReadOps                atomic.Int64
	fallbackReadBytes              atomic.Int64
}

// Counters is a point-in-time copy of Stats. All counts are cumulative.
type Counters struct {
	// ReadOps counts pread calls issued with O_DIRECT, that is I/Os that
	// went to the device.
	ReadOps int64
	// ReadBytes counts the bytes those preads returned: whole aligned blocks
	// (the read amplification of alignment included), except for a file's
	// last, partial block.
	ReadBytes int64
	// DirectFiles counts files opened with O_DIRECT.
	DirectFiles int64
	// BufferedFallbacks counts matched files read through the page cache
	// because direct I/O was refused or is meaningless (tmpfs). A file that
	// opened with O_DIRECT and was refused at its first read counts in both
	// DirectFiles and BufferedFallbacks.
	BufferedFallbacks int64
	// FallbackReadOps counts reads of matched files served through the page
	// cache (see BufferedFallbacks).
	FallbackReadOps int64
	// FallbackReadBytes counts the bytes returned by those reads.
	FallbackReadBytes int64
}

// Snapshot returns the current counts. Each field is read atomically, but the
// fields are not read at one instant.
func (s *Stats) Snapshot() Counters {
	return Counters{
		ReadOps:           s.readOps.Load(),
		ReadBytes:         s.readBytes.Load(),
		DirectFiles:       s.directFiles.Load(),
		BufferedFallbacks: s.bufferedFallbacks.Load(),
		FallbackReadOps:   s.fallbackReadOps.Load(),
		FallbackReadBytes: s.fallbackReadBytes.Load(),
	}
}

// Sub returns c - prev, field by field: the activity between two snapshots.
func (c Counters) Sub(prev Counters) Counters {
	return Counters{
		ReadOps:           c.ReadOps - prev.ReadOps,
		ReadBytes:         c.ReadBytes - prev.ReadBytes,
		DirectFiles:       c.DirectFiles - prev.DirectFiles,
		BufferedFallbacks: c.BufferedFallbacks - prev.BufferedFallbacks,
		FallbackReadOps:   c.FallbackReadOps - prev.FallbackReadOps,
		FallbackReadBytes: c.FallbackReadBytes - prev.FallbackReadBytes,
	}
}
