package cluster

import "testing"

// FuzzApply: replaying any bytes as a tree edit record returns an error
// or edits the tree; it never panics.
func FuzzApply(f *testing.F) {
	f.Add(EncodeSplit(0, 1, []float32{0, 0}, []float32{1, 1}))
	f.Add(EncodeRemove(0))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(EncodeSplit(7, 7, []float32{0, 0}, []float32{1, 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		tree, err := Build([]float32{0, 0, 1, 1, 9, 9, 10, 10}, 2, Options{K: 2, Leaves: 2, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		_ = tree.Apply(b)
	})
}
