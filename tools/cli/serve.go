package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/shoaldb/shoal/server"
	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/spf13/pflag"
)

func init() {
	register(newServe)
}

// serveOptions are the flags of `shoal serve`.
type serveOptions struct {
	dataDir  string
	listen   string
	adminKey string
	noAuth   bool
	tlsCert  string
	tlsKey   string
	maxBatch int
	maxMsg   clikit.SizeFlag
	// maxResponse and maxHits bound the responses of searches and gets
	// (server.Options.MaxResponseBytes, MaxHits).
	maxResponse clikit.SizeFlag
	// maxPayload bounds one vector's JSON payload.
	maxPayload clikit.SizeFlag
	maxHits    int
	maxTopK    int
	cache      clikit.SizeFlag
	writeStall time.Duration
	grace      time.Duration
	idle       time.Duration // gRPC connections with no call in flight close after it
	logLevel   string
	logJSON    bool
	// metricsListen is the address of the Prometheus /metrics listener;
	// empty: none.
	metricsListen  string
	pprof          bool // serve /debug/pprof/ next to /metrics
	snapshotDir    string
	importDir      string
	importBuildMin int
	// cluster is the NATS servers of cluster mode (comma-separated
	// URLs); empty: a single node. The fields after it configure the
	// node (serve_cluster.go).
	cluster        string
	nodeID         string
	advertise      string
	streamReplicas int
	logSnapshot    int64         // fleet.Options.SnapshotBytes
	rebalanceEvery time.Duration // fleet.Options.BalanceEvery
}

// defaultDataDir is $XDG_DATA_HOME/shoal, or ~/.local/share/shoal, or
// ./shoal-data when there is no home directory.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "shoal")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "shoal")
	}
	return "shoal-data"
}

// Validate reports flags that cannot work.
func (o *serveOptions) Validate() error {
	switch {
	case o.dataDir == "":
		return errors.New("-data-dir is empty")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case o.adminKey != "" && len(o.adminKey) < 16:
		return fmt.Errorf("the admin key has %d characters, want at least 16", len(o.adminKey))
	case o.adminKey == "" && !o.noAuth && !clikit.Loopback(o.listen):
		return fmt.Errorf("-listen %s is not a loopback address: set an admin key (-admin-key or SHOAL_ADMIN_KEY), or pass -no-auth to serve it to anyone", o.listen)
	case o.pprof && o.metricsListen == "":
		return errors.New("-pprof serves on the -metrics-listen address: set it too")
	case o.maxBatch < 0:
		return fmt.Errorf("-max-batch %d, want >= 0", o.maxBatch)
	case o.maxHits < 0:
		return fmt.Errorf("-max-hits %d, want >= 0", o.maxHits)
	case o.maxTopK < 0:
		return fmt.Errorf("-max-top-k %d, want >= 0", o.maxTopK)
	case o.maxPayload < 0 || o.maxPayload > math.MaxInt32:
		return fmt.Errorf("-max-payload %d, want 0 to 2GiB", o.maxPayload)
	case o.maxResponse < 0 || o.maxResponse > math.MaxInt32:
		return fmt.Errorf("-max-response %d, want 0 to 2GiB", o.maxResponse)
	case o.writeStall < 0:
		return fmt.Errorf("-write-stall %v, want > 0", o.writeStall)
	case o.importBuildMin < 0:
		return fmt.Errorf("-import-build-min %d, want >= 0", o.importBuildMin)
	case o.cluster != "" && o.tlsCert != "":
		return errors.New("-cluster with -tls-cert: cluster mode serves plaintext only (yet)")
	case o.cluster != "" && o.metricsListen != "":
		return errors.New("-cluster with -metrics-listen: cluster mode has no metrics listener (yet)")
	case o.cluster != "" && o.rebalanceEvery > 0 && o.rebalanceEvery < 10*time.Millisecond:
		return fmt.Errorf("-rebalance-every %v, want >= 10ms (or negative: never)", o.rebalanceEvery)
	case o.cluster != "" && (o.streamReplicas < 1 || o.streamReplicas > 5):
		return fmt.Errorf("-stream-replicas %d, want 1..5", o.streamReplicas)
	case o.cluster != "" && o.advertise == "" && unspecifiedHost(o.listen):
		return fmt.Errorf("-cluster with -listen %s: set -advertise to the address peers dial (host:port)", o.listen)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return err
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("-log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// runServe is `shoal serve`.
func newServe() *clikit.Command {
	o := serveOptions{maxMsg: server.DefaultMaxRecvMsgBytes, maxResponse: server.DefaultMaxResponseBytes, maxPayload: server.DefaultMaxPayloadBytes, cache: server.DefaultCacheBytes}
	c := clikit.NewCommand("serve", "[flags]", "run the vector database server (gRPC and REST/JSON on one port)")
	c.Group = clikit.GroupServer
	fs := c.Flags
	fs.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "data directory (one Pebble database for all collections)")
	fs.StringVar(&o.listen, "listen", "localhost:7370", "address to serve gRPC and REST/JSON on (host:port; one port for both)")
	fs.StringVar(&o.adminKey, "admin-key", os.Getenv("SHOAL_ADMIN_KEY"), "admin API key, at least 16 characters (default $SHOAL_ADMIN_KEY); empty: no authentication, loopback only")
	fs.BoolVar(&o.noAuth, "no-auth", false, "allow serving a non-loopback address without an admin key (anyone may do anything)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM); with -tls-key serves TLS")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fs.IntVar(&o.maxBatch, "max-batch", server.DefaultMaxBatch, "max vectors, ids or queries per request")
	fs.Var(&o.maxMsg, "max-msg", "max request message size")
	fs.Var(&o.maxPayload, "max-payload", "max size of one vector's JSON payload (compact JSON); larger is INVALID_ARGUMENT")
	fs.Var(&o.maxResponse, "max-response", "max response message size: a search or get that could exceed it is refused before any work")
	fs.IntVar(&o.maxTopK, "max-top-k", server.DefaultMaxTopK, "max top_k of one search")
	fs.IntVar(&o.maxHits, "max-hits", server.DefaultMaxHits, "max top_k × queries of one search call")
	fs.Var(&o.cache, "cache", "posting cache per collection")
	fs.DurationVar(&o.writeStall, "write-stall", server.DefaultWriteStall, "how long a write waits for background maintenance to catch up before it is refused with RESOURCE_EXHAUSTED")
	fs.DurationVar(&o.idle, "idle-timeout", server.DefaultIdleTimeout, "close a gRPC connection that has had no call in flight this long (its client redials)")
	fs.DurationVar(&o.grace, "grace", server.DefaultShutdownGrace, "how long calls in flight may finish at shutdown")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug (one line per call), info, warn, error")
	fs.BoolVar(&o.logJSON, "log-json", false, "log JSON lines instead of text")
	fs.StringVar(&o.snapshotDir, "snapshot-dir", "", "directory of snapshots (CreateSnapshot, RestoreSnapshot); default DATA-DIR/snapshots")
	fs.StringVar(&o.importDir, "import-dir", "", "directory StartImport reads vector files from (nothing outside it); default DATA-DIR/import")
	fs.IntVar(&o.importBuildMin, "import-build-min", server.DefaultImportBuildMinRows, "fewest rows for which an import into an empty collection builds it offline (method AUTO)")
	fs.BoolVar(&o.pprof, "pprof", false, "also serve Go's /debug/pprof/ profiles on the -metrics-listen address (for diagnosis; do not expose it)")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "address to serve Prometheus /metrics on over HTTP (e.g. localhost:9370); empty: off")
	fs.StringVar(&o.cluster, "cluster", "", "cluster mode: join the cluster of these NATS servers (nats://host:port, comma-separated; docs/cluster.md)")
	fs.StringVar(&o.nodeID, "node-id", defaultNodeID(), "cluster mode: this node's id, kept across restarts")
	fs.StringVar(&o.advertise, "advertise", "", "cluster mode: the address peers dial to reach this node (default: the -listen address)")
	fs.IntVar(&o.streamReplicas, "stream-replicas", 3, "cluster mode: NATS servers persisting each write (at most the cluster's NATS servers)")
	fs.Int64Var(&o.logSnapshot, "log-snapshot-bytes", 64<<20, "cluster mode: snapshot a shard and purge its log once this many bytes follow its newest snapshot (at least a quarter of the snapshot's size), or sooner once writes pause; negative: never")
	fs.DurationVar(&o.rebalanceEvery, "rebalance-every", 2*time.Second, "cluster mode: how often the balancer moves a replica onto nodes holding fewer; negative: never")
	config := fs.String("config", "", "read settings from this file: lines of `flag-name = value` (# comments); flags given on the command line win")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if len(args) > 0 {
			return clikit.Usagef("unexpected arguments %q", args)
		}
		if *config != "" {
			if err := applyConfig(fs, *config); err != nil {
				return err
			}
		}
		if err := o.Validate(); err != nil {
			return clikit.InvalidError(err)
		}
		if o.cluster != "" {
			return o.runNode(ctx, env)
		}
		return o.Run(ctx, env)
	}
	return c
}

// applyConfig sets the flags of fs named in the config file path (lines
// of `name = value`, blank lines and # comments), except those set on the
// command line. A value in matching double or single quotes ("x", 'x')
// is the text between them. An unknown name or a bad value is an error
// naming the line.
func applyConfig(fs *pflag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-config: %w", err)
	}
	onCmdLine := make(map[string]bool)
	// Changed, not Visit: cobra parses a flag set of its own that shares
	// the flags with fs, so fs itself records nothing as set.
	fs.VisitAll(func(f *pflag.Flag) { onCmdLine[f.Name] = f.Changed })
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), unquote(strings.TrimSpace(value))
		switch {
		case !ok:
			return fmt.Errorf("%s:%d: %q is not `name = value`", path, n+1, line)
		case name == "config" || fs.Lookup(name) == nil:
			return fmt.Errorf("%s:%d: unknown setting %q (settings are the flags of shoal serve, without the dash)", path, n+1, name)
		case onCmdLine[name]:
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, n+1, name, err)
		}
	}
	return nil
}

// unquote strips one pair of matching quotes around a config value.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// logger is the logger the flags ask for, writing to env.Stderr.
func (o *serveOptions) logger(env *clikit.Env) *slog.Logger {
	level, _ := parseLevel(o.logLevel)
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(env.Stderr, hopts)
	if o.logJSON {
		h = slog.NewJSONHandler(env.Stderr, hopts)
	}
	return slog.New(h)
}

// serverOptions are the server's options from the flags.
func (o *serveOptions) serverOptions(log *slog.Logger) *server.Options {
	return &server.Options{
		DataDir: o.dataDir, AdminKey: o.adminKey, MaxBatch: o.maxBatch,
		MaxRecvMsgBytes: int(o.maxMsg), MaxResponseBytes: int(o.maxResponse), MaxPayloadBytes: int(o.maxPayload), MaxHits: o.maxHits, MaxTopK: o.maxTopK,
		CacheBytes: int64(o.cache), ShutdownGrace: o.grace, IdleTimeout: o.idle, Logger: log,
		WriteStall:  o.writeStall,
		SnapshotDir: o.snapshotDir, ImportDir: o.importDir, ImportBuildMinRows: o.importBuildMin,
	}
}

// Run serves until ctx is cancelled or SIGTERM arrives, then shuts down
// gracefully. It prints the address it listens on to stdout.
func (o *serveOptions) Run(ctx context.Context, env *clikit.Env) error {
	log := o.logger(env)
	sopts := o.serverOptions(log)
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		sopts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	s, err := server.Open(sopts)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", o.listen)
	if err != nil {
		s.Close()
		return err
	}
	var metrics *http.Server
	metricsFailed := make(chan error, 1)
	if o.metricsListen != "" {
		mlis, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			lis.Close()
			s.Close()
			return fmt.Errorf("-metrics-listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", s.MetricsHandler())
		if o.pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := metrics.Serve(mlis); !errors.Is(err, http.ErrServerClosed) {
				metricsFailed <- err
			}
		}()
		fmt.Fprintf(env.Stdout, "shoal metrics on http://%s/metrics\n", mlis.Addr())
	}
	fmt.Fprintf(env.Stdout, "shoal serving on %s (data %s)\n", lis.Addr(), o.dataDir)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	select {
	case err := <-served:
		// The listener failed; nothing is serving.
		if metrics != nil {
			metrics.Close()
		}
		return errors.Join(err, s.Close())
	case err := <-metricsFailed:
		log.Error("metrics listener failed; shutting down", "err", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", o.grace.String())
	err = s.Shutdown(context.Background())
	if metrics != nil {
		// After the gRPC server, so that the last scrapes see the drain.
		metrics.Close()
	}
	return errors.Join(<-served, err)
}
