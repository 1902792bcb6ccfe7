// Package directio serves Pebble's reads of sstables and blob files with
// direct I/O (O_DIRECT and aligned buffers), so that searching the index does
// not grow the OS page cache with the data set: Pebble's block cache, sized
// explicitly, stays the only cache on the query path (DESIGN.md, "disk reads
// on the query path").
//
// NewFS wraps a vfs.FS (normally vfs.Default) for pebble.Options.FS. Files
// whose names match Options.Match (by default "*.sst" and "*.blob") are opened
// for reading with O_DIRECT; every ReadAt reads the covering aligned range
// into a pooled, aligned bounce buffer and copies the requested bytes out.
// Everything else, and every write, goes to the wrapped FS unchanged: Pebble
// writes sstables through Create with buffered I/O, so a freshly written file
// sits in the page cache until DropCache or DropCacheDir evicts it.
//
// How Pebble v2.1 reads a table and what this package does about each step
// (objstorage/objstorageprovider/vfs.go and vfs_readable.go):
//
//   - The provider opens each table with FS.Open(name, vfs.RandomReadsOption)
//     and calls File.Stat for its size. The option calls posix_fadvise(RANDOM)
//     on File.Fd(); Fd returns the real O_DIRECT descriptor, on which the
//     advice is harmless because direct reads bypass readahead. Pebble uses Fd
//     for nothing else on the read path (no mmap).
//   - Iterators read blocks through a read handle that, after a few
//     sequential reads, calls File.Prefetch (readahead(2)) and finally reopens
//     the file with vfs.SequentialReadsOption (fadvise SEQUENTIAL);
//     compactions do the latter at once (SetupForCompaction). readahead(2)
//     would fill the page cache, so Prefetch is a no-op on direct files; the
//     reopened file goes through this FS and is direct as well.
//   - Blocks are read with ReadAt at arbitrary offsets and lengths (block
//     handles are not aligned, the footer is read from the end of the file).
//     ReadAt is a positional pread on a file without a shared offset, so it
//     is safe for concurrent callers.
//
// Where the file system cannot do direct I/O, the file is opened through the
// wrapped FS instead and counted in Counters.BufferedFallbacks: when
// open(O_DIRECT) fails with EINVAL, when statx reports that the file has no
// direct-I/O alignment, when the file lives in memory (tmpfs and ramfs accept
// O_DIRECT since Linux 6.6 but serve it from the page cache, which is their
// storage), and when a direct pread later fails with EINVAL. Reads from such
// files are followed by posix_fadvise(DONTNEED) on the pages they touched,
// which is best effort (a no-op on tmpfs).
//
// Mincore and PageCacheBytes let tests and benchmarks check that the index
// files really stay out of the page cache.
//
// The package is implemented for Linux; elsewhere NewFS returns the wrapped
// FS unchanged and the cache helpers return ErrUnsupported.
package directio
