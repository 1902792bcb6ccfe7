// Package treelog persists an index's routing tree. The tree changes when
// maintenance splits or merges postings; each change is a record in the
// update log, committed in the same batch as the postings it concerns:
//
//	't' seq u64 → an edit record (cluster.EncodeSplit, cluster.EncodeRemove)
//	'T'         → seq u64 (BE), the current tree file's name
//
// Open loads the current tree file and replays the records after it, in
// sequence order (cluster's edits are deterministic). A checkpoint saves
// the tree to a new file (synced), then records its name and sequence and
// deletes the records it covers in one batch, then removes the old file.
// Layouts: docs/format.md.
package treelog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
)

// File is the tree file Build and Create write. It is written (synced,
// then renamed into place) before the manifest, the index's commit point.
const File = "tree.shct"

// checkpointOps is the number of tree records that makes a checkpoint
// due.
const checkpointOps = 4096

// Write writes the tree file of a new index in dir.
func Write(dir string, t *cluster.Tree) error {
	if err := t.WriteFile(dir, File); err != nil {
		return fmt.Errorf("shoal: write tree: %w", err)
	}
	return nil
}

// Log is the persistence state of one index's tree: its current file and
// the records replayed on it. It is not safe for concurrent use: the
// index's writer lock guards it.
type Log struct {
	dir  string
	file string
	ops  int
	// holds counts the Holds in effect; while any is, the files that
	// checkpoints replace are kept, in held, instead of removed.
	holds int
	held  []string
	// last is the highest sequence of a tree record staged or loaded.
	last uint64
}

// Path returns the path of the current tree file.
func (l *Log) Path() string { return filepath.Join(l.dir, l.file) }

// Load reads the current tree file of the index in dir and replays the
// tree records of store after it. It returns the tree, its Log, and the
// highest sequence the file or the records cover: the index's update-log
// sequence must not restart below it, or a later record would look
// covered by the checkpoint and be skipped at the next Load.
func Load(store posting.Store, dir string) (*cluster.Tree, *Log, uint64, error) {
	l := &Log{dir: dir, file: File}
	var from uint64
	v, err := store.Get(keys.Prefix(keys.TreeFile))
	switch {
	case err == nil:
		if len(v) < 9 || strings.ContainsAny(string(v[8:]), "/\\\x00") {
			return nil, nil, 0, fmt.Errorf("%w: tree file record of %d bytes", errs.Corrupt, len(v))
		}
		from, l.file = binary.BigEndian.Uint64(v), string(v[8:])
	case !errors.Is(err, posting.ErrNotFound):
		return nil, nil, 0, fmt.Errorf("shoal: tree file record: %w", err)
	}
	tree, err := cluster.ReadFile(filepath.Join(dir, l.file))
	if err != nil {
		return nil, nil, 0, err
	}
	top := from
	err = store.ScanPrefix(keys.Prefix(keys.TreeOp), func(k, v []byte) error {
		if len(k) != 9 {
			return fmt.Errorf("%w: tree record key %x", errs.Corrupt, k)
		}
		seq := binary.BigEndian.Uint64(k[1:])
		if seq <= from {
			return nil
		}
		if err := tree.Apply(v); err != nil {
			return fmt.Errorf("%w: tree record %d: %v", errs.Corrupt, seq, err)
		}
		top = max(top, seq)
		l.ops++
		return nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	l.last = top
	return tree, l, top, nil
}

// Stage stages the edit record rec at sequence seq in b, and counts it
// toward the next checkpoint.
func (l *Log) Stage(b posting.Batch, seq uint64, rec []byte) {
	b.Set(keys.ID(keys.TreeOp, seq), rec)
	l.ops++
	l.last = max(l.last, seq)
}

// Last returns the highest sequence staged (or loaded): a checkpoint of
// the tree with every staged edit applied is the tree as of it.
func (l *Log) Last() uint64 { return l.last }

// Due reports whether enough records have accumulated for a checkpoint.
func (l *Log) Due() bool { return l.ops >= checkpointOps }

// Checkpoint saves t, the tree as of sequence seq, to a new file and
// drops the records it covers: WriteCheckpoint, then CommitCheckpoint.
func (l *Log) Checkpoint(store posting.Store, t *cluster.Tree, seq uint64) error {
	name, err := l.WriteCheckpoint(t, seq)
	if err != nil {
		return err
	}
	return l.CommitCheckpoint(store, name, seq)
}

// WriteCheckpoint writes t, the tree as of sequence seq, to a new file
// and returns its name; nothing refers to it until CommitCheckpoint. It
// reads nothing of l but its directory: the caller may run it without
// the lock that guards l's other methods.
func (l *Log) WriteCheckpoint(t *cluster.Tree, seq uint64) (string, error) {
	name := fmt.Sprintf("tree-%016x.shct", seq)
	if err := t.WriteFile(l.dir, name); err != nil {
		return "", err
	}
	return name, nil
}

// CommitCheckpoint makes the file name, written by WriteCheckpoint for
// sequence seq, the tree file, and drops the records it covers.
func (l *Log) CommitCheckpoint(store posting.Store, name string, seq uint64) error {
	b := store.NewBatch()
	defer b.Close()
	b.Set(keys.Prefix(keys.TreeFile), append(binary.BigEndian.AppendUint64(nil, seq), name...))
	b.DeleteRange(keys.ID(keys.TreeOp, 0), keys.ID(keys.TreeOp, seq+1))
	if err := b.Commit(true); err != nil {
		os.Remove(filepath.Join(l.dir, name))
		return fmt.Errorf("shoal: tree checkpoint: %w", err)
	}
	if l.file != name {
		if l.holds > 0 {
			l.held = append(l.held, l.file)
		} else {
			os.Remove(filepath.Join(l.dir, l.file))
		}
		l.file = name
	}
	l.ops = 0
	return nil
}

// Hold keeps every tree file from now on until the matching Release: a
// checkpoint of the index (package index) links the file its cut names,
// which a tree checkpoint after the cut must not remove first.
func (l *Log) Hold() { l.holds++ }

// Files returns the tree files kept since the first Hold in effect and
// the current one, oldest first.
func (l *Log) Files() []string { return append(slices.Clone(l.held), l.file) }

// Release ends a Hold; the last one removes the files replaced meanwhile.
func (l *Log) Release() {
	if l.holds--; l.holds < 0 {
		panic("treelog: Release without Hold")
	}
	if l.holds > 0 {
		return
	}
	for _, f := range l.held {
		os.Remove(filepath.Join(l.dir, f))
	}
	l.held = nil
}
