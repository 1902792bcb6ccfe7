package index

import (
	"encoding/binary"
	"fmt"
	"github.com/shoaldb/shoal/internal/keys"
	"os"
	"path/filepath"

	"github.com/shoaldb/shoal/cluster"
)

// The routing tree changes when maintenance splits or merges postings.
// Each change is a record in the update log, committed in the same Pebble
// batch as the postings it concerns:
//
//	't' seq u64 → kind u8, posting u32, [new posting u32, head 1, head 2]
//
// Open loads the last saved tree file and replays the records after it, in
// sequence order (cluster's edits are deterministic). A checkpoint saves
// the tree to a new file (synced), then records its name and sequence and
// deletes the records it covers in one batch, then removes the old file.
// checkpointOps is the number of tree records that triggers a
// checkpoint.
const checkpointOps = 4096

// loadTree reads the current tree file and replays the tree records after
// it. It returns the tree and the number of records replayed.
func (ix *Index) loadTree() (*cluster.Tree, int, error) {
	name := treeFile
	var from uint64
	if v, err := ix.store.Get(keys.Prefix(keys.TreeFile)); err == nil {
		if len(v) < 9 {
			return nil, 0, fmt.Errorf("%w: tree file record of %d bytes", ErrCorrupt, len(v))
		}
		from, name = binary.BigEndian.Uint64(v), string(v[8:])
		// The records the checkpoint covers are gone: the sequence must
		// not restart below it, or the next tree record would look covered.
		ix.seq = max(ix.seq, from)
	}
	tree, err := readTree(filepath.Join(ix.dir, name))
	if err != nil {
		return nil, 0, err
	}
	n := 0
	err = ix.store.ScanPrefix(keys.Prefix(keys.TreeOp), func(k, v []byte) error {
		seq := binary.BigEndian.Uint64(k[1:])
		if seq <= from {
			return nil
		}
		if err := tree.Apply(v); err != nil {
			return fmt.Errorf("%w: tree record %d: %v", ErrCorrupt, seq, err)
		}
		ix.seq = max(ix.seq, seq)
		n++
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	ix.treeFile = name
	return tree, n, nil
}

// checkpointTree saves the tree and drops the records it covers. The
// caller holds wmu (the tree does not change meanwhile).
func (ix *Index) checkpointTree() error {
	seq := ix.seq
	name := fmt.Sprintf("tree-%016x.shct", seq)
	ix.rmu.RLock()
	compact := ix.tree.Compact()
	ix.rmu.RUnlock()
	if err := compact.WriteFile(ix.dir, name); err != nil {
		return err
	}
	b := ix.store.NewBatch()
	defer b.Close()
	b.Set(keys.Prefix(keys.TreeFile), append(binary.BigEndian.AppendUint64(nil, seq), name...))
	b.DeleteRange(keys.ID(keys.TreeOp, 0), keys.ID(keys.TreeOp, seq+1))
	if err := b.Commit(true); err != nil {
		os.Remove(filepath.Join(ix.dir, name))
		return fmt.Errorf("shoal: tree checkpoint: %w", err)
	}
	if ix.treeFile != name {
		os.Remove(filepath.Join(ix.dir, ix.treeFile))
		ix.treeFile = name
	}
	ix.treeOps = 0
	return nil
}
