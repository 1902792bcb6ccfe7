package benchcli

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/server"
)

// TestLoadtest runs both modes of `shoal loadtest`, briefly and small,
// against an in-process server (-addr, -server-pid: this process).
func TestLoadtest(t *testing.T) {
	const key = "loadtest-test-admin-key"
	s, err := server.Open(&server.Options{DataDir: t.TempDir(), AdminKey: key, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	defer s.Shutdown(context.Background())
	common := []string{"loadtest", "-addr", lis.Addr().String(), "-key", key, "-server-pid", strconv.Itoa(os.Getpid())}
	code, out, e := shoal(t, append(common, "-clients", "4", "-duration", "1s", "-every", "400ms", "-n", "500", "-dim", "8")...)
	if code != 0 {
		t.Fatalf("loadtest exited %d: %s\n%s", code, e, out)
	}
	for _, want := range []string{"| search |", "| upsert |", "Errors: 0", "Peak RSS"} {
		if !strings.Contains(out, want) {
			t.Errorf("mixed report lacks %q:\n%s", want, out)
		}
	}
	if testing.Short() {
		return
	}
	code, out, e = shoal(t, append(common, "-mode", "memory", "-settle", "50ms", "-collections", "5", "-tenants", "5", "-dim", "8")...)
	if code != 0 {
		t.Fatalf("loadtest -mode memory exited %d: %s\n%s", code, e, out)
	}
	for _, want := range []string{"+ 5 empty collections", "+ 5 empty tenants", "one vector owned by each tenant"} {
		if !strings.Contains(out, want) {
			t.Errorf("memory report lacks %q:\n%s", want, out)
		}
	}
	if code, _, e := shoal(t, "loadtest", "-addr", "10.1.2.3:7370"); code == 0 || !strings.Contains(e, "loopback") {
		t.Errorf("a non-loopback -addr: exit %d, %q; want refused", code, e)
	}
}
