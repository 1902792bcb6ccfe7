package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/spf13/pflag"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServe runs `shoal serve` in-process, talks to it, cancels it (as
// SIGINT does) and restarts it on the same data directory.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	const key = "serve-test-admin-key"
	var metricsURL string
	serve := func(extra ...string) (addr string, stop func()) {
		var out, errb syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- runServe(ctx, &clikit.Env{Stdout: &out, Stderr: &errb}, append([]string{"-data-dir", dir, "-listen", "127.0.0.1:0", "-admin-key", key}, extra...))
		}()
		re := regexp.MustCompile(`serving on (\S+)`)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if m := re.FindStringSubmatch(out.String()); m != nil {
				addr = m[1]
				if m := regexp.MustCompile(`metrics on (\S+)`).FindStringSubmatch(out.String()); m != nil {
					metricsURL = m[1]
				}
				break
			}
			select {
			case err := <-done:
				t.Fatalf("serve exited early: %v\n%s", err, errb.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve printed no address:\n%s\n%s", out.String(), errb.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		return addr, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve returned %v\n%s", err, errb.String())
			}
			if !strings.Contains(errb.String(), "stopped gracefully") {
				t.Errorf("serve did not log a graceful stop:\n%s", errb.String())
			}
		}
	}
	ctx := context.Background()
	addr, stop := serve()
	c, err := client.Dial(addr, &client.Options{APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Upsert(ctx, "docs", []uint64{7}, [][]float32{{1, 2}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	stop()
	// A stopped server's data directory checks offline, collection by
	// collection.
	mustShoal(t, []string{"check", "-data-dir", dir}, `OK collection "docs": 1 vectors`, ": 1 collections")

	addr, stop = serve("-metrics-listen", "127.0.0.1:0", "-max-hits", "1", "-max-response", "1MiB", "-max-payload", "32")
	defer stop()
	c, err = client.Dial(addr, &client.Options{APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hits, err := c.Search(ctx, "docs", []float32{1, 2}, 1, nil)
	if err != nil || len(hits) != 1 || hits[0].GetId() != 7 {
		t.Fatalf("after a restart: hits %v, %v; want id 7", hits, err)
	}
	// -max-payload 32 reached the server: 32 bytes of compact JSON pass,
	// 33 do not.
	ok := map[string]any{"t": strings.Repeat("x", 24)}   // {"t":"xxx…"}: 32 bytes
	over := map[string]any{"t": strings.Repeat("x", 25)} // 33 bytes
	if err := c.UpsertRecords(ctx, "docs", []client.Record{{ID: 8, Values: []float32{3, 4}, Payload: ok}}); err != nil {
		t.Errorf("payload of 32 bytes with -max-payload 32: %v", err)
	}
	if err := c.UpsertRecords(ctx, "docs", []client.Record{{ID: 9, Values: []float32{3, 4}, Payload: over}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("payload of 33 bytes with -max-payload 32: %v, want InvalidArgument", err)
	}
	// -max-hits 1 reached the server.
	if _, err := c.Search(ctx, "docs", []float32{1, 2}, 2, nil); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("Search of top 2 with -max-hits 1: %v, want ResourceExhausted", err)
	}
	// -metrics-listen serves Prometheus text with the call just made.
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatalf("GET %q: %v", metricsURL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`shoal_grpc_requests_total{code="OK",method="Search",service="shoal.v1.VectorService"} 1`, // client_golang sorts labels by name
		"\nshoal_collections 1\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestServeValidate(t *testing.T) {
	ok := serveOptions{dataDir: "d", listen: "localhost:7370", logLevel: "info"}
	for _, tc := range []struct {
		name string
		edit func(*serveOptions)
		want string // substring of the error; "" for none
	}{
		{"defaults", func(*serveOptions) {}, ""},
		{"no auth on loopback", func(o *serveOptions) { o.listen = "127.0.0.1:1" }, ""},
		{"no auth on all interfaces", func(o *serveOptions) { o.listen = ":7370" }, "not a loopback"},
		{"no auth allowed", func(o *serveOptions) { o.listen = ":7370"; o.noAuth = true }, ""},
		{"admin key", func(o *serveOptions) { o.listen = ":7370"; o.adminKey = "0123456789abcdef" }, ""},
		{"short admin key", func(o *serveOptions) { o.adminKey = "short" }, "at least 16"},
		{"cert without key", func(o *serveOptions) { o.tlsCert = "c.pem" }, "go together"},
		{"bad log level", func(o *serveOptions) { o.logLevel = "loud" }, "log-level"},
		{"no data dir", func(o *serveOptions) { o.dataDir = "" }, "data-dir"},
		{"negative max hits", func(o *serveOptions) { o.maxHits = -1 }, "-max-hits"},
		{"max response above 2GiB", func(o *serveOptions) { o.maxResponse = 3 << 30 }, "-max-response"},
		{"cluster node", func(o *serveOptions) { o.cluster = "nats://n:4222"; o.streamReplicas = 3 }, ""},
		{"cluster on all interfaces without advertise", func(o *serveOptions) {
			o.cluster, o.streamReplicas, o.listen, o.adminKey = "nats://n:4222", 3, "0.0.0.0:7370", "0123456789abcdef"
		}, "-advertise"},
		{"cluster with advertise", func(o *serveOptions) {
			o.cluster, o.streamReplicas, o.listen, o.adminKey, o.advertise = "nats://n:4222", 3, ":7370", "0123456789abcdef", "h:7370"
		}, ""},
		{"cluster stream replicas", func(o *serveOptions) { o.cluster = "nats://n:4222"; o.streamReplicas = 7 }, "-stream-replicas"},
		{"cluster with TLS", func(o *serveOptions) {
			o.cluster, o.streamReplicas, o.tlsCert, o.tlsKey = "nats://n:4222", 3, "c", "k"
		}, "plaintext"},
	} {
		o := ok
		tc.edit(&o)
		err := o.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: Validate() = %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

// TestServeConfig checks -config: settings from the file, flags on the
// command line winning, and errors that name the line.
func TestServeConfig(t *testing.T) {
	write := func(text string) string {
		p := filepath.Join(t.TempDir(), "shoal.conf")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var listen, level *string
	var batch *int
	newFS := func() *pflag.FlagSet {
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		listen = fs.String("listen", "localhost:7370", "")
		batch = fs.Int("max-batch", 100, "")
		level = fs.String("log-level", "info", "")
		// As cobra does: the command line is parsed by another flag set
		// that shares the flags.
		cmdLine := pflag.NewFlagSet("cobra", pflag.ContinueOnError)
		cmdLine.AddFlagSet(fs)
		if err := cmdLine.Parse([]string{"--listen", "127.0.0.1:9"}); err != nil {
			t.Fatal(err)
		}
		return fs
	}
	fs := newFS()
	err := applyConfig(fs, write("# a comment\n\nlisten = 0.0.0.0:1\nmax-batch = 7\n  log-level=debug  \n"))
	if err != nil || *listen != "127.0.0.1:9" || *batch != 7 || *level != "debug" {
		t.Fatalf("applyConfig = %v; listen %q (the command line's), max-batch %d, log-level %q; want 127.0.0.1:9, 7, debug", err, *listen, *batch, *level)
	}
	for text, want := range map[string]string{
		"max-batch = 7\nlisten-port = 1\n": ":2: unknown setting \"listen-port\"",
		"config = other.conf\n":            "unknown setting \"config\"",
		"max-batch\n":                      ":1: \"max-batch\" is not `name = value`",
		"max-batch = many\n":               ":1: max-batch",
	} {
		if err := applyConfig(newFS(), write(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: %v, want an error containing %q", text, err, want)
		}
	}
	var out, errb syncBuffer
	err = runServe(context.Background(), &clikit.Env{Stdout: &out, Stderr: &errb}, []string{"-config", write("no-such = 1\n")})
	if err == nil || !strings.Contains(err.Error(), "unknown setting") {
		t.Fatalf("shoal serve with a bad config: %v, want an unknown-setting error", err)
	}
}

// TestServeConfigQuotes: a config value in double or single quotes is
// the text between them; a lone or mismatched quote stays.
func TestServeConfigQuotes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shoal.conf")
	text := "log-level = \"debug\"\nsnapshot-dir = '/srv/snap shots'\nimport-dir = \"/x'\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	level := fs.String("log-level", "info", "")
	snap := fs.String("snapshot-dir", "", "")
	imp := fs.String("import-dir", "", "")
	if err := applyConfig(fs, p); err != nil {
		t.Fatal(err)
	}
	if *level != "debug" || *snap != "/srv/snap shots" || *imp != "\"/x'" {
		t.Errorf("log-level %q, snapshot-dir %q, import-dir %q; want debug, /srv/snap shots and \"/x' as written", *level, *snap, *imp)
	}
}
