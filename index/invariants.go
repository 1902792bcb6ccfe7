package index

import (
	"errors"
	"fmt"

	"github.com/shoaldb/shoal/index/internal/tail"
)

// checkInvariants checks, in memory only, the cheap parts of Check that
// every unit of maintenance must leave true: the tails are well formed,
// belong to live heads and add up to tailBytes; no re-insert is left
// pending; the live count is the version map's; the tree's live-leaf count
// is its leaves'. It runs after each unit in builds with the invariants
// tag or -race (invariants_on.go), so a unit that breaks one fails where
// it happens, not at a later Check. The caller holds the maintainer's run
// mutex.
func (ix *Index) checkInvariants() error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.rmu.RLock()
	defer ix.rmu.RUnlock()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	var tb int64
	ix.tails.Each(func(p uint32, t *tail.Tail) {
		n := t.Len()
		if len(t.Vers) != n || len(t.Seqs) != n || len(t.Vecs) != n*ix.rowBytes {
			bad("tail of posting %d: %d ids, %d versions, %d seqs, %d row bytes", p, n, len(t.Vers), len(t.Seqs), len(t.Vecs))
		}
		for i := 1; i < len(t.Seqs); i++ {
			if t.Seqs[i] <= t.Seqs[i-1] {
				bad("tail of posting %d: seq %d after %d", p, t.Seqs[i], t.Seqs[i-1])
				break
			}
		}
		if n > 0 && t.Last() > ix.seq {
			bad("tail of posting %d: seq %d past the log's %d", p, t.Seqs[n-1], ix.seq)
		}
		if n > 0 && !ix.tree.IsLeaf(p) {
			bad("tail of posting %d, which is no head", p)
		}
		tb += int64(t.Bytes())
	})
	if got := ix.tails.Bytes(); got != tb {
		bad("tailBytes %d, tails hold %d", got, tb)
	}
	if p := ix.pending.Load(); p != nil {
		bad("%d re-inserted ids still pending after a unit", len(*p))
	}
	if got, want := ix.live.Load(), int64(ix.vers.count()); got != want {
		bad("live count %d, version map %d", got, want)
	}
	leaves := 0
	for p := range ix.tree.NumLeaves() {
		if ix.tree.IsLeaf(uint32(p)) {
			leaves++
		}
	}
	if leaves != ix.tree.LiveLeaves() {
		bad("tree counts %d live leaves, has %d", ix.tree.LiveLeaves(), leaves)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: invariant broken after maintenance: %v", ErrCorrupt, err)
	}
	return nil
}
