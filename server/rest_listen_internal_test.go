package server

import (
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails its first n Accepts with err, then accepts.
type flakyListener struct {
	net.Listener
	n   atomic.Int32
	err error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.n.Add(-1) >= 0 {
		return nil, l.err
	}
	return l.Listener.Accept()
}

// testRouter starts a router on lis; it stops with the test.
func testRouter(t *testing.T, lis net.Listener) *router {
	t.Helper()
	r := &router{
		lis:  lis,
		grpc: newConnQueue(lis.Addr()),
		http: newConnQueue(lis.Addr()),
		log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run()
	}()
	t.Cleanup(func() {
		r.stop()
		<-done
	})
	return r
}

// acceptWithin accepts a connection from q, or fails the test.
func acceptWithin(t *testing.T, q *connQueue, d time.Duration) net.Conn {
	t.Helper()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := q.Accept()
		if err == nil {
			got <- c
		}
	}()
	select {
	case c := <-got:
		return c
	case <-time.After(d):
		t.Fatalf("no connection routed within %v", d)
		return nil
	}
}

// TestRouterSurvivesTemporaryAcceptErrors: running out of file
// descriptors (EMFILE, ENFILE: a connection flood) or buffers fails
// Accept for a while; the router keeps accepting afterwards, as
// grpc.Server and http.Server do, instead of taking the whole port
// down.
func TestRouterSurvivesTemporaryAcceptErrors(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		t.Run(errno.Error(), func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lis := &flakyListener{Listener: inner, err: &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept", errno)}}
			lis.n.Store(3)
			r := testRouter(t, lis)
			c, err := net.Dial("tcp", inner.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			acceptWithin(t, r.http, 5*time.Second).Close()
			if err := r.failure(); err != nil {
				t.Fatalf("the router stopped on %v", err)
			}
		})
	}
}

// TestRouterSilentConnection: a connection that sends nothing does not
// hold up the routing of others, and is closed after routeTimeout.
func TestRouterSilentConnection(t *testing.T) {
	old := routeTimeout
	routeTimeout = 2 * time.Second
	t.Cleanup(func() { routeTimeout = old })
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := testRouter(t, lis)
	silent, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	opened := time.Now()
	type routed struct {
		first        string
		client, conn net.Conn
	}
	var got []routed
	for _, tc := range []struct {
		first string
		q     *connQueue
	}{{"GET / HTTP/1.1\r\n\r\n", r.http}, {string(h2Preface), r.grpc}} {
		c, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(tc.first)); err != nil {
			t.Fatal(err)
		}
		g := acceptWithin(t, tc.q, routeTimeout/2)
		defer g.Close()
		got = append(got, routed{tc.first, c, g})
	}
	// Routed connections lose the sniffing deadline: past it, they read
	// what the client sends next.
	time.Sleep(time.Until(opened.Add(routeTimeout + 200*time.Millisecond)))
	for _, g := range got {
		if _, err := g.client.Write([]byte("more")); err != nil {
			t.Fatal(err)
		}
		want := g.first + "more"
		buf := make([]byte, len(want))
		if _, err := io.ReadFull(g.conn, buf); err != nil || string(buf) != want {
			t.Fatalf("routed connection reads %q, %v; want %q", buf, err, want)
		}
	}
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("silent connection: read %d bytes, %v; want EOF (closed by the server)", n, err)
	}
}
