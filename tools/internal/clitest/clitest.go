// Package clitest helps test the shoal commands: it runs a command line
// in-process and starts a server for the commands that talk to one.
package clitest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/shoaldb/shoal/server"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// Run runs the command line args over cmds in-process, as clikit.Main
// does, and returns the exit status and what it wrote to stdout and
// stderr.
func Run(cmds []*clikit.Command, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = clikit.Main(cmds, args, &out, &errb)
	return code, out.String(), errb.String()
}

// Server starts a shoal server with admin key adminKey over a temporary
// data directory, serving on a loopback port until t ends, and returns
// its address.
func Server(t testing.TB, adminKey string) string {
	t.Helper()
	return ServerWith(t, server.Options{AdminKey: adminKey})
}

// ServerWith is Server with options: a temporary data directory if
// opts.DataDir is empty, and no logs if opts.Logger is nil.
func ServerWith(t testing.TB, opts server.Options) string {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := server.Open(&opts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return lis.Addr().String()
}
