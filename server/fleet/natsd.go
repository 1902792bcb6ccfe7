package fleet

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// NATS is a cluster of embedded NATS servers with JetStream on loopback
// ports: what `shoal cluster up` and the tests run, so trying the
// cluster mode needs no NATS installed. Production clusters run their
// own NATS servers and point nodes at them (Options.NATSURLs).
//
// Its methods may be called from several goroutines.
type NATS struct {
	dir string
	mu  sync.Mutex
	// opts are each server's options, fixed at start so a stopped server
	// restarts with the same name, ports and store.
	opts    []*natsserver.Options
	servers []*natsserver.Server // nil while stopped
}

// StartNATS starts n (1, 3 or 5) clustered NATS servers with JetStream,
// storing their streams under dir/nats-<i>. With syncAlways, a server
// fsyncs every write before acknowledging it (survives power loss);
// otherwise it writes through the OS and fsyncs every 2 minutes (survives
// a killed process, as JetStream's default).
func StartNATS(dir string, n int, syncAlways bool) (*NATS, error) {
	if n != 1 && n != 3 && n != 5 {
		return nil, fmt.Errorf("fleet: %d NATS servers, want 1, 3 or 5 (a JetStream quorum needs an odd count)", n)
	}
	clientPorts, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	routePorts, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	routes := make([]string, n)
	for i := range routes {
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i])
	}
	c := &NATS{dir: dir, servers: make([]*natsserver.Server, n)}
	for i := 0; i < n; i++ {
		o := &natsserver.Options{
			ServerName: fmt.Sprintf("nats-%d", i),
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   filepath.Join(dir, fmt.Sprintf("nats-%d", i)),
			SyncAlways: syncAlways,
			NoSigs:     true,
			NoLog:      true,
			// Writes of up to 8 MiB go in one log message (publish.go
			// splits larger ones).
			MaxPayload: 8 << 20,
		}
		if n > 1 {
			o.Cluster = natsserver.ClusterOpts{Name: "shoal", Host: "127.0.0.1", Port: routePorts[i]}
			o.Routes = natsserver.RoutesFromStr(strings.Join(routes, ","))
		}
		c.opts = append(c.opts, o)
	}
	for i := range c.opts {
		if err := c.Start(i); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("fleet: free port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// URLs is the client URLs of every server, comma-separated, the form
// Options.NATSURLs takes.
func (c *NATS) URLs() string {
	urls := make([]string, len(c.opts))
	for i, o := range c.opts {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", o.Port)
	}
	return strings.Join(urls, ",")
}

// Len is the number of servers, running or stopped.
func (c *NATS) Len() int { return len(c.opts) }

// Start starts server i again after Stop (a no-op while it runs), with
// its name, ports and stored streams.
func (c *NATS) Start(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.servers[i] != nil {
		return nil
	}
	if err := os.MkdirAll(c.opts[i].StoreDir, 0o755); err != nil {
		return fmt.Errorf("fleet: NATS store: %w", err)
	}
	o := *c.opts[i]
	s, err := natsserver.NewServer(&o)
	if err != nil {
		return fmt.Errorf("fleet: NATS server %d: %w", i, err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return fmt.Errorf("fleet: NATS server %d did not start within 10s (port %d)", i, o.Port)
	}
	c.servers[i] = s
	return nil
}

// Stop shuts server i down (its streams stay on disk).
func (c *NATS) Stop(i int) {
	c.mu.Lock()
	s := c.servers[i]
	c.servers[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Close stops every server.
func (c *NATS) Close() error {
	for i := range c.servers {
		c.Stop(i)
	}
	return nil
}
