package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// Options configure a Node.
type Options struct {
	// ID names the node in the cluster: 1..64 characters of
	// [A-Za-z0-9_-]. Required; keep it across restarts (the node's
	// replicas are placed by it).
	ID string
	// DataDir holds the node's local server (its replicas of shards) and
	// their applied sequences. Required.
	DataDir string
	// NATSURLs is the NATS servers, comma-separated (nats://host:port).
	// Required.
	NATSURLs string
	// Advertise is the address peers and clients dial to reach this
	// node's listener. Default: the listener's address.
	Advertise string
	// AdminKey is the key every caller presents ("authorization: Bearer
	// <key>"), peers included; empty turns authentication off (loopback
	// clusters only). Tenant keys are not part of cluster mode yet.
	AdminKey string
	// StreamReplicas is the JetStream replica count of every shard's
	// stream and of the metadata buckets: how many NATS servers persist a
	// write before it is acknowledged (a quorum of them). Default 3; it
	// may not exceed the NATS servers of the cluster.
	StreamReplicas int
	// Lease is how long a node counts as live after its last heartbeat;
	// it beats every Lease/4. Default 4 s.
	Lease time.Duration
	// HedgeAfter is how long a search waits on a shard's replica before
	// asking the next one too. Default 100 ms.
	HedgeAfter time.Duration
	// SnapshotBytes is how many bytes a shard's log may hold after the
	// shard's newest snapshot before a new one is taken and the log is
	// purged behind it (snapshot.go); the threshold is at least a
	// quarter of the newest snapshot's size. Default 64 MiB; negative:
	// never (the log grows without bound).
	SnapshotBytes int64
	// CompactEvery is how often a node checks the logs of the shards it
	// compacts. Default 30 s.
	CompactEvery time.Duration
	// BalanceEvery is how often the balancer (the live node of lowest
	// id) takes a step of moving replicas onto nodes that hold fewer
	// (balance.go). Default 2 s; negative: never.
	BalanceEvery time.Duration
	// Server configures the local server (cache, limits); its DataDir
	// and AdminKey are set by the node.
	Server server.Options
	// Logger receives the node's logs; default slog.Default().
	Logger *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.StreamReplicas == 0 {
		o.StreamReplicas = 3
	}
	if o.Lease == 0 {
		o.Lease = 4 * time.Second
	}
	if o.HedgeAfter == 0 {
		o.HedgeAfter = 100 * time.Millisecond
	}
	if o.SnapshotBytes == 0 {
		o.SnapshotBytes = 64 << 20
	}
	if o.CompactEvery == 0 {
		o.CompactEvery = 30 * time.Second
	}
	if o.BalanceEvery == 0 {
		o.BalanceEvery = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *Options) validate() error {
	switch {
	case !idRe.MatchString(o.ID):
		return fmt.Errorf("fleet: node id %q: want 1..64 characters of [A-Za-z0-9_-]", o.ID)
	case o.DataDir == "":
		return errors.New("fleet: DataDir is empty")
	case o.NATSURLs == "":
		return errors.New("fleet: NATSURLs is empty")
	case o.StreamReplicas < 1 || o.StreamReplicas > 5:
		return fmt.Errorf("fleet: StreamReplicas %d, want 1..5", o.StreamReplicas)
	case o.Lease < 100*time.Millisecond:
		return fmt.Errorf("fleet: Lease %v, want >= 100ms", o.Lease)
	case o.CompactEvery < 10*time.Millisecond:
		return fmt.Errorf("fleet: CompactEvery %v, want >= 10ms", o.CompactEvery)
	case o.BalanceEvery >= 0 && o.BalanceEvery < 10*time.Millisecond:
		return fmt.Errorf("fleet: BalanceEvery %v, want >= 10ms (or negative: never)", o.BalanceEvery)
	}
	return nil
}

// Node is one Shoal node of a cluster. It serves the shoal.v1 collection
// and vector API on its listener for the whole cluster (router.go), keeps
// its replicas of shards equal to their logs (apply.go), and renews its
// membership lease. Its methods may be called from several goroutines.
type Node struct {
	opts  Options
	log   *slog.Logger
	addr  string
	local *server.Server
	// localConn reaches the local server on a loopback port, with
	// localKey, a random admin key of the node's own.
	localConn *grpc.ClientConn
	localKey  string
	localLis  net.Listener
	// snapDir is the local server's snapshot directory, where shard
	// snapshots are written and read on their way to and from the
	// object store.
	snapDir   string
	nc        *nats.Conn
	js        jetstream.JetStream
	meta      *meta
	grpc      *grpc.Server
	lis       net.Listener
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	startedMs int64
	// membersSeen is closed once the membership watch has delivered
	// the records there were when it started; Open waits for it.
	membersSeen     chan struct{}
	membersSeenOnce sync.Once
	// adoptMu serialises adopt and forget: a replica is started and
	// dropped by one of them at a time.
	adoptMu sync.Mutex

	mu struct {
		sync.Mutex
		colls    map[string]collRecord       // by name, from the metadata watch
		nodes    map[string]nodeSeen         // by id, from the membership watch
		replicas map[string]*replica         // by local name
		peers    map[string]*grpc.ClientConn // by address
		synced   bool                        // the watch delivered the initial records
		closed   bool
	}
}

// Open starts a node: it opens the local server over DataDir, connects to
// NATS, creates the metadata buckets if missing, joins the membership,
// starts replicas of the shards placed on it, and serves on lis (which
// Close closes).
func Open(o Options, lis net.Listener) (*Node, error) {
	o.ensureDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	n := &Node{opts: o, log: o.Logger.With("node", o.ID), lis: lis, startedMs: time.Now().UnixMilli(), membersSeen: make(chan struct{})}
	n.addr = o.Advertise
	if n.addr == "" {
		n.addr = lis.Addr().String()
	}
	n.mu.colls = make(map[string]collRecord)
	n.mu.nodes = make(map[string]nodeSeen)
	n.mu.replicas = make(map[string]*replica)
	n.mu.peers = make(map[string]*grpc.ClientConn)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.openLocal(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.connect(); err != nil {
		n.Close()
		return nil, err
	}
	maxMsg := o.Server.MaxRecvMsgBytes
	if maxMsg == 0 {
		maxMsg = server.DefaultMaxRecvMsgBytes
	}
	n.grpc = grpc.NewServer(grpc.MaxRecvMsgSize(maxMsg), grpc.MaxSendMsgSize(1<<30),
		grpc.ChainUnaryInterceptor(n.authUnary), grpc.ChainStreamInterceptor(n.authStream))
	shoalv1.RegisterCollectionServiceServer(n.grpc, collectionsAPI{n: n})
	shoalv1.RegisterVectorServiceServer(n.grpc, vectorsAPI{n: n})
	shoalv1.RegisterTenantServiceServer(n.grpc, tenantsAPI{n: n})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(n.grpc, hs)
	n.wg.Add(5)
	if o.BalanceEvery > 0 {
		n.wg.Add(1)
		go n.every(o.BalanceEvery, n.balanceStep)
	}
	go n.every(o.CompactEvery, n.compactAll)
	go n.every(o.Lease/4, n.heartbeat)
	go n.every(flushEvery, n.flush)
	go n.follow("membership", n.watchMembers)
	go n.follow("metadata", n.watch)
	select {
	case <-n.membersSeen:
	case <-time.After(10 * time.Second):
		n.log.Warn("membership not read within 10s; serving anyway")
	}
	go n.grpc.Serve(lis)
	return n, nil
}

// Addr is the address the node advertises.
func (n *Node) Addr() string { return n.addr }

func (n *Node) openLocal() error {
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	n.localKey = hex.EncodeToString(key)
	so := n.opts.Server
	so.DataDir = filepath.Join(n.opts.DataDir, "local")
	so.AdminKey = n.localKey
	if so.SnapshotDir == "" {
		so.SnapshotDir = filepath.Join(so.DataDir, "snapshots")
	}
	n.snapDir = so.SnapshotDir
	if so.Logger == nil {
		so.Logger = n.log
	}
	if err := os.MkdirAll(filepath.Join(n.opts.DataDir, "applied"), 0o755); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	s, err := server.Open(&so)
	if err != nil {
		return err
	}
	n.local = s
	n.cleanSnapDir()
	if n.localLis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return fmt.Errorf("fleet: local listener: %w", err)
	}
	go s.Serve(n.localLis)
	n.localConn, err = grpc.NewClient(n.localLis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(1<<30)))
	return err
}

func (n *Node) connect() error {
	nc, err := nats.Connect(n.opts.NATSURLs, nats.Name("shoal-"+n.opts.ID), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return fmt.Errorf("fleet: connect to NATS %s: %w", n.opts.NATSURLs, err)
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("fleet: JetStream: %w", err)
	}
	// A cluster that has just started elects its JetStream leader first:
	// retry the buckets for a while.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		n.meta, err = openMeta(ctx, n.js, n.opts.StreamReplicas, n.opts.Lease)
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	return n.beat()
}

// localCtx is ctx with the local server's key.
func (n *Node) localCtx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+n.localKey)
}

// peerCtx is ctx with the cluster's admin key, for calls to peers.
func (n *Node) peerCtx(ctx context.Context) context.Context {
	if n.opts.AdminKey == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+n.opts.AdminKey)
}

// peer returns a connection to the node at addr.
func (n *Node) peer(addr string) (*grpc.ClientConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c := n.mu.peers[addr]; c != nil {
		return c, nil
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(1<<30)))
	if err != nil {
		return nil, err
	}
	n.mu.peers[addr] = c
	return c, nil
}

// beat renews the node's lease.
func (n *Node) beat() error {
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.Lease)
	defer cancel()
	rec := nodeRecord{ID: n.opts.ID, Addr: n.addr, StartedUnixMs: n.startedMs, Applied: map[string]uint64{}}
	for _, r := range n.replicaList() {
		stream := streamName(r.rec, r.shard)
		if r.broken.Load() == nil {
			rec.Applied[stream] = r.applied.Load()
		}
		if !r.serving() {
			rec.NotServing = append(rec.NotServing, stream)
		}
	}
	if err := n.meta.heartbeat(ctx, rec); err != nil {
		return fmt.Errorf("fleet: heartbeat: %w", err)
	}
	return nil
}

// nodeSeen is a node's last membership record and when it was put.
type nodeSeen struct {
	rec nodeRecord
	at  time.Time
}

// live returns the live nodes: those whose record was put within the
// lease.
func (n *Node) live() map[string]nodeRecord {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]nodeRecord, len(n.mu.nodes))
	for id, s := range n.mu.nodes {
		if n.isLive(s) {
			out[id] = s.rec
		}
	}
	return out
}

// isLive reports whether a node's last record is within the lease.
func (n *Node) isLive(s nodeSeen) bool { return time.Since(s.at) <= n.opts.Lease }

// follow runs watch again, after a pause, whenever it fails, until the
// node closes; what names it in the log.
func (n *Node) follow(what string, watch func() error) {
	defer n.wg.Done()
	for n.ctx.Err() == nil {
		err := watch()
		if n.ctx.Err() != nil {
			return
		}
		n.log.Warn(what+" watch restarts", "err", err)
		select {
		case <-time.After(500 * time.Millisecond):
		case <-n.ctx.Done():
			return
		}
	}
}

// watchMembers follows the nodes bucket. A watch reads the bucket's
// stream in order from its leader, so every put is seen, where listing
// and reading keys may be answered by a lagging follower.
func (n *Node) watchMembers() error {
	w, err := n.meta.nodes.WatchAll(n.ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil {
				n.membersSeenOnce.Do(func() { close(n.membersSeen) })
				continue
			}
			n.mu.Lock()
			if e.Operation() != jetstream.KeyValuePut {
				delete(n.mu.nodes, e.Key())
			} else {
				var r nodeRecord
				if json.Unmarshal(e.Value(), &r) == nil && r.ID == e.Key() {
					n.mu.nodes[r.ID] = nodeSeen{r, e.Created()}
				}
			}
			n.mu.Unlock()
		}
	}
}

// every runs f every d until the node closes (the caller added to n.wg).
func (n *Node) every(d time.Duration, f func()) {
	defer n.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// heartbeat renews the lease, logging a failure.
func (n *Node) heartbeat() {
	if err := n.beat(); err != nil && n.ctx.Err() == nil {
		n.log.Warn("heartbeat failed", "err", err)
	}
}

// flushEvery is how often applied sequences are recorded.
const flushEvery = 200 * time.Millisecond

// flush records the replicas' applied sequences (every flushEvery).
func (n *Node) flush() {
	for _, r := range n.replicaList() {
		// A flush may race a replica's stop; save is idempotent.
		if err := r.record(); err != nil {
			n.log.Warn("recording applied sequence", "err", err)
		}
	}
}

// watch follows the collection bucket, opening and dropping replicas.
func (n *Node) watch() error {
	w, err := n.meta.coll.WatchAll(n.ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	seen := make(map[string]collRecord)
	initial := true
	for {
		select {
		case <-n.ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil {
				if initial {
					initial = false
					n.dropOrphans(seen)
					n.mu.Lock()
					n.mu.synced = true
					n.mu.Unlock()
				}
				continue
			}
			name := strings.TrimPrefix(e.Key(), collPrefix)
			if e.Operation() != jetstream.KeyValuePut {
				n.forget(name)
				continue
			}
			r, err := decodeColl(e.Value())
			if err != nil {
				n.log.Error("bad collection record", "key", e.Key(), "err", err)
				continue
			}
			r.rev = e.Revision()
			seen[name] = r
			if err := n.adopt(r); err != nil {
				n.log.Error("opening replicas", "collection", name, "err", err)
				n.wg.Add(1)
				go n.retryAdopt(r)
			}
		}
	}
}

// adopt records a collection and starts this node's replicas of it.
func (n *Node) adopt(r collRecord) error {
	n.adoptMu.Lock()
	defer n.adoptMu.Unlock()
	n.mu.Lock()
	if old, ok := n.mu.colls[r.Name]; ok && old.Incarnation != r.Incarnation {
		n.mu.Unlock()
		n.forgetLocked(r.Name)
		n.mu.Lock()
	}
	n.mu.colls[r.Name] = r
	// Replicas of shards no longer placed here (moved off by the
	// balancer) stop and are dropped.
	var gone []*replica
	for local, rep := range n.mu.replicas {
		if rep.rec.Name == r.Name && !slices.Contains(r.Placement[rep.shard], n.opts.ID) {
			gone = append(gone, rep)
			delete(n.mu.replicas, local)
		}
	}
	n.mu.Unlock()
	n.dropReplicas(gone)
	var errs []error
	for s, nodes := range r.Placement {
		for _, id := range nodes {
			if id == n.opts.ID {
				errs = append(errs, n.startReplica(r, s))
			}
		}
	}
	return errors.Join(errs...)
}

// retryAdopt starts r's replicas again until they start, the node
// closes, or r is no longer the collection of its name.
func (n *Node) retryAdopt(r collRecord) {
	defer n.wg.Done()
	backoff := 500 * time.Millisecond
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(backoff):
		}
		n.mu.Lock()
		cur, ok := n.mu.colls[r.Name]
		n.mu.Unlock()
		if !ok || cur.Incarnation != r.Incarnation {
			return
		}
		err := n.adopt(r)
		if err == nil {
			return
		}
		n.log.Error("opening replicas", "collection", r.Name, "err", err)
		backoff = min(2*backoff, 10*time.Second)
	}
}

// startReplica opens (or creates) the local collection of shard s and
// starts its apply loop.
func (n *Node) startReplica(r collRecord, s int) error {
	rep := newReplica(filepath.Join(n.opts.DataDir, "applied"), r, s)
	rep.log = n.log
	n.mu.Lock()
	if _, ok := n.mu.replicas[rep.local]; ok || n.mu.closed {
		n.mu.Unlock()
		return nil
	}
	n.mu.Unlock()
	fresh, err := rep.load()
	if err != nil {
		return err
	}
	cfg := proto.Clone(r.cfg).(*shoalv1.CollectionConfig)
	cfg.Shards, cfg.Replication = 0, 0 // a replica is one copy of one shard
	cc := shoalv1.NewCollectionServiceClient(n.localConn)
	ctx := n.localCtx(n.ctx)
	if fresh {
		// Another incarnation's data, or a copy whose record was lost:
		// start over from the log.
		if _, err := cc.DropCollection(ctx, &shoalv1.DropCollectionRequest{Name: rep.local}); err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("fleet: dropping stale %s: %w", rep.local, err)
		}
		if err := rep.reset(); err != nil {
			return err
		}
	}
	if _, err := cc.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: rep.local, Config: cfg}); err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("fleet: creating %s: %w", rep.local, err)
	}
	if !fresh {
		rep.ready.Store(true)
	} else if st, err := n.js.Stream(ctx, streamName(r, s)); err == nil && st.CachedInfo().State.LastSeq == 0 {
		rep.ready.Store(true) // an empty log: nothing to catch up on
	}
	rctx, cancel := context.WithCancel(n.ctx)
	rep.cancel, rep.done = cancel, make(chan struct{})
	n.mu.Lock()
	if n.mu.closed {
		n.mu.Unlock()
		cancel()
		return nil
	}
	n.mu.replicas[rep.local] = rep
	n.mu.Unlock()
	go rep.run(rctx, n.js, n.applyLocal, n.bootstrap)
	n.log.Info("replica started", "replica", rep.local, "applied", rep.applied.Load())
	return nil
}

// forget stops and drops this node's replicas of a dropped collection.
func (n *Node) forget(name string) {
	n.adoptMu.Lock()
	defer n.adoptMu.Unlock()
	n.forgetLocked(name)
}

// forgetLocked is forget with n.adoptMu held.
func (n *Node) forgetLocked(name string) {
	n.mu.Lock()
	delete(n.mu.colls, name)
	var rs []*replica
	for local, r := range n.mu.replicas {
		if r.rec.Name == name {
			rs = append(rs, r)
			delete(n.mu.replicas, local)
		}
	}
	n.mu.Unlock()
	n.dropReplicas(rs)
}

// dropReplicas stops replicas and drops their local collections and
// applied records.
func (n *Node) dropReplicas(rs []*replica) {
	cc := shoalv1.NewCollectionServiceClient(n.localConn)
	for _, r := range rs {
		n.log.Info("replica dropped", "replica", r.local)
		r.cancel()
		<-r.done
		if _, err := cc.DropCollection(n.localCtx(n.ctx), &shoalv1.DropCollectionRequest{Name: r.local}); err != nil && status.Code(err) != codes.NotFound {
			n.log.Warn("dropping replica", "replica", r.local, "err", err)
		}
		r.mu.Lock()
		r.dropped = true
		r.mu.Unlock()
		r.reset()
	}
}

// dropOrphans drops local shard collections of collections the cluster
// no longer has (dropped while this node was down), and of shards no
// longer placed on this node (moved off while it was down).
func (n *Node) dropOrphans(known map[string]collRecord) {
	cc := shoalv1.NewCollectionServiceClient(n.localConn)
	resp, err := cc.ListCollections(n.localCtx(n.ctx), &shoalv1.ListCollectionsRequest{})
	if err != nil {
		n.log.Warn("listing local collections", "err", err)
		return
	}
	for _, c := range resp.Collections {
		coll, shard, ok := parseShardName(c.Name)
		if !ok {
			continue
		}
		if r, ok := known[coll]; ok && shard < r.Shards && slices.Contains(r.Placement[shard], n.opts.ID) {
			continue
		}
		n.log.Info("dropping a replica the cluster no longer places here", "replica", c.Name)
		if _, err := cc.DropCollection(n.localCtx(n.ctx), &shoalv1.DropCollectionRequest{Name: c.Name}); err != nil {
			n.log.Warn("dropping replica", "replica", c.Name, "err", err)
		}
		os.Remove(filepath.Join(n.opts.DataDir, "applied", c.Name+".json"))
	}
}

// applyLocal applies one logged operation to the local collection.
func (n *Node) applyLocal(ctx context.Context, op, local string, data []byte) error {
	m, err := decodeOp(op, local, data)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "undecodable operation: %v", err)
	}
	vc := shoalv1.NewVectorServiceClient(n.localConn)
	tc := shoalv1.NewTenantServiceClient(n.localConn)
	ctx = n.localCtx(ctx)
	switch req := m.(type) {
	case *shoalv1.UpsertRequest:
		_, err = vc.Upsert(ctx, req)
	case *shoalv1.DeleteRequest:
		_, err = vc.Delete(ctx, req)
	case *shoalv1.SetLabelsRequest:
		_, err = vc.SetLabels(ctx, req)
	case *shoalv1.SetPayloadsRequest:
		_, err = vc.SetPayloads(ctx, req)
	case *shoalv1.CreateTenantRequest:
		_, err = tc.CreateTenant(ctx, req)
	case *shoalv1.DeleteTenantRequest:
		_, err = tc.DeleteTenant(ctx, req)
	case *shoalv1.GrantRequest:
		_, err = tc.Grant(ctx, req)
	case *shoalv1.RevokeRequest:
		_, err = tc.Revoke(ctx, req)
	}
	return err
}

// replicaList returns this node's replicas.
func (n *Node) replicaList() []*replica {
	n.mu.Lock()
	defer n.mu.Unlock()
	rs := make([]*replica, 0, len(n.mu.replicas))
	for _, r := range n.mu.replicas {
		rs = append(rs, r)
	}
	return rs
}

// replicaOf returns this node's replica by local name, or nil.
func (n *Node) replicaOf(local string) *replica {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.replicas[local]
}

// Close stops serving, stops the replicas (recording how far each has
// applied), leaves NATS and closes the local server.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.mu.closed {
		n.mu.Unlock()
		return nil
	}
	n.mu.closed = true
	rs := n.mu.replicas
	n.mu.replicas = map[string]*replica{}
	peers := n.mu.peers
	n.mu.Unlock()
	if n.grpc != nil {
		n.grpc.Stop()
	}
	n.cancel()
	for _, r := range rs {
		r.cancel()
		<-r.done
		if err := r.record(); err != nil {
			n.log.Warn("recording applied sequence", "err", err)
		}
	}
	n.wg.Wait()
	for _, c := range peers {
		c.Close()
	}
	if n.nc != nil {
		n.nc.Close()
	}
	var err error
	if n.localConn != nil {
		n.localConn.Close()
	}
	if n.local != nil {
		err = n.local.Close()
	}
	return err
}
