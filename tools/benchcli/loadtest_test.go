package benchcli

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/tools/internal/clitest"
)

// TestLoadtest runs both modes of `shoal loadtest`, briefly and small,
// against an in-process server (-addr, -server-pid: this process).
func TestLoadtest(t *testing.T) {
	const key = "loadtest-test-admin-key"
	addr := clitest.Server(t, key)
	common := []string{"loadtest", "-addr", addr, "-key", key, "-server-pid", strconv.Itoa(os.Getpid())}
	code, out, e := shoal(t, append(common, "-clients", "4", "-duration", "1s", "-every", "400ms", "-n", "500", "-dim", "8",
		"-upserts", "0.3", "-deletes", "0.1", "-tenant-ops", "0.3")...)
	if code != 0 {
		t.Fatalf("loadtest exited %d: %s\n%s", code, e, out)
	}
	for _, want := range []string{"| search |", "| upsert |", "| delete |", "| tenant op |", "Unexpected errors: 0", "Peak RSS"} {
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
