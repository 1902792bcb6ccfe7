package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoaldb/shoal/server"
	"github.com/shoaldb/shoal/tools/internal/clitest"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

// clientFixture is a server on a loopback port with a data set.
type clientFixture struct {
	t          *testing.T
	addr, key  string
	data       string
	base, qry  string
	connection []string
}

func newClientFixture(t *testing.T) *clientFixture {
	const key = "client-verbs-admin-key"
	f := &clientFixture{t: t, addr: clitest.Server(t, key), key: key, data: filepath.Join(t.TempDir(), "data")}
	if err := synth.Generate(context.Background(), nil, synth.Spec{N: 600, Queries: 5, Dim: 8, Seed: 1}, f.data); err != nil {
		t.Fatal(err)
	}
	f.base, f.qry = filepath.Join(f.data, "base.fvecs"), filepath.Join(f.data, "query.fvecs")
	f.connection = []string{"-addr", f.addr, "-key", key}
	return f
}

// run runs shoal client with the verb's words and arguments and the
// connection flags after them.
func (f *clientFixture) run(args ...string) (int, string, string) {
	f.t.Helper()
	return shoal(f.t, append(append([]string{"client"}, args...), f.connection...)...)
}

// ok runs and wants exit 0 and stdout containing each of wants.
func (f *clientFixture) ok(args []string, wants ...string) string {
	f.t.Helper()
	code, out, e := f.run(args...)
	if code != 0 {
		f.t.Fatalf("shoal client %s: exit %d: %s", strings.Join(args, " "), code, e)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			f.t.Fatalf("shoal client %s printed %q, want %q", strings.Join(args, " "), out, w)
		}
	}
	return out
}

// fails runs and wants exit code and stderr containing want.
func (f *clientFixture) fails(code int, want string, args ...string) {
	f.t.Helper()
	c, _, e := f.run(args...)
	if c != code || !strings.Contains(e, want) {
		f.t.Errorf("shoal client %s: exit %d, %q; want %d and %q", strings.Join(args, " "), c, e, code, want)
	}
}

// TestClientUpsertIDs: upsert takes no implicit first id, and refuses
// ids that exist unless -upsert says to replace them.
func TestClientUpsertIDs(t *testing.T) {
	f := newClientFixture(t)
	f.ok([]string{"collections", "create", "docs", "-dim", "8"}, "docs\t0 vectors\tdim 8")
	f.fails(1, "-first-id N", "upsert", "docs", f.base)
	f.ok([]string{"upsert", "docs", f.base, "-first-id", "0"}, "upserted 600 vectors")
	f.fails(1, "pass -upsert to replace them", "upsert", "docs", f.base, "-first-id", "590")
	f.ok([]string{"upsert", "docs", f.base, "-first-id", "590", "-upsert"}, "upserted 600 vectors")
	f.ok([]string{"collections", "describe", "docs"}, "1190 vectors")
	ids := filepath.Join(t.TempDir(), "ids.ivecs")
	rows := make([]int32, 600)
	for i := range rows {
		rows[i] = int32(5000 + 2*i)
	}
	writeIvecs(t, ids, rows...)
	f.ok([]string{"upsert", "docs", f.base, "-ids", ids}, "upserted 600 vectors")
	f.fails(1, "-first-id N", "upsert", "docs", f.base, "-ids", ids, "-first-id", "3")
	// Each verb has its own flags: search's -k is no flag of create.
	f.fails(2, "unknown flag: --k", "create", "x", "-dim", "8", "-k", "3")
}

// TestClientVectorVerbs: get, delete, labels and a filtered search, with
// payloads asked for.
func TestClientVectorVerbs(t *testing.T) {
	f := newClientFixture(t)
	f.ok([]string{"create", "docs", "-dim", "8"})
	big := strconv.FormatUint(1<<40, 10)
	f.ok([]string{"upsert", "docs", f.base, "-first-id", big})
	out := f.ok([]string{"get", "docs", big, strconv.FormatUint(1<<40+1, 10)})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var v struct {
		ID     uint64    `json:"id"`
		Values []float32 `json:"values"`
	}
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &v) != nil || v.ID != 1<<40 || len(v.Values) != 8 {
		t.Fatalf("get printed %q, want 2 JSON lines, the first of id 2^40 with 8 values", out)
	}
	f.fails(1, "1 ids not found", "get", "docs", big, "7")
	f.ok([]string{"delete", "docs", big, strconv.FormatUint(1<<40+1, 10), "7"}, "deleted 2 vectors from docs (3 ids given)")
	lo := uint64(1<<40 + 100)
	f.ok([]string{"labels", "set", "docs", "-range", strconv.FormatUint(lo, 10) + ":" + strconv.FormatUint(lo+10, 10), "-label-ids", "7"}, "set the labels of 10 vectors")
	f.fails(1, "no labels given", "labels", "set", "docs", big)
	out = f.ok([]string{"search", "docs", f.qry, "-k", "3", "-filter", "7"})
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		hits := strings.Split(line, "\t")[1:]
		if len(hits) != 3 {
			t.Fatalf("search -filter 7 line %q: want 3 hits", line)
		}
		for _, h := range hits {
			id, _ := strconv.ParseUint(strings.Split(h, ":")[0], 10, 64)
			if id < lo || id >= lo+10 {
				t.Errorf("search -filter 7 returned %d, want only the labelled ids", id)
			}
		}
	}
	out = f.ok([]string{"search", "docs", f.qry, "-k", "2", "-include-payload"})
	var q struct {
		Query int               `json:"query"`
		Hits  []json.RawMessage `json:"hits"`
	}
	if first := strings.Split(out, "\n")[0]; json.Unmarshal([]byte(first), &q) != nil || len(q.Hits) != 2 {
		t.Errorf("search -include-payload printed %q, want JSON lines of 2 hits", first)
	}
	// Payloads: set from a file, read back, replaced inline; label names.
	pid := strconv.FormatUint(1<<40+7, 10)
	pl := filepath.Join(t.TempDir(), "p.jsonl")
	if err := os.WriteFile(pl, []byte(`{"id": `+pid+`, "payload": {"title": "a"}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.ok([]string{"payloads", "set", "docs", "-file", pl}, "set the payloads of 1 vectors in docs")
	f.ok([]string{"payloads", "get", "docs", pid}, `{"id":`+pid+`,"payload":{"title":"a"}}`)
	f.ok([]string{"payloads", "set", "docs", pid, `{"title": "b"}`}, "set the payloads of 1 vectors in docs")
	f.ok([]string{"payloads", "get", "docs", pid}, `"title":"b"`)
	f.ok([]string{"labels", "set", "docs", pid, "-names", "color=red"})
	f.ok([]string{"labels", "list", "docs"}, "color=red\t2147483648")
	out = f.ok([]string{"search", "docs", f.qry, "-k", "5", "-filter", "color=red"})
	if first := strings.Split(out, "\n")[0]; !strings.Contains(first, pid+":") || strings.Count(first, ":") != 1 {
		t.Errorf("search -filter color=red: first line %q, want the one vector labelled color=red (%s)", first, pid)
	}
	f.fails(1, "InvalidArgument", "search", "docs", f.qry, "-k", "5", "-filter", "color=blue")
	f.fails(1, "not a JSON object", "payloads", "set", "docs", big, `[1]`)
}

// TestClientAdminVerbs: tenants, keys, snapshots, server stats, health.
func TestClientAdminVerbs(t *testing.T) {
	f := newClientFixture(t)
	f.ok([]string{"create", "docs", "-dim", "8"})
	f.ok([]string{"upsert", "docs", f.base, "-first-id", "0"})
	f.ok([]string{"tenants", "create", "docs", "acme"}, "created tenant acme of docs")
	f.ok([]string{"tenants", "list", "docs"}, "acme")
	f.ok([]string{"tenants", "grant", "docs", "acme", "-range", "0:10"}, "granted 10 ids to tenant acme")
	f.ok([]string{"search", "docs", f.qry, "-k", "2", "-tenant", "acme"})
	f.ok([]string{"tenants", "revoke", "docs", "acme", "3", "4"}, "revoked 2 ids from tenant acme")
	out := f.ok([]string{"keys", "create", "docs", "acme"}, "id ", "secret ")
	id := strings.TrimPrefix(strings.Split(out, "\n")[0], "id ")
	f.ok([]string{"keys", "list"}, id+"\tdocs\tacme")
	f.ok([]string{"keys", "revoke", id}, "revoked key "+id)
	f.ok([]string{"tenants", "delete", "docs", "acme"}, "deleted tenant acme")
	f.ok([]string{"snapshots", "create", "docs", "s/1"}, "600 vectors")
	f.ok([]string{"snapshots", "restore", "docs2", "s/1"}, "docs2\t600 vectors")
	f.ok([]string{"server", "stats"}, "2 collections", "docs: 600 vectors")
	f.ok([]string{"health"}, "SERVING")
	f.ok([]string{"stats", "docs"}, "docs: 600 vectors")
	f.ok([]string{"collections", "drop", "docs2"}, "dropped docs2")
}

// TestClientKeyHints: a call without a key says which variable the
// client reads, also when only the server's variable is set.
func TestClientKeyHints(t *testing.T) {
	f := newClientFixture(t)
	f.connection = []string{"-addr", f.addr}
	t.Setenv("SHOAL_API_KEY", "")
	t.Setenv("SHOAL_ADMIN_KEY", f.key)
	f.fails(1, "the client reads $SHOAL_API_KEY or -key, not $SHOAL_ADMIN_KEY", "list")
	t.Setenv("SHOAL_ADMIN_KEY", "")
	f.fails(1, "set $SHOAL_API_KEY or pass -key", "list")
	t.Setenv("SHOAL_API_KEY", f.key)
	f.ok([]string{"list"})
}

// TestClientHealthDown: health of an address nobody serves fails.
func TestClientHealthDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	if code, _, e := shoal(t, "client", "health", "-addr", addr, "-timeout", "2s"); code != 1 || !strings.Contains(e, "cannot reach") {
		t.Errorf("health of %s: exit %d, %q; want 1 and that it cannot reach it", addr, code, e)
	}
}

// TestClientTLS: -tls -ca FILE talks to a TLS server; a plaintext client
// fails.
func TestClientTLS(t *testing.T) {
	cert, caPEM := selfSignedPEM(t)
	const key = "client-tls-admin-key"
	addr := clitest.ServerWith(t, server.Options{AdminKey: key, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, e := shoal(t, "client", "health", "-addr", addr, "-ca", ca); code != 0 || !strings.Contains(out, "SERVING") {
		t.Errorf("health over TLS with -ca: exit %d, %q %q", code, out, e)
	}
	if code, _, _ := shoal(t, "client", "health", "-addr", addr, "-tls", "-insecure-skip-verify", "-key", key); code != 0 {
		t.Errorf("health over TLS with -insecure-skip-verify: exit %d", code)
	}
	if code, _, _ := shoal(t, "client", "health", "-addr", addr, "-timeout", "2s"); code == 0 {
		t.Errorf("health in plaintext against a TLS server exited 0")
	}
	if code, _, _ := shoal(t, "client", "health", "-addr", addr, "-tls", "-timeout", "2s"); code == 0 {
		t.Errorf("health over TLS without trusting the certificate exited 0")
	}
}

// selfSignedPEM returns a certificate for 127.0.0.1 and its PEM.
func selfSignedPEM(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "shoal test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestClientCreateQuant: collections create -quant asks for quantized
// postings; create, describe and list print what the collection got.
func TestClientCreateQuant(t *testing.T) {
	f := newClientFixture(t)
	f.ok([]string{"collections", "create", "docs", "-dim", "8", "-quant", "rabitq"}, "docs\t0 vectors\tdim 8\tL2\tFLOAT32\tquant rabitq4")
	f.ok([]string{"create", "rows", "-dim", "8", "-quant", "none"}, "\tquant none")
	f.ok([]string{"create", "dflt", "-dim", "8"}, "\tquant none")
	f.ok([]string{"upsert", "docs", f.base, "-first-id", "0"}, "upserted 600 vectors")
	f.ok([]string{"search", "docs", f.qry, "-k", "3"})
	f.ok([]string{"describe", "docs"}, "600 vectors", "quant rabitq4")
	f.ok([]string{"list"}, "docs\t600 vectors\tdim 8\tL2\tFLOAT32\tquant rabitq4", "rows\t0 vectors", "dflt\t0 vectors")
	f.fails(1, "-quant", "create", "bad", "-dim", "8", "-quant", "rabitq9")
}
