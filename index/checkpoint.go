package index

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/shoaldb/shoal/index/internal/treelog"
	"github.com/shoaldb/shoal/index/internal/vectors"
	"github.com/shoaldb/shoal/internal/filecopy"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

// Physical checkpoints: a consistent copy of an open index, taken while
// it serves searches and writes, in a directory that Open opens (without
// Options.Shared), and Restore, which makes such a copy a namespace of a
// shared database (the server's RestoreSnapshot) or a directory of its
// own.
//
// The cut is the store's (pebblestore.Store.Checkpoint): Pebble's own
// checkpoint for an index with a database of its own, a Pebble snapshot
// for an index in a shared database. Every write acknowledged before
// Checkpoint is called is in the copy, and each write (an Upsert,
// Delete, label or tenant call: one batch) is in it whole or not at all;
// writes acknowledged while Checkpoint runs may or may not be. Background
// maintenance in flight at the cut is in it as a crash would leave it,
// and the copy's Open completes it as after a crash.
//
// Files: the store links sealed segment files and copies the bytes of
// the ones still appended to; this file links the tree files and
// vectors.dat, which are never changed in place. Segment deletion is
// pinned in the store and tree-file removal held in the tree log
// (treelog.Log.Hold) from before the cut until the files are linked, so
// nothing the cut refers to goes first. Neither stops a writer: a writer
// waits only for Options.Cut's own locks, if any, around the cut, and for
// the index's writer lock, held for microseconds: twice (Hold, Files),
// and, in a shared database, around the snapshot that is the cut.
//
// Crash safety: the copy is made in a temporary directory beside dst
// (".NAME.checkpoint-" and random hex), synced (files, directory), then
// renamed to dst and dst's parent synced. A directory named dst is
// always complete; a crash leaves the temporary one, which nothing
// removes automatically (the server removes its own).

// CheckpointOptions configure Index.Checkpoint. The zero value is usable.
type CheckpointOptions struct {
	// Cut, when set, is called with the function that takes the
	// checkpoint's cut, and must call it once and return its error. It
	// may hold the caller's own locks around it, to record state of its
	// own at the same point (the server holds a collection's tenant lock
	// to read its tenants). take runs for microseconds in a shared
	// database (it takes the index's writer lock: Cut must not hold a
	// lock that a writer holds while it calls the index); for an index
	// with a database of its own it runs Pebble's checkpoint (links and
	// copies of the database's files).
	Cut func(take func() error) error
}

// CheckpointStats describe a checkpoint.
type CheckpointStats struct {
	// Files and Bytes count the checkpoint's files; Linked* those that
	// are hard links to the index's files (sealed segments, sstables,
	// tree and vectors files), Copied* those written (segments still
	// appended to, Pebble's logs and MANIFEST, a shared DB's exported
	// records).
	Files, LinkedFiles, CopiedFiles int
	Bytes, LinkedBytes, CopiedBytes int64
	// Cut is how long taking the cut took; Took the whole checkpoint.
	Cut, Took time.Duration
	// Vectors is the number of vectors the checkpoint holds, read at
	// the cut, for an index in a shared database; -1 for an index with
	// a database of its own, whose cut (Pebble's checkpoint) is a moment
	// during the copy of its log that the index cannot name (Open the
	// copy and call Len).
	Vectors int
}

// Checkpoint writes a consistent copy of the index to dst, which must
// not exist, and returns once it is durable. See above for what the copy
// holds; Open opens it as an index of its own (Restore makes it a
// namespace of a shared database). Searches and writes go on while it
// runs. Close must not run concurrently with it.
func (ix *Index) Checkpoint(dst string, o *CheckpointOptions) (CheckpointStats, error) {
	start := time.Now()
	var st CheckpointStats
	if ix.closed.Load() {
		return st, ErrClosed
	}
	store, ok := ix.store.(*pebblestore.Store)
	if !ok {
		return st, fmt.Errorf("shoal: checkpoint: %w: the index's store cannot take checkpoints", errors.ErrUnsupported)
	}
	if _, err := os.Lstat(dst); err == nil {
		return st, fmt.Errorf("%w: checkpoint target %s exists", ErrExists, dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("shoal: checkpoint: %w", err)
	}
	tmp, err := tempName(dst)
	if err != nil {
		return st, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	ix.wmu.Lock()
	ix.tlog.Hold()
	ix.wmu.Unlock()
	held := true
	release := func() {
		if held {
			held = false
			ix.wmu.Lock()
			ix.tlog.Release()
			ix.wmu.Unlock()
		}
	}
	defer release()
	st.Vectors = -1
	cut := func(take func() error) error {
		if ix.opts.Shared == nil {
			return take()
		}
		// A snapshot: microseconds, under the writer lock so that the
		// count of live vectors is the cut's.
		ix.wmu.Lock()
		defer ix.wmu.Unlock()
		if err := take(); err != nil {
			return err
		}
		st.Vectors = ix.Len()
		return nil
	}
	po := pebblestore.CheckpointOptions{Cut: cut}
	if o != nil && o.Cut != nil {
		po.Cut = func(take func() error) error { return o.Cut(func() error { return cut(take) }) }
	}
	if st.Cut, err = store.Checkpoint(tmp, &po); err != nil {
		return st, fmt.Errorf("shoal: checkpoint: %w", err)
	}
	// The tree file the cut names is among those held since before it
	// (more than one only if a tree checkpoint ran meanwhile; the others
	// are orphans in the copy, never read).
	ix.wmu.Lock()
	trees := ix.tlog.Files()
	ix.wmu.Unlock()
	names := append(trees, vectors.File)
	for _, name := range names {
		_, err := filecopy.LinkOrCopy(filepath.Join(ix.dir, name), filepath.Join(tmp, name))
		if name == vectors.File && errors.Is(err, fs.ErrNotExist) {
			continue // an index made by Create has none
		}
		if err != nil {
			return st, fmt.Errorf("shoal: checkpoint: %w", err)
		}
	}
	release()
	if err := filecopy.SyncDir(tmp); err != nil {
		return st, fmt.Errorf("shoal: checkpoint: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return st, fmt.Errorf("shoal: checkpoint: %w", err)
	}
	done = true
	if err := filecopy.SyncDir(filepath.Dir(dst)); err != nil {
		return st, fmt.Errorf("shoal: checkpoint: %w", err)
	}
	if err := countFiles(dst, &st); err != nil {
		return st, fmt.Errorf("shoal: checkpoint: %w", err)
	}
	st.Took = time.Since(start)
	return st, nil
}

// tempName returns a name for the temporary directory of a copy to dst,
// beside it.
func tempName(dst string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".checkpoint-"+hex.EncodeToString(b[:])), nil
}

// countFiles counts the files of dir into st: linked ones (more than one
// name) and copied ones.
func countFiles(dir string, st *CheckpointStats) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		st.Files++
		st.Bytes += fi.Size()
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok && sys.Nlink > 1 {
			st.LinkedFiles++
			st.LinkedBytes += fi.Size()
		} else {
			st.CopiedFiles++
			st.CopiedBytes += fi.Size()
		}
	}
	return nil
}

// dataFile reports whether name is one of an index directory's own
// files beside its database: segments, tree files, vectors.dat. Each is
// written once and never changed in place (a reopened store appends to a
// new segment), so each may be hard-linked.
func dataFile(name string) bool {
	switch {
	case name == vectors.File, name == treelog.File:
		return true
	case strings.HasPrefix(name, "tree-") && strings.HasSuffix(name, ".shct"):
		return true
	case strings.HasPrefix(name, "postings-") && strings.HasSuffix(name, ".seg"):
		return true
	}
	return false
}

// Restore makes dir hold the index in src: a checkpoint (Checkpoint), or
// any index directory with a database of its own that is not open.
//
// With o.Shared, dir becomes a namespace of that database: it must not
// exist or be empty, and its namespace must hold no records. src's
// records are imported into the namespace in one step
// (pebblestore.DB.ImportNamespace: every key lands inside it, whatever
// src holds) and its segment, tree and vectors files are linked into dir
// (copied across file systems). src's database is opened to read it, as
// Open would open it (its write-ahead log checked and replayed), so it
// must be writable; its files are otherwise left as they are. A crash
// during Restore leaves the namespace registered, holding all of src's
// records or none, and dir holding some files: Drop it (the server drops
// namespaces its catalog does not list when it starts).
//
// Without o.Shared, dir, which must not exist, becomes a copy of src:
// sstables, segment, tree and vectors files linked, Pebble's logs and
// MANIFEST (which an open appends to) copied, its lock file left out;
// made in a temporary directory beside dir and renamed once synced.
//
// Restore does not open the index: Open it to check what was restored.
func Restore(src, dir string, o *Options) error {
	if o != nil && o.store != nil {
		return fmt.Errorf("shoal: restore: %w: the index's store cannot restore", errors.ErrUnsupported)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoIndex, err)
	}
	if o == nil || o.Shared == nil {
		return restoreOwn(src, dir, ents)
	}
	if have, err := os.ReadDir(dir); err == nil && len(have) > 0 {
		return fmt.Errorf("%w: %s", ErrExists, dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("shoal: restore: %w", err)
	}
	// Register the namespace (an empty store) before any file lands in
	// dir, so that a crash leaves a namespace to drop, not a stray
	// directory.
	s, err := o.Shared.db.OpenNamespace(dir, nil)
	if err != nil {
		return fmt.Errorf("shoal: restore: %w", err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("shoal: restore: %w", err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !dataFile(e.Name()) {
			continue
		}
		if _, err := filecopy.LinkOrCopy(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("shoal: restore: %w", err)
		}
	}
	if err := filecopy.SyncDir(dir); err != nil {
		return fmt.Errorf("shoal: restore: %w", err)
	}
	if err := o.Shared.db.ImportNamespace(dir, src); err != nil {
		if errors.Is(err, pebblestore.ErrNamespaceNotEmpty) {
			err = fmt.Errorf("%w: %v (Drop it)", ErrExists, err)
		}
		return fmt.Errorf("shoal: restore: %w", err)
	}
	return nil
}

// restoreOwn makes dir a copy of the index directory src, whose entries
// are ents.
func restoreOwn(src, dir string, ents []os.DirEntry) error {
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, dir)
	}
	tmp, err := tempName(dir)
	if err != nil {
		return err
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("shoal: restore: %w", err)
	}
	err = func() error {
		for _, e := range ents {
			name := e.Name()
			if !e.Type().IsRegular() || name == "LOCK" {
				continue
			}
			from, to := filepath.Join(src, name), filepath.Join(tmp, name)
			if dataFile(name) || strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob") {
				if _, err := filecopy.LinkOrCopy(from, to); err != nil {
					return err
				}
				continue
			}
			f, err := os.Open(from)
			if err != nil {
				return err
			}
			fi, err := f.Stat()
			if err == nil {
				err = filecopy.CopyN(f, fi.Size(), to)
			}
			f.Close()
			if err != nil {
				return err
			}
		}
		if err := filecopy.SyncDir(tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return err
		}
		return filecopy.SyncDir(filepath.Dir(dir))
	}()
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("shoal: restore: %w", err)
	}
	return nil
}
