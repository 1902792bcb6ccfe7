package treelog

import (
	"testing"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting/memstore"
)

// FuzzLoad: a tree-file record and tree-edit records of any bytes make
// Load fail with an error or return a tree, never panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte{}, []byte{0, 0, 0, 0, 0, 0, 0, 1}, cluster.EncodeSplit(0, 1, []float32{0.5, 0.5}, []float32{9.5, 9.5}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 't', 'r', 'e', 'e'}, []byte{0, 0, 0, 0, 0, 0, 0, 2}, cluster.EncodeRemove(1))
	f.Add([]byte(nil), []byte{1, 2, 3}, []byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, '.', '.', '/', 'x'}, []byte{0, 0, 0, 0, 0, 0, 0, 9}, []byte{0xff})
	tree, err := cluster.Build([]float32{0, 0, 1, 1, 9, 9, 10, 10}, 2, cluster.Options{K: 2, Leaves: 1, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	if err := Write(dir, tree); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, fileRec, opKey, op []byte) {
		store := memstore.New()
		b := store.NewBatch()
		if fileRec != nil {
			b.Set(keys.Prefix(keys.TreeFile), fileRec)
		}
		b.Set(append(keys.Prefix(keys.TreeOp), opKey...), op)
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
		b.Close()
		got, _, _, err := Load(store, dir)
		if err == nil && got == nil {
			t.Fatal("Load returned no tree and no error")
		}
	})
}
