package fleet

import (
	"slices"
	"testing"
	"time"
)

// TestPlan: the balancer's steps, from the records it sees. A move
// starts from the most loaded live node to the least loaded when they
// differ by two or more; it waits while the target catches up or lags
// the other replicas; it finishes by removing the source; it is undone
// when the target is down. Balanced collections are left alone.
func TestPlan(t *testing.T) {
	n := &Node{opts: Options{ID: "a", Lease: time.Minute}}
	now := time.Now()
	stream := func(r collRecord, s int) string { return streamName(r, s) }
	setNodes := func(recs ...nodeRecord) {
		n.mu.nodes = map[string]nodeSeen{}
		for _, r := range recs {
			n.mu.nodes[r.ID] = nodeSeen{r, now}
		}
	}
	base := collRecord{Name: "c", Incarnation: "i", Shards: 4, rev: 7,
		Placement: [][]string{{"a", "b"}, {"b", "a"}, {"a", "b"}, {"b", "a"}}}

	// Two nodes, balanced; a third joins: a move starts onto it.
	setNodes(nodeRecord{ID: "a"}, nodeRecord{ID: "b"})
	if next, what := n.plan(base); next != nil {
		t.Fatalf("balanced: step %q", what)
	}
	setNodes(nodeRecord{ID: "a"}, nodeRecord{ID: "b"}, nodeRecord{ID: "c"})
	next, what := n.plan(base)
	if next == nil || len(next.Moves) != 1 {
		t.Fatalf("a node with none: step %q, %v; want a move onto c", what, next)
	}
	m := next.Moves[0]
	if m.To != "c" || m.From != "a" || !slices.Contains(next.Placement[m.Shard], "c") || !slices.Contains(next.Placement[m.Shard], "a") {
		t.Fatalf("move %v, placement %v: want a → c with both placed", m, next.Placement)
	}
	if slices.Contains(base.Placement[m.Shard], "c") {
		t.Fatal("plan changed the record it was given")
	}
	moving := *next
	st := stream(moving, m.Shard)

	// The target catches up: wait.
	setNodes(nodeRecord{ID: "a", Applied: map[string]uint64{st: 50}}, nodeRecord{ID: "b", Applied: map[string]uint64{st: 50}},
		nodeRecord{ID: "c", Applied: map[string]uint64{st: 0}, NotServing: []string{st}})
	if next, what := n.plan(moving); next != nil {
		t.Fatalf("target catching up: step %q", what)
	}
	// Serving, but behind the others: wait.
	setNodes(nodeRecord{ID: "a", Applied: map[string]uint64{st: 50}}, nodeRecord{ID: "b", Applied: map[string]uint64{st: 50}},
		nodeRecord{ID: "c", Applied: map[string]uint64{st: 40}})
	if next, what := n.plan(moving); next != nil {
		t.Fatalf("target behind: step %q", what)
	}
	// As far as the others: the source leaves.
	setNodes(nodeRecord{ID: "a", Applied: map[string]uint64{st: 50}}, nodeRecord{ID: "b", Applied: map[string]uint64{st: 50}},
		nodeRecord{ID: "c", Applied: map[string]uint64{st: 50}})
	done, what := n.plan(moving)
	if done == nil || len(done.Moves) != 0 || slices.Contains(done.Placement[m.Shard], "a") || !slices.Contains(done.Placement[m.Shard], "c") {
		t.Fatalf("target caught up: step %q, %v; want the move finished", what, done)
	}
	// The target is down: the move is undone.
	n.mu.nodes = map[string]nodeSeen{"a": {nodeRecord{ID: "a"}, now}, "b": {nodeRecord{ID: "b"}, now},
		"c": {nodeRecord{ID: "c"}, now.Add(-time.Hour)}}
	undone, what := n.plan(moving)
	if undone == nil || len(undone.Moves) != 0 || slices.Contains(undone.Placement[m.Shard], "c") || !slices.Contains(undone.Placement[m.Shard], "a") {
		t.Fatalf("target down: step %q, %v; want the move undone", what, undone)
	}
	// A node that is down is not moved off.
	n.mu.nodes = map[string]nodeSeen{"a": {nodeRecord{ID: "a"}, now.Add(-time.Hour)}, "b": {nodeRecord{ID: "b"}, now}, "c": {nodeRecord{ID: "c"}, now}}
	if next, what := n.plan(base); next != nil && slices.ContainsFunc(next.Moves, func(m move) bool { return m.From == "a" }) {
		t.Fatalf("a down: step %q moves off it", what)
	}
}
