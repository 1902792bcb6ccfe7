package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"
)

// One port, two protocols. Serve accepts connections on its listener
// and routes each one, by its first bytes or its TLS handshake, to the
// gRPC server or to the REST gateway's HTTP/1.1 server:
//
//   - plaintext: a connection that opens with the HTTP/2 client preface
//     ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", which every gRPC client sends
//     first) goes to gRPC; anything else is HTTP/1.x and goes to REST.
//   - TLS: the handshake happens here, offering ALPN "http/1.1" and "h2"
//     in that order, so that a client that offers both (curl, browsers)
//     speaks HTTP/1.1 to REST and a gRPC client (which offers only h2)
//     gets gRPC. "h2" goes to gRPC, "http/1.1" to REST; a client that
//     negotiates nothing is sniffed as in plaintext. gRPC then takes the
//     connection as it is (muxTLSCreds) instead of handshaking again.
//
// The REST gateway does not call the handlers directly: it is a gRPC
// client of this very server over in-memory connections (net.Pipe) fed
// to the gRPC server's listener, so every REST call passes through the
// interceptors (authentication, tenant-key rules, deadlines, logging,
// metrics) and the server's message size limits exactly as a gRPC call
// does (rest.go).
//
// Shutdown: GracefulStop and Stop close the gRPC server's listener,
// which stops the accept loop (closing the real listener) and starts a
// graceful shutdown of the HTTP server: REST calls in flight finish (or
// are cancelled with their gRPC calls at Stop), idle keep-alive
// connections are closed. Serve returns once both are down.

// h2Preface is the HTTP/2 client connection preface (RFC 9113 §3.4).
var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// routeTimeout bounds how long a new connection may take to send its
// first bytes (or finish its TLS handshake) before it is closed (a
// variable for tests).
var routeTimeout = 10 * time.Second

const (
	// restDrain is how long the HTTP server may take to finish its last
	// responses once the gRPC server is down.
	restDrain = 5 * time.Second
)

// serveMux serves gRPC and REST on lis until the gRPC server stops.
func (s *Server) serveMux(lis net.Listener) error {
	gl := newConnQueue(lis.Addr())
	hl := newConnQueue(lis.Addr())
	gw, err := s.newRESTGateway(gl)
	if err != nil {
		lis.Close()
		return err
	}
	defer gw.close()
	hs := &http.Server{
		Handler:           gw.handler,
		ReadHeaderTimeout: routeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// HTTP/1.1 only: h2 connections are gRPC's.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	r := &router{lis: lis, grpc: gl, http: hl, log: s.log}
	if s.opts.TLS != nil {
		r.tls = restTLSConfig(s.opts.TLS)
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.run()
	}()
	go func() {
		defer wg.Done()
		if err := hs.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Warn("REST server stopped", "err", err)
		}
	}()
	// The gRPC server closes its listener when it stops (GracefulStop or
	// Stop): stop accepting and let the REST calls in flight finish.
	drainCtx, cancelDrain := context.WithCancel(context.Background())
	defer cancelDrain()
	restDown := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(restDown)
		<-gl.done
		r.stop()
		if err := hs.Shutdown(drainCtx); err != nil {
			hs.Close()
		}
	}()

	err = s.grpc.Serve(gl)
	gl.Close() // if Serve failed without stopping the server
	select {
	case <-restDown:
	case <-time.After(restDrain):
		cancelDrain()
	}
	wg.Wait()
	if err == nil {
		err = r.failure()
	}
	return err
}

// restTLSConfig is the server's TLS configuration as the connection
// router uses it: ALPN offers http/1.1 before h2 (the server's order
// decides), then whatever else the configuration offers.
func restTLSConfig(c *tls.Config) *tls.Config {
	c = c.Clone()
	protos := []string{"http/1.1", "h2"}
	for _, p := range c.NextProtos {
		if !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	c.NextProtos = protos
	return c
}

// router accepts connections on lis and hands each to grpc or http.
type router struct {
	lis  net.Listener
	tls  *tls.Config // nil: plaintext
	grpc *connQueue
	http *connQueue
	log  *slog.Logger

	wg sync.WaitGroup // routing goroutines
	mu struct {
		sync.Mutex
		// pending are the connections being routed; stop closes them.
		pending map[net.Conn]struct{}
		stopped bool
		err     error // why the accept loop ended, if not stop
	}
}

// run accepts until the listener fails or stop closes it.
func (r *router) run() {
	defer r.wg.Wait()
	var backoff time.Duration
	for {
		c, err := r.lis.Accept()
		if err != nil {
			if retryableAccept(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				r.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			r.mu.Lock()
			if !r.mu.stopped {
				r.mu.err = err
			}
			r.mu.Unlock()
			// The gRPC server's Serve returns (with err: it was not
			// stopped), which stops the REST side.
			r.grpc.fail(err)
			return
		}
		backoff = 0
		if !r.track(c) {
			c.Close()
			continue
		}
		r.wg.Add(1)
		go r.route(c)
	}
}

// retryableAccept reports whether an Accept error is one the listener
// recovers from: a timeout, a temporary error (EMFILE and ENFILE when a
// connection flood or a leak ran out of file descriptors, ECONNABORTED:
// what grpc.Server and http.Server retry) or a shortage of kernel
// memory. Any other error ends the accept loop, and with it the server.
func retryableAccept(err error) bool {
	var te interface{ Temporary() bool }
	var ne net.Error
	return (errors.As(err, &ne) && ne.Timeout()) ||
		(errors.As(err, &te) && te.Temporary()) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// track records c as being routed; false after stop.
func (r *router) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.stopped {
		return false
	}
	if r.mu.pending == nil {
		r.mu.pending = map[net.Conn]struct{}{}
	}
	r.mu.pending[c] = struct{}{}
	return true
}

// stop closes the listener and the connections still being routed.
func (r *router) stop() {
	r.mu.Lock()
	r.mu.stopped = true
	for c := range r.mu.pending {
		c.Close()
	}
	r.mu.Unlock()
	r.lis.Close()
}

// failure is why the accept loop ended on its own, or nil.
func (r *router) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.err
}

// route decides c's protocol and queues it for its server.
func (r *router) route(c net.Conn) {
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), routeTimeout)
	defer cancel()
	to, conn, err := r.classify(ctx, c)
	r.mu.Lock()
	delete(r.mu.pending, c)
	r.mu.Unlock()
	if err == nil {
		err = to.push(ctx, conn)
	}
	if err != nil {
		c.Close()
	}
}

// classify returns the server c is for and the connection to give it
// (TLS already established, first bytes still to be read).
func (r *router) classify(ctx context.Context, c net.Conn) (*connQueue, net.Conn, error) {
	if err := c.SetReadDeadline(time.Now().Add(routeTimeout)); err != nil {
		return nil, nil, err
	}
	var tc *tls.Conn
	if r.tls != nil {
		tc = tls.Server(c, r.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, err
		}
		switch tc.ConnectionState().NegotiatedProtocol {
		case "h2":
			return r.grpc, tc, c.SetReadDeadline(time.Time{})
		case "http/1.1":
			return r.http, tc, c.SetReadDeadline(time.Time{})
		}
		// No ALPN: decide by the first bytes, as in plaintext.
	}
	var inner net.Conn = c
	if tc != nil {
		inner = tc
	}
	pc := &peekedConn{Conn: inner, r: bufio.NewReader(inner), tls: tc}
	h2, err := hasH2Preface(pc.r)
	if err != nil {
		return nil, nil, err
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, nil, err
	}
	if h2 {
		return r.grpc, pc, nil
	}
	return r.http, pc, nil
}

// hasH2Preface reports whether r starts with the HTTP/2 client preface,
// reading no further than the first byte that differs from it (an
// HTTP/1.1 request may be shorter than the preface).
func hasH2Preface(r *bufio.Reader) (bool, error) {
	for n := 1; n <= len(h2Preface); n++ {
		b, err := r.Peek(n)
		if err != nil {
			return false, err
		}
		if b[n-1] != h2Preface[n-1] {
			return false, nil
		}
	}
	return true, nil
}

// peekedConn is a connection whose first bytes were read into r.
type peekedConn struct {
	net.Conn
	r   *bufio.Reader
	tls *tls.Conn // the TLS connection Conn is, if any
}

// Read reads the peeked bytes first, then the connection.
func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// connQueue is a net.Listener whose connections are pushed to it: the
// router's for each server, and the REST gateway's in-memory ones.
type connQueue struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{} // closed by Close or fail
	once  sync.Once
	err   error // what Accept returns once done; set before done closes
}

var _ net.Listener = (*connQueue)(nil)

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// push hands c to Accept; it fails once the queue is closed.
func (q *connQueue) push(ctx context.Context, c net.Conn) error {
	select {
	case q.conns <- c:
		return nil
	case <-q.done:
		return net.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Accept returns the next pushed connection.
func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.done:
		return nil, q.err
	}
}

// fail makes Accept return err from now on.
func (q *connQueue) fail(err error) {
	q.once.Do(func() {
		q.err = err
		close(q.done)
	})
}

// Close makes Accept return net.ErrClosed from now on.
func (q *connQueue) Close() error {
	q.fail(net.ErrClosed)
	return nil
}

// Addr is the address of the real listener.
func (q *connQueue) Addr() net.Addr { return q.addr }

// muxTLSCreds are the gRPC server's transport credentials when TLS is
// on: the router has done the handshake already, so a TLS connection is
// taken as it is, with its connection state as the peer's AuthInfo; the
// REST gateway's in-memory connections are taken as they are too (they
// never leave the process).
type muxTLSCreds struct {
	credentials.TransportCredentials // the server's TLS credentials
}

var _ credentials.TransportCredentials = muxTLSCreds{}

// ServerHandshake accepts a connection the router or the gateway made.
func (m muxTLSCreds) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	var tc *tls.Conn
	switch c := c.(type) {
	case *tls.Conn:
		tc = c
	case *peekedConn:
		tc = c.tls
	case *gatewayConn:
		return c, gatewayAuthInfo{}, nil
	}
	if tc == nil {
		// Not routed: should not happen; handshake as usual.
		return m.TransportCredentials.ServerHandshake(c)
	}
	return c, credentials.TLSInfo{
		State:          tc.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}, nil
}

// Clone returns a copy of m.
func (m muxTLSCreds) Clone() credentials.TransportCredentials {
	return muxTLSCreds{m.TransportCredentials.Clone()}
}

// gatewayAuthInfo is the AuthInfo of the REST gateway's connections.
type gatewayAuthInfo struct{}

// AuthType names the gateway's connections in gRPC's peer information.
func (gatewayAuthInfo) AuthType() string { return "shoal-rest-gateway" }

// gatewayConn is the gRPC server's end of an in-memory connection of the
// REST gateway.
type gatewayConn struct{ net.Conn }

// gatewayAddr is the peer address of the REST gateway's calls, as the
// call log shows it.
type gatewayAddr struct{}

func (gatewayAddr) Network() string { return "pipe" }
func (gatewayAddr) String() string  { return "rest-gateway" }

// RemoteAddr is what the call log shows as the peer of a REST call.
func (c *gatewayConn) RemoteAddr() net.Addr { return gatewayAddr{} }

// pipe returns a new in-memory connection: the client's end, and the
// server's end pushed to q.
func pipe(ctx context.Context, q *connQueue) (net.Conn, error) {
	client, srv := net.Pipe()
	if err := q.push(ctx, &gatewayConn{srv}); err != nil {
		client.Close()
		srv.Close()
		return nil, err
	}
	return client, nil
}
