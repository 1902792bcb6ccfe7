package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// collectionsAPI is the cluster's CollectionService: collections live in
// the metadata bucket, their shards' logs in JetStream streams.
type collectionsAPI struct {
	shoalv1.UnimplementedCollectionServiceServer
	n *Node
}

// collNameRe is what cluster collection names may be (maxCollName).
var collNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,55}$`)

// streamMaxBytes is a shard stream's size limit: none; the log is purged
// behind snapshots (snapshot.go), never by JetStream's limits, which
// would drop operations no snapshot holds.
const streamMaxBytes = -1

func (a collectionsAPI) CreateCollection(ctx context.Context, req *shoalv1.CreateCollectionRequest) (*shoalv1.Collection, error) {
	n := a.n
	if !collNameRe.MatchString(req.GetName()) {
		return nil, status.Errorf(codes.InvalidArgument, "collection name %q: want 1..%d characters of [A-Za-z0-9_-], starting with a letter or digit", clip(req.GetName()), maxCollName)
	}
	cfg := req.GetConfig()
	if cfg == nil {
		return nil, status.Error(codes.InvalidArgument, "config is required (at least config.dim)")
	}
	live := n.liveIDs()
	if len(live) == 0 {
		return nil, status.Error(codes.Unavailable, "no live node")
	}
	shards, repl := int(cfg.GetShards()), int(cfg.GetReplication())
	if shards == 0 {
		shards = len(live)
	}
	if repl == 0 {
		repl = min(3, len(live))
	}
	switch {
	case shards > maxShards:
		return nil, status.Errorf(codes.InvalidArgument, "config.shards %d, want at most %d", shards, maxShards)
	case repl > len(live):
		return nil, status.Errorf(codes.FailedPrecondition, "config.replication %d: only %d nodes are live", repl, len(live))
	}
	// Checked as every replica's server will check it.
	if err := server.CheckCollectionConfig(cfg); err != nil {
		return nil, err
	}
	stored := proto.Clone(cfg).(*shoalv1.CollectionConfig)
	stored.Shards, stored.Replication = uint32(shards), uint32(repl)
	cj, err := protojson.Marshal(stored)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "config: %v", err)
	}
	inc := make([]byte, 4)
	rand.Read(inc)
	rec := collRecord{Name: req.GetName(), Config: cj, cfg: stored, Shards: shards, Placement: place(live, shards, repl),
		Incarnation: hex.EncodeToString(inc), CreatedUnixMs: time.Now().UnixMilli()}
	if _, err := n.meta.getColl(ctx, rec.Name); err == nil {
		return nil, status.Errorf(codes.AlreadyExists, "collection %s exists", rec.Name)
	}
	for s := 0; s < shards; s++ {
		_, err := n.js.CreateStream(ctx, jetstream.StreamConfig{
			Name: streamName(rec, s), Subjects: []string{subject(rec, s)},
			Replicas: n.opts.StreamReplicas, Storage: jetstream.FileStorage,
			Duplicates: 2 * time.Minute, MaxBytes: streamMaxBytes,
		})
		if err != nil {
			n.deleteStreams(rec)
			return nil, status.Errorf(codes.Unavailable, "creating the log of shard %d: %v", s, err)
		}
	}
	rev, err := n.meta.createColl(ctx, rec)
	if err != nil {
		n.deleteStreams(rec)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, status.Errorf(codes.AlreadyExists, "collection %s exists", rec.Name)
		}
		return nil, status.Errorf(codes.Unavailable, "recording the collection: %v", err)
	}
	rec.rev = rev
	n.mu.Lock()
	if cur, ok := n.mu.colls[rec.Name]; !ok || cur.rev < rec.rev {
		// (The watch may have brought it, or a later revision, first.)
		n.mu.colls[rec.Name] = rec
	}
	n.mu.Unlock()
	return describe(rec, stored, 0), nil
}

// deleteStreams removes r's shard streams and their snapshots (best
// effort, logged).
func (n *Node) deleteStreams(r collRecord) {
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	for s := 0; s < r.Shards; s++ {
		if err := n.js.DeleteStream(ctx, streamName(r, s)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			n.log.Warn("deleting a shard's log", "stream", streamName(r, s), "err", err)
		}
		n.deleteSnapshots(ctx, streamName(r, s), math.MaxUint64)
	}
}

func describe(r collRecord, cfg *shoalv1.CollectionConfig, count uint64) *shoalv1.Collection {
	return &shoalv1.Collection{Name: r.Name, Config: cfg, VectorCount: count, CreatedUnixMs: r.CreatedUnixMs}
}

// collection returns the record of a cluster collection.
func (n *Node) collection(ctx context.Context, name string) (collRecord, *shoalv1.CollectionConfig, error) {
	n.mu.Lock()
	r, ok := n.mu.colls[name]
	n.mu.Unlock()
	if !ok {
		var err error
		r, err = n.meta.getColl(ctx, name)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return r, nil, status.Errorf(codes.NotFound, "collection %s not found", clip(name))
		case err != nil:
			return r, nil, status.Errorf(codes.Unavailable, "reading the collection's record: %v", err)
		}
	}
	return r, r.cfg, nil
}

func (a collectionsAPI) DescribeCollection(ctx context.Context, req *shoalv1.DescribeCollectionRequest) (*shoalv1.Collection, error) {
	n := a.n
	if isReplicaCall(ctx) {
		return n.localDescribe(ctx, req)
	}
	r, cfg, err := n.collection(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	count, err := n.count(ctx, r)
	if err != nil {
		return nil, err
	}
	return describe(r, cfg, count), nil
}

// count sums the vectors of one replica of every shard.
func (n *Node) count(ctx context.Context, r collRecord) (uint64, error) {
	res, err := n.fanout(ctx, r, allShards(r), func(ctx context.Context, p peerClients, local string) (any, error) {
		return p.coll.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: local})
	})
	if err != nil {
		return 0, err
	}
	var total uint64
	for _, v := range res {
		total += v.(*shoalv1.Collection).GetVectorCount()
	}
	return total, nil
}

func (a collectionsAPI) ListCollections(ctx context.Context, req *shoalv1.ListCollectionsRequest) (*shoalv1.ListCollectionsResponse, error) {
	n := a.n
	keys, err := n.meta.coll.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return &shoalv1.ListCollectionsResponse{}, nil
		}
		return nil, status.Errorf(codes.Unavailable, "listing collections: %v", err)
	}
	var names []string
	for k := range keys.Keys() {
		if name, ok := strings.CutPrefix(k, collPrefix); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := &shoalv1.ListCollectionsResponse{}
	for _, name := range names {
		r, cfg, err := n.collection(ctx, name)
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		count, err := n.count(ctx, r)
		if err != nil {
			return nil, err
		}
		out.Collections = append(out.Collections, describe(r, cfg, count))
	}
	return out, nil
}

func (a collectionsAPI) DropCollection(ctx context.Context, req *shoalv1.DropCollectionRequest) (*shoalv1.DropCollectionResponse, error) {
	n := a.n
	r, _, err := n.collection(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if err := n.meta.coll.Delete(ctx, collPrefix+r.Name); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, status.Errorf(codes.Unavailable, "removing the collection's record: %v", err)
	}
	n.deleteStreams(r)
	return &shoalv1.DropCollectionResponse{}, nil
}

// clip shortens a name quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%.80s…", s)
	}
	return s
}
