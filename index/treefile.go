package index

import (
	"fmt"

	"github.com/shoaldb/shoal/cluster"
)

// treeFile is the routing tree's file in an index directory. It is written
// (synced, then renamed into place) before the manifest, which is the
// commit point, and read streaming at Open (cluster.ReadFile).
const treeFile = "tree.shct"

func writeTree(dir string, t *cluster.Tree) error {
	if err := t.WriteFile(dir, treeFile); err != nil {
		return fmt.Errorf("shoal: write tree: %w", err)
	}
	return nil
}

func readTree(path string) (*cluster.Tree, error) { return cluster.ReadFile(path) }
