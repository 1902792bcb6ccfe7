package fleet

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// replicaKey marks a call from a router to a node's replica of a shard:
// the call's collection is then the shard's local name
// (shardName), served from this node's copy, never routed further.
const replicaKey = "shoal-replica"

// replicaStartWait is how long a replica call waits for this node's
// replica to start (a collection just created).
const replicaStartWait = 3 * time.Second

func isReplicaCall(ctx context.Context) bool { return incoming(ctx, replicaKey) != "" }

// peerClients are the clients of one peer's services.
type peerClients struct {
	coll shoalv1.CollectionServiceClient
	vec  shoalv1.VectorServiceClient
	ten  shoalv1.TenantServiceClient
}

// liveIDs lists the live nodes' ids, sorted.
func (n *Node) liveIDs() []string {
	live := n.live()
	ids := make([]string, 0, len(live))
	for id := range live {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// replicaAddrs lists the addresses of the live nodes holding shard s of
// r, this node first when it holds one.
func (n *Node) replicaAddrs(r collRecord, s int) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var addrs []string
	for _, id := range r.Placement[s] {
		seen, ok := n.mu.nodes[id]
		if !ok || !n.isLive(seen) {
			continue
		}
		rec := seen.rec
		if id == n.opts.ID {
			addrs = append([]string{rec.Addr}, addrs...)
		} else {
			addrs = append(addrs, rec.Addr)
		}
	}
	return addrs
}

// shardCall is one call to a replica of a shard, with local the shard's
// local collection name.
type shardCall func(ctx context.Context, p peerClients, local string) (any, error)

// fanout runs call on one replica of each of shards, in parallel, and
// returns the results by shard. A replica that fails or does not answer
// within HedgeAfter is backed up by the next live one. When a shard has
// no replica that answers, fanout fails with UNAVAILABLE naming the
// shards, unless the call's metadata allows partial results
// (partialKey), in which case it sets unavailableKey in the trailer and
// returns the shards that answered.
func (n *Node) fanout(ctx context.Context, r collRecord, shards []int, call shardCall) (map[int]any, error) {
	var minSeq seqs
	if tok := incoming(ctx, minSeqKey); tok != "" {
		var err error
		if minSeq, err = parseSeqs(tok, r.Shards); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	type result struct {
		shard int
		v     any
		err   error
	}
	ch := make(chan result, len(shards))
	for _, s := range shards {
		go func() {
			kv := []string{replicaKey, "1"}
			if seq, ok := minSeq[s]; ok {
				kv = append(kv, minSeqKey, strconv.Itoa(s)+":"+strconv.FormatUint(seq, 10))
			}
			// A fresh outgoing context: the caller's incoming metadata
			// is not passed on, only the peer key and these.
			cctx := metadata.AppendToOutgoingContext(n.peerCtx(context.Background()), kv...)
			cctx, cancel := context.WithCancel(cctx)
			defer cancel()
			stop := context.AfterFunc(ctx, cancel)
			defer stop()
			if dl, ok := ctx.Deadline(); ok {
				var c2 context.CancelFunc
				cctx, c2 = context.WithDeadline(cctx, dl)
				defer c2()
			}
			v, err := n.hedged(cctx, n.replicaAddrs(r, s), func(ctx context.Context, p peerClients) (any, error) {
				return call(ctx, p, shardName(r.Name, s))
			})
			ch <- result{s, v, err}
		}()
	}
	out := make(map[int]any, len(shards))
	var failed []string
	var firstErr error
	for range shards {
		res := <-ch
		if res.err != nil {
			if c := status.Code(res.err); c == codes.InvalidArgument || c == codes.PermissionDenied || c == codes.Unauthenticated || c == codes.OutOfRange {
				return nil, res.err
			}
			failed = append(failed, strconv.Itoa(res.shard))
			if firstErr == nil {
				firstErr = res.err
			}
			continue
		}
		out[res.shard] = res.v
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		if incoming(ctx, partialKey) != "allow" {
			return nil, status.Errorf(codes.Unavailable, "collection %s: shards %s unavailable (%v); send %s: allow for the others' results", r.Name, strings.Join(failed, ","), status.Convert(firstErr).Message(), partialKey)
		}
		grpc.SetTrailer(ctx, metadata.Pairs(unavailableKey, strings.Join(failed, ",")))
	}
	return out, nil
}

// hedged calls call on the first of addrs; when it fails or takes longer
// than HedgeAfter, on the next too, and so on; the first success wins.
func (n *Node) hedged(ctx context.Context, addrs []string, call func(context.Context, peerClients) (any, error)) (any, error) {
	if len(addrs) == 0 {
		return nil, status.Error(codes.Unavailable, "no live replica")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		v   any
		err error
	}
	ch := make(chan result, len(addrs))
	next, inflight := 0, 0
	launch := func() {
		addr := addrs[next]
		next++
		inflight++
		go func() {
			conn, err := n.peer(addr)
			if err != nil {
				ch <- result{nil, status.Errorf(codes.Unavailable, "%s: %v", addr, err)}
				return
			}
			v, err := call(ctx, peerClients{shoalv1.NewCollectionServiceClient(conn), shoalv1.NewVectorServiceClient(conn), shoalv1.NewTenantServiceClient(conn)})
			ch <- result{v, err}
		}()
	}
	launch()
	timer := time.NewTimer(n.opts.HedgeAfter)
	defer timer.Stop()
	var lastErr error
	for inflight > 0 {
		select {
		case r := <-ch:
			inflight--
			if r.err == nil {
				return r.v, nil
			}
			switch status.Code(r.err) {
			case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.OutOfRange:
				return nil, r.err
			}
			lastErr = r.err
			if next < len(addrs) {
				launch()
			}
		case <-timer.C:
			if next < len(addrs) {
				launch()
				timer.Reset(n.opts.HedgeAfter)
			}
		}
	}
	return nil, lastErr
}

// servingReplica returns this node's replica of a shard-local name for a
// replica call, after it has applied what the call's minSeqKey asks.
func (n *Node) servingReplica(ctx context.Context, local string) (*replica, error) {
	// A collection just created: its replicas start as the nodes see its
	// record. Wait a little for this node's.
	var rep *replica
	waitUntil(ctx, replicaStartWait, func() bool { rep = n.replicaOf(local); return rep != nil })
	if rep == nil {
		return nil, status.Errorf(codes.Unavailable, "node %s holds no replica %s", n.opts.ID, clip(local))
	}
	if p := rep.broken.Load(); p != nil {
		return nil, status.Errorf(codes.Unavailable, "replica %s is stopped: %v", local, *p)
	}
	if tok := incoming(ctx, minSeqKey); tok != "" {
		// Having applied what the caller asks is enough, caught up or
		// not: the copy then holds every operation up to seq.
		_, seqStr, _ := strings.Cut(tok, ":")
		seq, err := strconv.ParseUint(seqStr, 10, 64)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s %q", minSeqKey, tok)
		}
		if err := rep.waitApplied(ctx, seq); err != nil {
			return nil, err
		}
		return rep, nil
	}
	// A replica catching up (started after writes, or restoring a
	// snapshot) serves no reads; one that is about to be caught up is
	// waited for a little.
	waitUntil(ctx, replicaStartWait, func() bool { return rep.ready.Load() || rep.broken.Load() != nil })
	if !rep.ready.Load() {
		return nil, status.Errorf(codes.Unavailable, "replica %s is catching up: applied %d of %d", local, rep.applied.Load(), rep.readyAt.Load())
	}
	return rep, nil
}

// waitUntil polls cond every 20 ms until it holds, d has passed or ctx
// ends, and returns its last value.
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	wait, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for !cond() {
		select {
		case <-wait.Done():
			return cond()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}

// localDescribe serves a replica call's DescribeCollection.
func (n *Node) localDescribe(ctx context.Context, req *shoalv1.DescribeCollectionRequest) (*shoalv1.Collection, error) {
	if _, err := n.servingReplica(ctx, req.GetName()); err != nil {
		return nil, err
	}
	return shoalv1.NewCollectionServiceClient(n.localConn).DescribeCollection(n.localCtx(ctx), req)
}
