package fleet

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// TestFleetNodeChild is a node of TestClusterChaos, run in a process of
// its own so that the test can kill it with SIGKILL.
func TestFleetNodeChild(t *testing.T) {
	id := os.Getenv("SHOAL_FLEET_NODE")
	if id == "" {
		t.Skip("child of TestClusterChaos")
	}
	var lis net.Listener
	var err error
	for try := 0; try < 50; try++ {
		if lis, err = net.Listen("tcp", os.Getenv("SHOAL_FLEET_LISTEN")); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	n, err := Open(Options{ID: id, DataDir: os.Getenv("SHOAL_FLEET_DIR"), NATSURLs: os.Getenv("SHOAL_FLEET_NATS"),
		AdminKey: testKey, Lease: time.Second, Logger: testLogger(),
		// Small thresholds: logs are purged behind snapshots during the
		// run, and nodes killed for a while come back by bootstrapping.
		SnapshotBytes: 16 << 10, CompactEvery: 100 * time.Millisecond,
		Server: server.Options{Logger: testLogger()}}, lis)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	_ = n
	fmt.Println("ready")
	select {}
}

// TestFleetNATSChild is a NATS server of TestClusterChaos, run in a
// process of its own so that the test can kill it with SIGKILL.
func TestFleetNATSChild(t *testing.T) {
	name := os.Getenv("SHOAL_FLEET_NATS_NAME")
	if name == "" {
		t.Skip("child of TestClusterChaos")
	}
	port, _ := strconv.Atoi(os.Getenv("SHOAL_FLEET_NATS_PORT"))
	cport, _ := strconv.Atoi(os.Getenv("SHOAL_FLEET_NATS_CLUSTER_PORT"))
	o := &natsserver.Options{
		ServerName: name, Host: "127.0.0.1", Port: port, JetStream: true,
		StoreDir: os.Getenv("SHOAL_FLEET_NATS_DIR"), NoSigs: true, NoLog: true, MaxPayload: 8 << 20,
		Cluster: natsserver.ClusterOpts{Name: "shoal", Host: "127.0.0.1", Port: cport},
		Routes:  natsserver.RoutesFromStr(os.Getenv("SHOAL_FLEET_NATS_ROUTES")),
	}
	s, err := natsserver.NewServer(o)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		fmt.Println("error not ready")
		os.Exit(2)
	}
	fmt.Println("ready")
	select {}
}

// natsProcs are the chaos test's NATS servers, one process each.
type natsProcs struct {
	env  [][]string
	cmds []*exec.Cmd
	urls string
}

func startNATSProcs(t *testing.T, dir string, n int) *natsProcs {
	t.Helper()
	ports, err := freePorts(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	var routes, urls []string
	for i := 0; i < n; i++ {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	p := &natsProcs{cmds: make([]*exec.Cmd, n), urls: strings.Join(urls, ",")}
	for i := 0; i < n; i++ {
		p.env = append(p.env, []string{
			fmt.Sprintf("SHOAL_FLEET_NATS_NAME=nats-%d", i),
			fmt.Sprintf("SHOAL_FLEET_NATS_PORT=%d", ports[i]),
			fmt.Sprintf("SHOAL_FLEET_NATS_CLUSTER_PORT=%d", ports[n+i]),
			"SHOAL_FLEET_NATS_DIR=" + filepath.Join(dir, fmt.Sprintf("nats-%d", i)),
			"SHOAL_FLEET_NATS_ROUTES=" + strings.Join(routes, ","),
		})
		p.start(t, i)
	}
	return p
}

func (p *natsProcs) start(t *testing.T, i int) {
	t.Helper()
	p.cmds[i] = startChild(t, "TestFleetNATSChild", fmt.Sprintf("NATS server %d", i), p.env[i]...)
}

// startChild runs test in a child process of this test binary with env
// added, and returns once it prints "ready"; a line "error …" fails t,
// naming the child what.
func startChild(t *testing.T, test, what string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if line := sc.Text(); line == "ready" {
			break
		} else if strings.HasPrefix(line, "error") {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%s: %s", what, line)
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return cmd
}

// kill sends server i SIGKILL.
func (p *natsProcs) kill(i int) {
	if c := p.cmds[i]; c != nil {
		c.Process.Kill()
		c.Wait()
		p.cmds[i] = nil
	}
}

func (p *natsProcs) close() {
	for i := range p.cmds {
		p.kill(i)
	}
}

// chaosNode is a node process of the chaos test.
type chaosNode struct {
	id, dir, addr string
	cmd           *exec.Cmd
}

func (cn *chaosNode) start(t *testing.T, natsURLs string) {
	t.Helper()
	cn.cmd = startChild(t, "TestFleetNodeChild", "node "+cn.id, "SHOAL_FLEET_NODE="+cn.id, "SHOAL_FLEET_DIR="+cn.dir,
		"SHOAL_FLEET_NATS="+natsURLs, "SHOAL_FLEET_LISTEN="+cn.addr)
}

// kill sends SIGKILL and reaps the process.
func (cn *chaosNode) kill() {
	if cn.cmd != nil {
		cn.cmd.Process.Kill()
		cn.cmd.Wait()
		cn.cmd = nil
	}
}

// chaosModel is what the clients were acknowledged: per id, its vector,
// or nil once deleted; and per shard the highest log sequence a write
// was acknowledged at.
type chaosModel struct {
	mu   sync.Mutex
	vecs map[uint64][]float32
	seq  seqs
}

func (m *chaosModel) ack(id uint64, v []float32, hdr metadata.MD, shards int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vecs[id] = v
	if tok := hdr.Get(seqHeader); len(tok) == 1 {
		s, _ := parseSeqs(tok[0], shards)
		for k, v := range s {
			m.seq[k] = max(m.seq[k], v)
		}
	}
}

// TestClusterChaos: eight clients upsert, delete and search through any
// node while, round after round, a random node is killed with SIGKILL
// and restarted, and every third round a NATS server is killed with
// SIGKILL too and restarted. Afterwards every acknowledged write is on every replica, no
// acknowledged delete is visible, the replicas of each shard are equal,
// and every node's data directory passes Check. SHOAL_CHAOS_ROUNDS sets
// the rounds (default 4; the run is 20).
func TestClusterChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	rounds := 4
	if v, err := strconv.Atoi(os.Getenv("SHOAL_CHAOS_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	dir := t.TempDir()
	nc := startNATSProcs(t, filepath.Join(dir, "nats"), 3)
	defer nc.close()
	ports, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	nodes := make([]*chaosNode, 3)
	for i := range nodes {
		nodes[i] = &chaosNode{id: fmt.Sprintf("n%d", i), dir: filepath.Join(dir, fmt.Sprintf("n%d", i)), addr: fmt.Sprintf("127.0.0.1:%d", ports[i])}
		nodes[i].start(t, nc.urls)
	}
	defer func() {
		for _, cn := range nodes {
			cn.kill()
		}
	}()
	conns := make([]shoalv1.VectorServiceClient, 3)
	for i, cn := range nodes {
		conn, err := grpc.NewClient(cn.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns[i] = shoalv1.NewVectorServiceClient(conn)
	}
	const dim, shards, clients, idsPer = 8, 3, 8, 48
	ctx := authed(context.Background())
	{
		conn, _ := grpc.NewClient(nodes[0].addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		cc := shoalv1.NewCollectionServiceClient(conn)
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := cc.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: "chaos", Config: &shoalv1.CollectionConfig{Dim: dim, Shards: shards, Replication: 3}})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("create: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		conn.Close()
	}

	model := &chaosModel{vecs: map[uint64][]float32{}, seq: seqs{}}
	var stop atomic.Bool
	var ops, retries, searches atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 99))
			for !stop.Load() {
				id := uint64(c + clients*r.IntN(idsPer))
				var v []float32
				if r.IntN(4) != 0 {
					v = make([]float32, dim)
					for j := range v {
						v[j] = float32(r.NormFloat64())
					}
				}
				if r.IntN(3) == 0 {
					q := make([]float32, dim)
					cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					_, err := conns[r.IntN(3)].Search(cctx, &shoalv1.SearchRequest{Collection: "chaos", Query: q, TopK: 5})
					cancel()
					if c := status.Code(err); c == codes.InvalidArgument || c == codes.Internal || c == codes.DataLoss {
						errc <- fmt.Errorf("search: %v", err)
						return
					}
					searches.Add(1)
				}
				// Retry until acknowledged, on any node: the model then
				// knows the id's state.
				for attempt := 0; ; attempt++ {
					var hdr metadata.MD
					cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					var err error
					if v != nil {
						_, err = conns[r.IntN(3)].Upsert(cctx, upsertReq("chaos", []uint64{id}, [][]float32{v}), grpc.Header(&hdr))
					} else {
						_, err = conns[r.IntN(3)].Delete(cctx, &shoalv1.DeleteRequest{Collection: "chaos", Ids: []uint64{id}}, grpc.Header(&hdr))
					}
					cancel()
					if err == nil {
						model.ack(id, v, hdr, shards)
						ops.Add(1)
						break
					}
					if c := status.Code(err); c == codes.InvalidArgument || c == codes.Internal || c == codes.NotFound {
						errc <- fmt.Errorf("write: %v", err)
						return
					}
					retries.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}

	r := rand.New(rand.NewPCG(7, 7))
	for round := 0; round < rounds; round++ {
		time.Sleep(time.Duration(300+r.IntN(500)) * time.Millisecond)
		victim := nodes[r.IntN(3)]
		victim.kill()
		stopped := -1
		if round%3 == 2 {
			stopped = r.IntN(3)
			nc.kill(stopped)
		}
		time.Sleep(time.Duration(300+r.IntN(700)) * time.Millisecond)
		if stopped >= 0 {
			nc.start(t, stopped)
		}
		victim.start(t, nc.urls)
		t.Logf("round %d: killed node %s and NATS server %d (-1: none); %d writes acknowledged, %d retried, %d searches", round, victim.id, stopped, ops.Load(), retries.Load(), searches.Load())
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if ops.Load() < int64(rounds) {
		t.Fatalf("only %d writes acknowledged in %d rounds", ops.Load(), rounds)
	}

	// Every replica of every shard, once it has applied every
	// acknowledged write, holds exactly the model.
	var ids []uint64
	for id := range model.vecs {
		ids = append(ids, id)
	}
	vctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for i := range nodes {
		for s := 0; s < shards; s++ {
			var shardIDs []uint64
			for _, id := range ids {
				if shardOf(id, shards) == s {
					shardIDs = append(shardIDs, id)
				}
			}
			md := []string{replicaKey, "1"}
			if seq, ok := model.seq[s]; ok {
				md = append(md, minSeqKey, fmt.Sprintf("%d:%d", s, seq))
			}
			var got *shoalv1.GetResponse
			var err error
			for {
				got, err = conns[i].Get(metadata.AppendToOutgoingContext(vctx, md...), &shoalv1.GetRequest{Collection: shardName("chaos", s), Ids: shardIDs})
				if err == nil || vctx.Err() != nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("node %d shard %d: %v", i, s, err)
			}
			have := map[uint64][]float32{}
			for _, v := range got.GetVectors() {
				have[v.GetId()] = v.GetValues()
			}
			for _, id := range shardIDs {
				want := model.vecs[id]
				h, ok := have[id]
				switch {
				case want == nil && ok:
					t.Errorf("node %d shard %d: id %d was deleted (acknowledged) and is visible", i, s, id)
				case want != nil && !ok:
					t.Errorf("node %d shard %d: id %d acknowledged and missing", i, s, id)
				case want != nil && l2(want, h) != 0:
					t.Errorf("node %d shard %d: id %d holds another vector than the last acknowledged", i, s, id)
				}
			}
		}
	}
	t.Logf("%d rounds: %d writes acknowledged (%d retried), %d searches; %d ids checked on 3 replicas of %d shards", rounds, ops.Load(), retries.Load(), searches.Load(), len(ids), shards)

	// Killed once more, every node's data directory passes Check.
	for _, cn := range nodes {
		cn.kill()
		checks, err := server.CheckDataDir(filepath.Join(cn.dir, "local"))
		if err != nil {
			t.Fatalf("node %s: %v", cn.id, err)
		}
		if len(checks) != shards {
			t.Errorf("node %s: %d collections, want its %d replicas", cn.id, len(checks), shards)
		}
		for _, c := range checks {
			if c.Err != nil {
				t.Errorf("node %s: %s: %v", cn.id, c.Name, c.Err)
			}
		}
	}
}
