package fleet

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// TestClusterCompaction: with small snapshot thresholds, the shard logs
// are purged behind snapshots in the object store while writes go on. A
// node that was down while its shards' logs moved past what it had
// applied, and a node whose disk was wiped, both come back by restoring
// a snapshot and applying the log's tail: afterwards every replica of
// every shard holds the same vectors, searches are exact, and writes
// after the restore reach them too.
func TestClusterCompaction(t *testing.T) {
	c := startClusterWith(t, 3, 3, func(o *Options) {
		o.SnapshotBytes = 4 << 10
		o.CompactEvery = 50 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(authed(context.Background()), 120*time.Second)
	defer cancel()
	cc, vc := c.client(0)
	const dim, shards = 16, 2
	if _, err := cc.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "docs", Config: &shoalv1.CollectionConfig{Dim: dim, Shards: shards, Replication: 3}}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var ids []uint64
	var vs [][]float32
	write := func(batches int) {
		t.Helper()
		for b := 0; b < batches; b++ {
			bv := randVecs(r, 50, dim)
			bi := make([]uint64, 50)
			for i := range bi {
				bi[i] = uint64(len(ids) + i)
			}
			if _, err := vc.Upsert(ctx, upsertReq("docs", bi, bv)); err != nil {
				t.Fatal(err)
			}
			ids, vs = append(ids, bi...), append(vs, bv...)
		}
	}
	write(10)
	waitReplicasEqual(t, ctx, c, "docs", shards, ids)

	// Node 1 goes down with its disk; node 2 goes down and loses it.
	c.stopNode(1)
	c.stopNode(2)
	if err := os.RemoveAll(c.nodeDir(2)); err != nil {
		t.Fatal(err)
	}
	firstBefore := logStarts(t, ctx, c.nodes[0], "docs", shards)
	write(60)
	// Wait until every shard's log starts past what the stopped nodes
	// had applied (they applied at most the log's end before the stop).
	for {
		firsts := logStarts(t, ctx, c.nodes[0], "docs", shards)
		moved := true
		for s, f := range firsts {
			if f.first <= firstBefore[s].last+1 {
				moved = false
			}
		}
		if moved {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("logs not purged: starts %v, ends before the stop %v", firsts, firstBefore)
		}
		time.Sleep(50 * time.Millisecond)
	}
	snaps, err := c.nodes[0].meta.snaps.List(ctx)
	if err != nil || len(snaps) == 0 {
		t.Fatalf("snapshots: %v, %v", len(snaps), err)
	}

	c.startNode(1)
	c.startNode(2)
	c.waitLive(3)
	waitReplicasEqual(t, ctx, c, "docs", shards, ids)
	for _, i := range []int{1, 2} {
		for s := 0; s < shards; s++ {
			rep := c.nodes[i].replicaOf(shardName("docs", s))
			if rep == nil || rep.bootstraps.Load() == 0 {
				t.Fatalf("node %d shard %d: replica %v did not bootstrap from a snapshot", i, s, rep)
			}
		}
	}
	// Writes after the restore reach the restored replicas; searches
	// through a restored node are exact.
	if _, err := vc.Delete(ctx, &shoalv1.DeleteRequest{Collection: "docs", Ids: ids[:25]}); err != nil {
		t.Fatal(err)
	}
	write(5)
	waitReplicasEqual(t, ctx, c, "docs", shards, ids)
	_, vc2 := c.client(2)
	waitCount(t, ctx, cc, "docs", len(ids)-25)
	checkExact(t, ctx, vc2, "docs", ids[25:], vs[25:], 10)

	// Dropping the collection removes its snapshots.
	if _, err := cc.DropCollection(ctx, &shoalv1.DropCollectionRequest{Name: "docs"}); err != nil {
		t.Fatal(err)
	}
	if left, err := c.nodes[0].meta.snaps.List(ctx); err != jetstream.ErrNoObjectsFound {
		t.Fatalf("after the drop, %d snapshots are left (%v)", len(left), err)
	}
}

// logState is where a shard's log starts and ends.
type logState struct{ first, last uint64 }

// logStarts returns, per shard of coll, where its log starts and ends.
func logStarts(t *testing.T, ctx context.Context, n *Node, coll string, shards int) []logState {
	t.Helper()
	r, _, err := n.collection(ctx, coll)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]logState, shards)
	for s := range out {
		st, err := n.js.Stream(ctx, streamName(r, s))
		if err != nil {
			t.Fatal(err)
		}
		out[s] = logState{st.CachedInfo().State.FirstSeq, st.CachedInfo().State.LastSeq}
	}
	return out
}

// TestClusterRebalance: a node added to a two-node cluster receives
// replicas moved from the others while a client keeps writing: every
// write is acknowledged, the replica counts end balanced, the moved
// replicas are dropped from their old nodes, and every replica of every
// shard holds every acknowledged vector.
func TestClusterRebalance(t *testing.T) {
	c := startClusterWith(t, 3, 2, func(o *Options) {
		o.SnapshotBytes = 4 << 10
		o.CompactEvery = 50 * time.Millisecond
		o.BalanceEvery = 50 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(authed(context.Background()), 120*time.Second)
	defer cancel()
	cc, vc := c.client(0)
	const dim, shards = 8, 4
	if _, err := cc.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "docs", Config: &shoalv1.CollectionConfig{Dim: dim, Shards: shards, Replication: 2}}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	var ids []uint64
	var vs [][]float32
	write := func() {
		bv := randVecs(r, 20, dim)
		bi := make([]uint64, 20)
		for i := range bi {
			bi[i] = uint64(len(ids) + i)
		}
		if _, err := vc.Upsert(ctx, upsertReq("docs", bi, bv)); err != nil {
			t.Fatalf("upsert during the rebalance: %v", err)
		}
		ids, vs = append(ids, bi...), append(vs, bv...)
	}
	for range 20 {
		write()
	}
	c.nodes = append(c.nodes, nil)
	c.addrs = append(c.addrs, "")
	c.startNode(2)
	c.waitLive(3)
	// Writes go on until the new node holds its share, serving.
	for {
		write()
		if placed := placedOn(c.nodes[0], "docs", "node-2"); placed >= 2 && moving(c.nodes[0], "docs") == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("node-2 holds %d replicas, moves in flight %d", placedOn(c.nodes[0], "docs", "node-2"), moving(c.nodes[0], "docs"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range 5 {
		write()
	}
	for i := 0; i < 3; i++ {
		if got := placedOn(c.nodes[0], "docs", fmt.Sprintf("node-%d", i)); got < 2 || got > 3 {
			t.Errorf("node-%d holds %d of the %d replicas, want 2 or 3", i, got, shards*2)
		}
	}
	// Old nodes dropped what moved off them; every node runs the
	// replicas placed on it.
	r0, _, _ := c.nodes[0].collection(ctx, "docs")
	for {
		ok := true
		for i, nd := range c.nodes {
			for s := 0; s < shards; s++ {
				placed := slices.Contains(r0.Placement[s], fmt.Sprintf("node-%d", i))
				if (nd.replicaOf(shardName("docs", s)) != nil) != placed {
					ok = false
				}
			}
		}
		if ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("replicas running do not match the placement %v", r0.Placement)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitReplicasEqual(t, ctx, c, "docs", shards, ids)
	waitCount(t, ctx, cc, "docs", len(ids))
	_, vc2 := c.client(2)
	checkExact(t, ctx, vc2, "docs", ids, vs, 10)

	// SearchBatchStream through a router answers as SearchBatch does, in
	// order, over more queries than one fan-out takes.
	qs := make([]*shoalv1.Query, searchStreamChunk+44)
	for i := range qs {
		qs[i] = &shoalv1.Query{Values: vs[i%len(vs)]}
	}
	req := &shoalv1.SearchBatchRequest{Collection: "docs", Queries: qs, TopK: 5}
	batch, err := vc2.SearchBatch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	st, err := vc2.SearchBatchStream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var got []*shoalv1.SearchResponse
	for {
		m, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if int(m.GetFirstQuery()) != len(got) {
			t.Fatalf("stream message starts at query %d, want %d", m.GetFirstQuery(), len(got))
		}
		got = append(got, m.GetResults()...)
	}
	if len(got) != len(qs) {
		t.Fatalf("stream answered %d queries, want %d", len(got), len(qs))
	}
	for i := range got {
		a, b := got[i].GetHits(), batch.GetResults()[i].GetHits()
		if len(a) != len(b) || len(a) == 0 || a[0].GetId() != b[0].GetId() {
			t.Fatalf("query %d: stream %v, batch %v", i, a, b)
		}
	}
}

// placedOn counts the replicas of coll placed on node id, as n sees it.
func placedOn(n *Node, coll, id string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, p := range n.mu.colls[coll].Placement {
		if slices.Contains(p, id) {
			k++
		}
	}
	return k
}

// placedHere counts n's replicas of shard s of coll as n's record
// places them (0 or 1).
func placedHere(n *Node, coll string, s int) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.mu.colls[coll].Placement
	if s < len(p) && slices.Contains(p[s], n.opts.ID) {
		return 1
	}
	return 0
}

// moving is the number of replica moves of coll in flight, as n sees it.
func moving(n *Node, coll string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.mu.colls[coll].Moves)
}
