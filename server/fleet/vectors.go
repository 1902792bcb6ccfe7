package fleet

import (
	"cmp"
	"context"
	"io"
	"slices"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// vectorsAPI is the cluster's VectorService. Writes are split by shard
// (shardOf) and appended to the shards' logs; each replica applies them
// (apply.go). Reads go to one replica per shard (fanout.go) and are
// merged. A call whose collection is a shard's local name and that
// carries replicaKey is a router's call to this node's replica.
type vectorsAPI struct {
	shoalv1.UnimplementedVectorServiceServer
	n *Node
}

// logTarget resolves the collection of a change that goes through the
// shards' logs; a replica call takes none.
func (n *Node) logTarget(ctx context.Context, coll string) (collRecord, *shoalv1.CollectionConfig, error) {
	if isReplicaCall(ctx) {
		return collRecord{}, nil, status.Error(codes.FailedPrecondition, "a shard's replica changes only through the shard's log: write to the collection")
	}
	return n.collection(ctx, coll)
}

// writable resolves a write's collection; replica names take no writes.
func (a vectorsAPI) writable(ctx context.Context, coll, tenant string, count int) (collRecord, *shoalv1.CollectionConfig, error) {
	r, cfg, err := a.n.logTarget(ctx, coll)
	if err != nil {
		return r, nil, err
	}
	if tenant != "" {
		if err := a.n.checkTenant(ctx, r, tenant); err != nil {
			return r, nil, err
		}
	}
	if count == 0 {
		return r, nil, status.Error(codes.InvalidArgument, "nothing to write")
	}
	if count > a.n.maxBatch() {
		return r, nil, status.Errorf(codes.ResourceExhausted, "%d items, above the max batch %d", count, a.n.maxBatch())
	}
	return r, cfg, nil
}

func (n *Node) maxBatch() int {
	if n.opts.Server.MaxBatch > 0 {
		return n.opts.Server.MaxBatch
	}
	return server.DefaultMaxBatch
}

func (n *Node) maxPayload() int {
	if n.opts.Server.MaxPayloadBytes > 0 {
		return n.opts.Server.MaxPayloadBytes
	}
	return server.DefaultMaxPayloadBytes
}

// checkIDs refuses repeated ids.
func checkIDs(n int, id func(int) uint64) error {
	seen := make(map[uint64]struct{}, n)
	for i := 0; i < n; i++ {
		if _, dup := seen[id(i)]; dup {
			return status.Errorf(codes.InvalidArgument, "id %d appears twice", id(i))
		}
		seen[id(i)] = struct{}{}
	}
	return nil
}

// split groups items by shard, in request order, into messages of at
// most maxMessage bytes, each made by wrap from its items.
func split[T proto.Message](n *Node, shards int, items []T, id func(T) uint64, wrap func([]T) proto.Message) []shardOp {
	byShard := make(map[int][]T)
	for _, it := range items {
		s := shardOf(id(it), shards)
		byShard[s] = append(byShard[s], it)
	}
	limit := n.maxMessage()
	var ops []shardOp
	for s, its := range byShard {
		op := shardOp{shard: s}
		start, size := 0, 0
		for i, it := range its {
			sz := proto.Size(it) + 16
			if i > start && size+sz > limit {
				op.msgs = append(op.msgs, wrap(its[start:i]))
				start, size = i, 0
			}
			size += sz
		}
		op.msgs = append(op.msgs, wrap(its[start:]))
		ops = append(ops, op)
	}
	return ops
}

// logItems checks a write of items (ids distinct; check, if not nil,
// on each) and appends it to the shards' logs as op, in messages wrap
// makes.
func logItems[T proto.Message](a vectorsAPI, ctx context.Context, coll, tenant string, items []T, id func(T) uint64, check func(T, *shoalv1.CollectionConfig) error, op string, wrap func([]T) proto.Message) (uint64, error) {
	r, cfg, err := a.writable(ctx, coll, tenant, len(items))
	if err != nil {
		return 0, err
	}
	if err := checkIDs(len(items), func(i int) uint64 { return id(items[i]) }); err != nil {
		return 0, err
	}
	for _, it := range items {
		if check == nil {
			break
		}
		if err := check(it, cfg); err != nil {
			return 0, err
		}
	}
	if _, err := a.n.publish(ctx, r, op, split(a.n, r.Shards, items, id, wrap)); err != nil {
		return 0, err
	}
	return uint64(len(items)), nil
}

// checkPayload refuses a payload over the limit (the replicas check the
// rest of it).
func (a vectorsAPI) checkPayload(id uint64, p *structpb.Struct) error {
	if p != nil && proto.Size(p) > a.n.maxPayload() {
		return status.Errorf(codes.InvalidArgument, "vector %d: payload of about %d bytes, above the limit %d", id, proto.Size(p), a.n.maxPayload())
	}
	return nil
}

func (a vectorsAPI) Upsert(ctx context.Context, req *shoalv1.UpsertRequest) (*shoalv1.UpsertResponse, error) {
	n, err := logItems(a, ctx, req.GetCollection(), req.GetTenant(), req.GetVectors(), (*shoalv1.Vector).GetId,
		func(v *shoalv1.Vector, cfg *shoalv1.CollectionConfig) error {
			if err := server.CheckVector("vector "+strconv.FormatUint(v.GetId(), 10), v.GetValues(), int(cfg.GetDim())); err != nil {
				return err
			}
			return a.checkPayload(v.GetId(), v.GetPayload())
		}, opUpsert, func(vs []*shoalv1.Vector) proto.Message {
			return &shoalv1.UpsertRequest{Vectors: vs, Tenant: req.GetTenant()}
		})
	if err != nil {
		return nil, err
	}
	return &shoalv1.UpsertResponse{Upserted: n}, nil
}

// Delete appends the deletes to the shards' logs. Its response counts the
// ids logged: whether each held a vector is known only as the replicas
// apply the log.
func (a vectorsAPI) Delete(ctx context.Context, req *shoalv1.DeleteRequest) (*shoalv1.DeleteResponse, error) {
	r, _, err := a.writable(ctx, req.GetCollection(), req.GetTenant(), len(req.GetIds()))
	if err != nil {
		return nil, err
	}
	ids := req.GetIds()
	byShard := groupIDs(ids, r.Shards)
	var ops []shardOp
	for s, ids := range byShard {
		ops = append(ops, shardOp{shard: s, msgs: []proto.Message{&shoalv1.DeleteRequest{Ids: ids, Tenant: req.GetTenant()}}})
	}
	if _, err := a.n.publish(ctx, r, opDelete, ops); err != nil {
		return nil, err
	}
	return &shoalv1.DeleteResponse{Deleted: uint64(len(ids))}, nil
}

func (a vectorsAPI) SetLabels(ctx context.Context, req *shoalv1.SetLabelsRequest) (*shoalv1.SetLabelsResponse, error) {
	n, err := logItems(a, ctx, req.GetCollection(), req.GetTenant(), req.GetVectors(), (*shoalv1.LabelSet).GetId, nil,
		opLabels, func(vs []*shoalv1.LabelSet) proto.Message {
			return &shoalv1.SetLabelsRequest{Vectors: vs, Tenant: req.GetTenant()}
		})
	if err != nil {
		return nil, err
	}
	return &shoalv1.SetLabelsResponse{Updated: n}, nil
}

func (a vectorsAPI) SetPayloads(ctx context.Context, req *shoalv1.SetPayloadsRequest) (*shoalv1.SetPayloadsResponse, error) {
	n, err := logItems(a, ctx, req.GetCollection(), req.GetTenant(), req.GetVectors(), (*shoalv1.PayloadSet).GetId,
		func(v *shoalv1.PayloadSet, _ *shoalv1.CollectionConfig) error {
			return a.checkPayload(v.GetId(), v.GetPayload())
		},
		opPayloads, func(vs []*shoalv1.PayloadSet) proto.Message {
			return &shoalv1.SetPayloadsRequest{Vectors: vs, Tenant: req.GetTenant()}
		})
	if err != nil {
		return nil, err
	}
	return &shoalv1.SetPayloadsResponse{Updated: n}, nil
}

// readable resolves a read's collection.
func (a vectorsAPI) readable(ctx context.Context, coll, tenant string) (collRecord, *shoalv1.CollectionConfig, error) {
	r, cfg, err := a.n.collection(ctx, coll)
	if err == nil && tenant != "" {
		err = a.n.checkTenant(ctx, r, tenant)
	}
	return r, cfg, err
}

// local serves a replica call from this node's copy.
func (a vectorsAPI) local(ctx context.Context, coll string) (shoalv1.VectorServiceClient, context.Context, error) {
	if _, err := a.n.servingReplica(ctx, coll); err != nil {
		return nil, nil, err
	}
	return shoalv1.NewVectorServiceClient(a.n.localConn), a.n.localCtx(ctx), nil
}

func (a vectorsAPI) Get(ctx context.Context, req *shoalv1.GetRequest) (*shoalv1.GetResponse, error) {
	if isReplicaCall(ctx) {
		vc, lctx, err := a.local(ctx, req.GetCollection())
		if err != nil {
			return nil, err
		}
		return vc.Get(lctx, req)
	}
	r, _, err := a.readable(ctx, req.GetCollection(), req.GetTenant())
	if err != nil {
		return nil, err
	}
	if len(req.GetIds()) > a.n.maxBatch() {
		return nil, status.Errorf(codes.ResourceExhausted, "%d ids, above the max batch %d", len(req.GetIds()), a.n.maxBatch())
	}
	byShard := groupIDs(req.GetIds(), r.Shards)
	shards := make([]int, 0, len(byShard))
	for s := range byShard {
		shards = append(shards, s)
	}
	res, err := a.n.fanout(ctx, r, shards, func(ctx context.Context, p peerClients, local string) (any, error) {
		s, _ := shardOfLocal(local)
		return p.vec.Get(ctx, &shoalv1.GetRequest{Collection: local, Ids: byShard[s], Tenant: req.GetTenant()})
	})
	if err != nil {
		return nil, err
	}
	found := make(map[uint64]*shoalv1.Vector)
	for _, v := range res {
		for _, vec := range v.(*shoalv1.GetResponse).GetVectors() {
			found[vec.GetId()] = vec
		}
	}
	out := &shoalv1.GetResponse{}
	for _, id := range req.GetIds() {
		if v, ok := found[id]; ok {
			out.Vectors = append(out.Vectors, v)
		} else if _, answered := res[shardOf(id, r.Shards)]; answered {
			out.Missing = append(out.Missing, id)
		}
	}
	return out, nil
}

// shardOfLocal is the shard number of a local name.
func shardOfLocal(local string) (int, bool) {
	_, s, ok := parseShardName(local)
	return s, ok
}

func allShards(r collRecord) []int {
	all := make([]int, r.Shards)
	for i := range all {
		all[i] = i
	}
	return all
}

// mergeHits merges shards' nearest-first hit lists into the k nearest,
// ties broken by id so that every router merges alike.
func mergeHits(lists [][]*shoalv1.Hit, k int) []*shoalv1.Hit {
	var all []*shoalv1.Hit
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortFunc(all, func(x, y *shoalv1.Hit) int {
		if c := cmp.Compare(x.GetDistance(), y.GetDistance()); c != 0 {
			return c
		}
		return cmp.Compare(x.GetId(), y.GetId())
	})
	return all[:min(k, len(all))]
}

func (a vectorsAPI) Search(ctx context.Context, req *shoalv1.SearchRequest) (*shoalv1.SearchResponse, error) {
	if isReplicaCall(ctx) {
		vc, lctx, err := a.local(ctx, req.GetCollection())
		if err != nil {
			return nil, err
		}
		return vc.Search(lctx, req)
	}
	r, cfg, err := a.readable(ctx, req.GetCollection(), req.GetTenant())
	if err != nil {
		return nil, err
	}
	if err := server.CheckVector("query", req.GetQuery(), int(cfg.GetDim())); err != nil {
		return nil, err
	}
	res, err := a.n.fanout(ctx, r, allShards(r), func(ctx context.Context, p peerClients, local string) (any, error) {
		sub := proto.Clone(req).(*shoalv1.SearchRequest)
		sub.Collection = local
		return p.vec.Search(ctx, sub)
	})
	if err != nil {
		return nil, err
	}
	var lists [][]*shoalv1.Hit
	for _, v := range res {
		lists = append(lists, v.(*shoalv1.SearchResponse).GetHits())
	}
	return &shoalv1.SearchResponse{Hits: mergeHits(lists, int(req.GetTopK()))}, nil
}

func (a vectorsAPI) SearchBatch(ctx context.Context, req *shoalv1.SearchBatchRequest) (*shoalv1.SearchBatchResponse, error) {
	if isReplicaCall(ctx) {
		vc, lctx, err := a.local(ctx, req.GetCollection())
		if err != nil {
			return nil, err
		}
		return vc.SearchBatch(lctx, req)
	}
	r, cfg, err := a.readable(ctx, req.GetCollection(), req.GetTenant())
	if err != nil {
		return nil, err
	}
	for i, q := range req.GetQueries() {
		if err := server.CheckVector("query "+strconv.Itoa(i), q.GetValues(), int(cfg.GetDim())); err != nil {
			return nil, err
		}
	}
	tmpl := withoutQueries(req)
	res, err := a.n.fanout(ctx, r, allShards(r), func(ctx context.Context, p peerClients, local string) (any, error) {
		sub := proto.Clone(tmpl).(*shoalv1.SearchBatchRequest)
		sub.Collection, sub.Queries = local, req.Queries // shared: the call only marshals them
		return p.vec.SearchBatch(ctx, sub)
	})
	if err != nil {
		return nil, err
	}
	out := &shoalv1.SearchBatchResponse{Results: make([]*shoalv1.SearchResponse, len(req.GetQueries()))}
	for i := range out.Results {
		var lists [][]*shoalv1.Hit
		for _, v := range res {
			if rs := v.(*shoalv1.SearchBatchResponse).GetResults(); i < len(rs) {
				lists = append(lists, rs[i].GetHits())
			}
		}
		out.Results[i] = &shoalv1.SearchResponse{Hits: mergeHits(lists, int(req.GetTopK()))}
	}
	return out, nil
}

// withoutQueries is a copy of req with no queries, to address its
// parts without copying every query.
func withoutQueries(req *shoalv1.SearchBatchRequest) *shoalv1.SearchBatchRequest {
	qs := req.Queries
	req.Queries = nil
	tmpl := proto.Clone(req).(*shoalv1.SearchBatchRequest)
	req.Queries = qs
	return tmpl
}

// searchStreamChunk is how many queries of a SearchBatchStream the
// router fans out at a time.
const searchStreamChunk = 256

// SearchBatchStream answers a SearchBatch in a stream: the queries are
// searched searchStreamChunk at a time, as SearchBatch does, and the
// results sent in order (server.ResultPacker).
func (a vectorsAPI) SearchBatchStream(req *shoalv1.SearchBatchRequest, st grpc.ServerStreamingServer[shoalv1.SearchBatchResponse]) error {
	if isReplicaCall(st.Context()) {
		return status.Error(codes.Unimplemented, "replica calls use SearchBatch")
	}
	qs, tmpl := req.GetQueries(), withoutQueries(req)
	pk := server.NewResultPacker(a.n.opts.Server.MaxResponseBytes, st.Send)
	for lo := 0; ; lo += searchStreamChunk {
		sub := proto.Clone(tmpl).(*shoalv1.SearchBatchRequest)
		sub.Queries = qs[lo:min(lo+searchStreamChunk, len(qs))]
		resp, err := a.SearchBatch(st.Context(), sub)
		if err != nil {
			if lo > 0 {
				return status.Errorf(status.Code(err), "after %d queries: %s", lo, status.Convert(err).Message())
			}
			return err
		}
		if err := pk.Add(lo, resp.GetResults()); err != nil {
			return err
		}
		if lo+searchStreamChunk >= len(qs) {
			return pk.Flush()
		}
	}
}

// UpsertStream takes upserts as a stream, each message handled as an
// Upsert, and answers with how many vectors were upserted. A message
// that fails ends the stream with its error; the messages before it
// stand.
func (a vectorsAPI) UpsertStream(st grpc.ClientStreamingServer[shoalv1.UpsertRequest, shoalv1.UpsertResponse]) error {
	var total uint64
	for {
		req, err := st.Recv()
		if err == io.EOF {
			return st.SendAndClose(&shoalv1.UpsertResponse{Upserted: total})
		}
		if err != nil {
			return err
		}
		resp, err := a.Upsert(st.Context(), req)
		if err != nil {
			return status.Errorf(status.Code(err), "after %d vectors: %s", total, status.Convert(err).Message())
		}
		total += resp.GetUpserted()
	}
}
