package pebblestore

import (
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/shoaldb/shoal/internal/directio"
)

// logDB is a Pebble database as this package opens it: its write-ahead
// log was checked before Pebble replayed it (walcheck.go), and every
// write goes through Set, Delete, Commit or SyncWAL here, so that its WAL
// mark (walmark.go) knows what is synced. Reads use the embedded DB.
type logDB struct {
	*pebble.DB
	mark *walMark
	lock *pebble.Lock
}

// walFormat is the format Pebble databases are opened at (and older ones
// upgraded to): the first that writes, in each chunk of the log, the
// offset the log was synced to, which lets a replay tell damage from a
// torn tail.
const walFormat = pebble.FormatWALSyncChunks

// testHookFS, when set by a test, wraps the file system of every Pebble
// database opened (to inject I/O errors).
var testHookFS func(vfs.FS) vfs.FS

// openPebble opens the Pebble database in dir: Pebble's reads are counted
// in io, its block cache holds cacheBytes, and what it reports outside
// calls (corruption, fatal errors) goes to h. It fails with a
// WALDamageError if replaying the write-ahead log would drop synced
// writes.
func openPebble(dir string, io *directio.Stats, cacheBytes int64, h *health) (*logDB, error) {
	return openPebbleFS(dir, io, cacheBytes, h, false)
}

// openPebbleFS is openPebble, with buffered reads of every file (through
// the page cache, with the kernel's readahead) if buffered is set: for a
// database read once from end to end (a restore's copy of a checkpoint),
// where direct reads of one block at a time would wait on the disk for
// each.
func openPebbleFS(dir string, io *directio.Stats, cacheBytes int64, h *health, buffered bool) (*logDB, error) {
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	m, _, err := readMark(dir)
	var logs []logScan
	if err == nil {
		logs, err = scanLogs(dir, m.synced)
	}
	if err == nil {
		err = checkLogs(dir, logs, m)
	}
	if err != nil {
		lock.Close()
		return nil, err
	}
	db, err := openLocked(dir, lock, m, logs, io, cacheBytes, h, buffered)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return db, nil
}

// lockDir creates dir if needed and takes Pebble's lock of it, so that
// the logs are not read while another process writes them.
func lockDir(dir string) (*pebble.Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	lock, err := pebble.LockDirectory(dir, vfs.Default)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: lock %s: %w", dir, err)
	}
	return lock, nil
}

// openLocked opens Pebble in dir, whose lock the caller holds and whose
// logs were scanned (logs), with the WAL mark starting at m; what Pebble
// reports outside calls goes to h.
func openLocked(dir string, lock *pebble.Lock, m markState, logs []logScan, io *directio.Stats, cacheBytes int64, h *health, buffered bool) (*logDB, error) {
	mark, err := openMark(dir, m)
	if err != nil {
		return nil, err
	}
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	fs := directio.NewFS(vfs.Default, io)
	if buffered {
		fs = vfs.Default
	}
	if testHookFS != nil {
		fs = testHookFS(fs)
	}
	po := &pebble.Options{
		FS:                 fs,
		Cache:              cache,
		MemTableSize:       uint64(memTableSize),
		FormatMajorVersion: walFormat,
		Lock:               lock,
	}
	h.options(po) // the logger, corruption and background-error events, the compaction scheduler
	po.EventListener.FlushEnd = mark.onFlushEnd
	for i := range po.Levels {
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		// Point lookups of records that do not exist (an id's vector or
		// access record) stop at the filter instead of reading blocks.
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(bloomBits)
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		mark.close(0)
		return nil, pebbleOpenError(dir, logs, err)
	}
	return &logDB{DB: db, mark: mark, lock: lock}, nil
}

// memTableSize bounds one Pebble memtable. Pebble starts each database
// with a small memtable and doubles it up to this bound as writes come,
// so an idle or lightly written database stays small. Under a steady
// ingest most update-log records are folded, and deleted with a single
// delete, before their memtable is flushed: the set and its deletion then
// vanish together, where a smaller memtable flushes them to a table and
// every compaction of those tables rewrites them (4 MiB memtables wrote
// 10 KiB of compactions per inserted 128-d vector; docs/BENCHMARKS.md,
// Ingest).
var memTableSize int64 = 64 << 20

// SetMemTableSizeForTesting sets the memtable bound of the databases
// opened afterwards, for tests whose Pebble must flush and roll its logs
// after little data, and returns the function that restores it. Not for
// concurrent use with Open.
func SetMemTableSizeForTesting(n int64) (restore func()) {
	old := memTableSize
	memTableSize = n
	return func() { memTableSize = old }
}

// Commit commits b, and records in the WAL mark what it made durable.
func (d *logDB) Commit(b *pebble.Batch, o *pebble.WriteOptions) error {
	if err := b.Commit(o); err != nil {
		return err
	}
	if n := uint64(b.Count()); n > 0 {
		last := uint64(b.SeqNum()) + n - 1
		if o.GetSync() {
			d.mark.noteSynced(last)
		} else {
			d.mark.noteCommitted(last)
		}
	}
	return nil
}

// Set sets key to value in a batch of its own.
func (d *logDB) Set(key, value []byte, o *pebble.WriteOptions) error {
	b := d.NewBatch()
	defer b.Close()
	if err := b.Set(key, value, nil); err != nil {
		return err
	}
	return d.Commit(b, o)
}

// Delete deletes key in a batch of its own.
func (d *logDB) Delete(key []byte, o *pebble.WriteOptions) error {
	b := d.NewBatch()
	defer b.Close()
	if err := b.Delete(key, nil); err != nil {
		return err
	}
	return d.Commit(b, o)
}

// SyncWAL syncs the log, making every batch committed so far durable.
func (d *logDB) SyncWAL() error {
	// Batches whose commit returned are in the log ahead of the record
	// synced here.
	c := d.mark.committed.Load()
	if err := d.LogData(nil, pebble.Sync); err != nil {
		return err
	}
	d.mark.noteSynced(c)
	return nil
}

// Close closes the database (which syncs its log), the WAL mark and the
// lock.
func (d *logDB) Close() error {
	c := d.mark.committed.Load()
	err := d.DB.Close()
	synced := c
	if err != nil {
		synced = 0
	}
	return errors.Join(err, d.mark.close(synced), d.lock.Close())
}
