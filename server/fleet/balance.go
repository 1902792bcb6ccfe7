package fleet

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"time"
)

// Rebalancing. One node, the balancer (the live node of lowest id),
// looks at every collection each Options.BalanceEvery and moves one
// replica of a shard from the live node that holds most of the
// collection's replicas to the one that holds fewest, when they differ
// by two or more (a node just added holds none). A move is two steps of
// the collection's record, each a compare-and-set on its revision:
//
//  1. the target is appended to the shard's placement and the move is
//     recorded (collRecord.Moves); the target's node starts a replica,
//     which bootstraps from the shard's snapshot and log while writes go
//     on (the router does not read from it until it is caught up:
//     servingReplica);
//  2. once the target's heartbeat reports its replica serving and at
//     least as far as the slowest other serving replica of the shard,
//     the source leaves the placement and the move is removed; the
//     source's node stops and drops its replica.
//
// If the target dies during the move, the move is undone instead. Only
// one move per collection is in flight at a time. Nodes that are down
// keep their replicas (nothing is moved off a node because it is down).

// move is a replica move in flight.
type move struct {
	Shard int    `json:"shard"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// balanceStep balances if this node is the balancer.
func (n *Node) balanceStep() {
	if n.isBalancer() {
		n.balance()
	}
}

// isBalancer reports whether this node is the live node of lowest id.
func (n *Node) isBalancer() bool {
	ids := n.liveIDs()
	return len(ids) > 0 && ids[0] == n.opts.ID
}

// balance advances or starts one move per collection.
func (n *Node) balance() {
	n.mu.Lock()
	colls := make([]collRecord, 0, len(n.mu.colls))
	for _, r := range n.mu.colls {
		colls = append(colls, r)
	}
	n.mu.Unlock()
	for _, r := range colls {
		if r.rev == 0 {
			continue // not seen through the watch yet
		}
		next, what := n.plan(r)
		if next == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
		err := n.meta.updateColl(ctx, *next) // next.rev is r's: compare-and-set
		cancel()
		if err != nil {
			// Another writer changed the record (a drop, another
			// balancer): the watch brings the new one.
			n.log.Info("rebalancing step not recorded", "collection", r.Name, "step", what, "err", err)
			continue
		}
		n.log.Info("rebalancing", "collection", r.Name, "step", what)
	}
}

// plan returns r's record after one rebalancing step, and the step, or
// nil when there is none to take.
func (n *Node) plan(r collRecord) (*collRecord, string) {
	next := r
	next.Placement = make([][]string, len(r.Placement))
	for s := range r.Placement {
		next.Placement[s] = slices.Clone(r.Placement[s])
	}
	next.Moves = slices.Clone(r.Moves)
	n.mu.Lock()
	defer n.mu.Unlock()
	live := func(id string) (nodeRecord, bool) {
		seen, ok := n.mu.nodes[id]
		return seen.rec, ok && n.isLive(seen)
	}
	if len(r.Moves) > 0 {
		m := r.Moves[0]
		stream := streamName(r, m.Shard)
		to, ok := live(m.To)
		if !ok {
			next.Placement[m.Shard] = slices.DeleteFunc(next.Placement[m.Shard], func(id string) bool { return id == m.To })
			next.Moves = next.Moves[1:]
			return &next, "undo " + m.String() + ": the target is down"
		}
		got, ok := to.Applied[stream]
		if !ok || slices.Contains(to.NotServing, stream) {
			return nil, "" // not caught up yet
		}
		for _, id := range r.Placement[m.Shard] {
			if rec, ok := live(id); ok && id != m.To {
				if a, ok := rec.Applied[stream]; ok && a > got && !slices.Contains(rec.NotServing, stream) {
					return nil, "" // the target is still behind
				}
			}
		}
		next.Placement[m.Shard] = slices.DeleteFunc(next.Placement[m.Shard], func(id string) bool { return id == m.From })
		next.Moves = next.Moves[1:]
		return &next, "finish " + m.String()
	}
	// Replicas of this collection per live node.
	load := map[string]int{}
	for id, seen := range n.mu.nodes {
		if n.isLive(seen) {
			load[id] = 0
		}
	}
	for _, ids := range r.Placement {
		for _, id := range ids {
			if _, ok := load[id]; ok {
				load[id]++
			}
		}
	}
	ids := make([]string, 0, len(load))
	for id := range load {
		ids = append(ids, id)
	}
	// Most loaded first; ties by id, so every balancer picks the same.
	sort.Slice(ids, func(i, j int) bool {
		if load[ids[i]] != load[ids[j]] {
			return load[ids[i]] > load[ids[j]]
		}
		return ids[i] < ids[j]
	})
	if len(ids) < 2 {
		return nil, ""
	}
	from, to := ids[0], ids[len(ids)-1]
	if load[from]-load[to] < 2 {
		return nil, ""
	}
	for s, placed := range r.Placement {
		if slices.Contains(placed, from) && !slices.Contains(placed, to) {
			m := move{Shard: s, From: from, To: to}
			next.Placement[s] = append(next.Placement[s], to)
			next.Moves = append(next.Moves, m)
			return &next, "start " + m.String()
		}
	}
	return nil, ""
}

func (m move) String() string {
	b, _ := json.Marshal(m)
	return string(b)
}
