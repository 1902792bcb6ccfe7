package memstore

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRecordsMatchModel applies random sets, deletes and range deletes to
// the treap and to a map, and compares them after every change; each
// earlier root must still hold what it held when it was the latest (the
// snapshots readers rely on).
func TestRecordsMatchModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() string { return fmt.Sprintf("%02x", rng.IntN(64)) }
	var root *record
	model := map[string]string{}
	type snapshot struct {
		root  *record
		model map[string]string
	}
	var snaps []snapshot
	for step := range 2000 {
		switch k := key(); rng.IntN(4) {
		case 0, 1:
			v := fmt.Sprint(step)
			root = root.set(k, []byte(v))
			model[k] = v
		case 2:
			root = root.deleteRange(k, successor(k), false)
			delete(model, k)
		default:
			end, open := key(), rng.IntN(4) == 0
			root = root.deleteRange(k, end, open)
			for m := range model {
				if m >= k && (open || m < end) {
					delete(model, m)
				}
			}
		}
		if err := checkRecords(root, model); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if step%100 == 0 {
			snaps = append(snaps, snapshot{root, maps.Clone(model)})
		}
	}
	for i, s := range snaps {
		if err := checkRecords(s.root, s.model); err != nil {
			t.Fatalf("snapshot %d changed since: %v", i, err)
		}
	}
}

// checkRecords checks that root holds exactly model, in key order, as a
// treap: keys ordered left to right, priorities not above the parent's.
func checkRecords(root *record, model map[string]string) error {
	var got []string
	root.ascend("", func(r *record) bool {
		got = append(got, r.key)
		return true
	})
	if want := slices.Sorted(maps.Keys(model)); !slices.Equal(got, want) {
		return fmt.Errorf("keys %q, want %q", got, want)
	}
	for k, v := range model {
		if r := root.get(k); r == nil || string(r.value) != v {
			return fmt.Errorf("get(%q) = %v, want %q", k, r, v)
		}
	}
	var walk func(n *record) error
	walk = func(n *record) error {
		if n == nil {
			return nil
		}
		for _, c := range []*record{n.left, n.right} {
			if c != nil && c.prio > n.prio {
				return fmt.Errorf("record %q has priority above its parent %q", c.key, n.key)
			}
		}
		if n.left != nil && n.left.key >= n.key || n.right != nil && n.right.key <= n.key {
			return fmt.Errorf("record %q has children out of order", n.key)
		}
		if err := walk(n.left); err != nil {
			return err
		}
		return walk(n.right)
	}
	return walk(root)
}
