package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/shoaldb/shoal/server/fleet"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// defaultNodeID is the host name, or "node" without one.
func defaultNodeID() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "node"
}

// runNode is `shoal serve -cluster`: one node of a cluster (package
// fleet), serving until ctx is cancelled or SIGTERM arrives.
func (o *serveOptions) runNode(ctx context.Context, env *clikit.Env) error {
	log := o.logger(env)
	lis, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	fo := fleet.Options{
		ID: o.nodeID, DataDir: o.dataDir, NATSURLs: o.cluster, Advertise: o.advertise,
		AdminKey: o.adminKey, StreamReplicas: o.streamReplicas, Server: *o.serverOptions(log), Logger: log,
	}
	o.fleetTuning(&fo)
	n, err := fleet.Open(fo, lis)
	if err != nil {
		lis.Close()
		return err
	}
	fmt.Fprintf(env.Stdout, "shoal node %s serving on %s (cluster %s, data %s)\n", o.nodeID, n.Addr(), o.cluster, o.dataDir)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down")
	return n.Close()
}

// unspecifiedHost reports whether addr listens on every interface
// (":7370", "0.0.0.0:7370", "[::]:7370"), an address peers cannot dial.
func unspecifiedHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// fleetTuning copies the cluster flags that tune a node into fo.
func (o *serveOptions) fleetTuning(fo *fleet.Options) {
	fo.SnapshotBytes, fo.BalanceEvery = o.logSnapshot, o.rebalanceEvery
}
