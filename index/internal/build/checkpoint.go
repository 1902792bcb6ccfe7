package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/filecopy"
)

// Checkpoints. A build writes what a later build of the same data with
// the same options can reuse into CheckpointDir, each piece synced and
// renamed into place before the state file names it:
//
//	state.json        the fingerprint, then (partitioned builds) the
//	                  partition sizes once every spill file is synced,
//	                  then Tree once tree.shct is written
//	top.shct          the partitions' tree (partitioned builds)
//	sub-NNNNNN.shct   partition NNNNNN's sub-tree, one per partition
//	                  clustered (removed once tree.shct is written)
//	tree.shct         the whole tree: the cluster stage is done
//
// A resumed build (Options.Resume) loads the state, skips what it names
// and goes on: a kill during the partition k-means loses at most the
// partition being clustered, one after the cluster stage loses the
// assignment and the write, which are redone (from the spill files while
// they last, else in id order: the same entries either way). The tree
// and so the index are those of an uninterrupted build. Package index
// removes the directory just before the commit point.

// CheckpointDir is the directory, inside the index directory, of a
// build's checkpoints.
const CheckpointDir = "build-checkpoint"

// ErrCheckpointMismatch reports a checkpoint made from other data or with
// other options than the build resuming it.
var ErrCheckpointMismatch = errors.New("the build checkpoint does not match this build")

// TestHook, if set (by tests; not safe to set while a build runs), is
// called after each partition's sub-tree is checkpointed ("partition",
// its number) and before the assignment ("assign", 0); an error it
// returns ends the build there, as a kill would, but for the spill files,
// which a failed build removes.
var TestHook func(stage string, p int) error

// checkpointVersion is the layout of CheckpointDir; a state of another
// version does not match.
const checkpointVersion = 1

// cpState is state.json.
type cpState struct {
	Version     int
	Fingerprint string
	Sizes       []int64 `json:",omitempty"` // rows per partition, once the spill is complete
	Tree        bool    `json:",omitempty"` // tree.shct holds the whole tree
}

// checkpoint is a build's checkpoint directory and its state.
type checkpoint struct {
	dir   string
	state cpState
}

// openCheckpoint creates the build's checkpoint directory in dir or, when
// resume is set and one is there, loads it: a state made from other data
// or options is ErrCheckpointMismatch, one that does not parse is
// reported as such. It returns whether a state was loaded.
func (b *builder) openCheckpoint(dir string, resume bool) (*checkpoint, bool, error) {
	fp, err := b.fingerprint()
	if err != nil {
		return nil, false, err
	}
	cp := &checkpoint{dir: filepath.Join(dir, CheckpointDir), state: cpState{Version: checkpointVersion, Fingerprint: fp}}
	if resume {
		data, err := os.ReadFile(cp.file("state.json"))
		switch {
		case err == nil:
			var s cpState
			if err := json.Unmarshal(data, &s); err != nil {
				return nil, false, fmt.Errorf("shoal: %s: %w", cp.file("state.json"), err)
			}
			if s.Version != checkpointVersion || s.Fingerprint != fp {
				return nil, false, fmt.Errorf("shoal: %w in %s: it was made from %q, this build is %q; remove the directory to start over",
					ErrCheckpointMismatch, cp.dir, s.Fingerprint, fp)
			}
			cp.state = s
			return cp, true, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, false, fmt.Errorf("shoal: %w", err)
		}
	}
	if err := os.RemoveAll(cp.dir); err != nil {
		return nil, false, fmt.Errorf("shoal: %w", err)
	}
	if err := os.MkdirAll(cp.dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("shoal: %w", err)
	}
	return cp, false, cp.save()
}

// fingerprint names the source and the options the tree and the spill
// files depend on; the source by its shape and a checksum of three rows.
func (b *builder) fingerprint() (string, error) {
	rb := b.dim * b.srcElem.Size()
	raw := make([]byte, rb)
	crc := crc32.NewIEEE()
	for _, r := range []int{0, b.n / 2, b.n - 1} {
		if err := b.src.ReadRows(r, 1, raw); err != nil {
			return "", fmt.Errorf("shoal: read row %d: %w", r, err)
		}
		crc.Write(raw)
	}
	o := b.opts
	return fmt.Sprintf("%d×%d %v rows crc %08x; metric %v, ratio %g, k %d, sample %d, seed %d",
		b.n, b.dim, b.srcElem, crc.Sum32(), o.Metric, o.Ratio, o.K, o.SampleSize, o.Seed), nil
}

func (cp *checkpoint) file(name string) string { return filepath.Join(cp.dir, name) }

func subName(p int) string { return fmt.Sprintf("sub-%06d.shct", p) }

// save writes the state through a synced temporary file renamed into
// place.
func (cp *checkpoint) save() error {
	data, err := json.Marshal(cp.state)
	if err != nil {
		return err
	}
	err = filecopy.WriteAtomic(cp.file("state.json"), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("shoal: checkpoint: %w", err)
	}
	return nil
}

// saveTree writes t as name and returns what cluster.WriteFile does.
func (cp *checkpoint) saveTree(t *cluster.Tree, name string) error {
	if err := t.WriteFile(cp.dir, name); err != nil {
		return fmt.Errorf("shoal: checkpoint: %w", err)
	}
	return nil
}

// loadTree reads name if it is there: nil and no error if not.
func (cp *checkpoint) loadTree(name string) (*cluster.Tree, error) {
	t, err := cluster.ReadFile(cp.file(name))
	if err != nil {
		if _, serr := os.Stat(cp.file(name)); errors.Is(serr, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("shoal: checkpoint: %w", err)
	}
	return t, nil
}

// treeDone records that tree.shct holds t, the whole tree, and drops the
// partition trees it was grafted from.
func (cp *checkpoint) treeDone(t *cluster.Tree) error {
	if err := cp.saveTree(t, "tree.shct"); err != nil {
		return err
	}
	cp.state.Tree = true
	if err := cp.save(); err != nil {
		return err
	}
	ents, _ := os.ReadDir(cp.dir)
	for _, e := range ents {
		if n := e.Name(); n != "state.json" && n != "tree.shct" {
			os.Remove(cp.file(n))
		}
	}
	return nil
}

// spillsComplete reports whether the spill files the state records are in
// pdir whole: each exactly its records long.
func (b *builder) spillsComplete(pdir string, sizes []int64) bool {
	if len(sizes) == 0 {
		return false
	}
	rec := int64(4 + b.dim*b.srcElem.Size())
	for p, size := range sizes {
		fi, err := os.Stat(partFile(pdir, p))
		if err != nil || fi.Size() != size*rec {
			return false
		}
	}
	return true
}
