package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/shoaldb/shoal/server/fleet"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newCluster)
}

// clusterUpOptions are the flags of `shoal cluster up`.
type clusterUpOptions struct {
	nodes, nats int
	dataDir     string
	host        string
	basePort    int
	adminKey    string
}

func (o *clusterUpOptions) Validate() error {
	switch {
	case o.nodes < 0 || o.nodes > 16:
		return fmt.Errorf("-nodes %d, want 0..16", o.nodes)
	case o.nats != 1 && o.nats != 3 && o.nats != 5:
		return fmt.Errorf("-nats %d, want 1, 3 or 5", o.nats)
	case o.basePort < 1 || o.basePort+o.nodes > 65535:
		return fmt.Errorf("-base-port %d, want 1..%d", o.basePort, 65535-o.nodes)
	case o.dataDir == "":
		return errors.New("-data-dir is empty")
	}
	return nil
}

// newCluster is `shoal cluster`, whose one verb, up, starts a cluster on
// this machine to try cluster mode.
func newCluster() *clikit.Command {
	c := clikit.NewCommand("cluster", "up [flags]", "try cluster mode on one machine: embedded NATS servers and several nodes on loopback ports")
	c.Group = clikit.GroupServer
	o := clusterUpOptions{}
	up := clikit.NewCommand("up", "[flags]", "start NATS servers and nodes on loopback ports, serving until interrupted")
	up.Long = "up starts -nats embedded NATS servers with JetStream and -nodes Shoal nodes in this process, node i listening on 127.0.0.1:(base-port+i). Every node serves the whole cluster's collections (shoal client -addr 127.0.0.1:7371 ...). Data stays in -data-dir, so running up again with the same flags brings the same cluster back. For real deployments run NATS servers of your own and `shoal serve -cluster` on each machine (docs/cluster.md)."
	fs := up.Flags
	fs.IntVar(&o.nodes, "nodes", 3, "Shoal nodes to start (0: the NATS servers only, for nodes run as shoal serve -cluster processes)")
	fs.IntVar(&o.nats, "nats", 3, "embedded NATS servers to start (1, 3 or 5); writes persist on min(3, this) of them")
	fs.StringVar(&o.dataDir, "data-dir", filepath.Join(defaultDataDir(), "cluster"), "directory of the NATS servers' and nodes' data")
	fs.IntVar(&o.basePort, "base-port", 7371, "node i listens on 127.0.0.1:(base-port+i)")
	fs.StringVar(&o.adminKey, "admin-key", "", "admin key of the cluster (at least 16 characters); empty: no authentication (loopback only)")
	up.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if len(args) > 0 {
			return clikit.Usagef("unexpected arguments %q", args)
		}
		if err := o.Validate(); err != nil {
			return clikit.InvalidError(err)
		}
		return o.Run(ctx, env)
	}
	c.Subs = []*clikit.Command{up}
	return c
}

// Run starts the cluster and serves until ctx ends or SIGTERM arrives.
func (o *clusterUpOptions) Run(ctx context.Context, env *clikit.Env) error {
	if o.adminKey != "" && len(o.adminKey) < 16 {
		return clikit.InvalidError(fmt.Errorf("the admin key has %d characters, want at least 16", len(o.adminKey)))
	}
	serve := serveOptions{logLevel: "warn"}
	log := serve.logger(env)
	nc, err := fleet.StartNATS(filepath.Join(o.dataDir, "nats"), o.nats, false)
	if err != nil {
		return err
	}
	defer nc.Close()
	fmt.Fprintf(env.Stdout, "NATS (JetStream) on %s\n", nc.URLs())
	var nodes []*fleet.Node
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	for i := 0; i < o.nodes; i++ {
		lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", o.basePort+i))
		if err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		serve.dataDir = filepath.Join(o.dataDir, fmt.Sprintf("node-%d", i))
		fo := fleet.Options{
			ID: fmt.Sprintf("node-%d", i), DataDir: serve.dataDir, NATSURLs: nc.URLs(), AdminKey: o.adminKey,
			StreamReplicas: min(3, o.nats), Server: *serve.serverOptions(log), Logger: log,
		}
		serve.fleetTuning(&fo)
		n, err := fleet.Open(fo, lis)
		if err != nil {
			lis.Close()
			return fmt.Errorf("node %d: %w", i, err)
		}
		nodes = append(nodes, n)
		fmt.Fprintf(env.Stdout, "node-%d serving on %s\n", i, n.Addr())
	}
	if len(nodes) == 0 {
		fmt.Fprintf(env.Stdout, "NATS up (data %s); start nodes with: shoal serve -cluster %s -node-id ID -listen ADDR; Ctrl-C stops it\n", o.dataDir, nc.URLs())
	} else {
		fmt.Fprintf(env.Stdout, "cluster up (data %s); try: shoal client -addr %s create docs -dim 128; Ctrl-C stops it\n", o.dataDir, nodes[0].Addr())
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
