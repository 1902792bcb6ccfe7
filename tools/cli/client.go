package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/client"
	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/spf13/pflag"
)

func init() { register(newClient) }

// connOptions are the flags of `shoal client` that every verb shares:
// where the server is, the API key, and TLS.
type connOptions struct {
	addr       string
	key        string
	tls        bool
	ca         string
	serverName string
	insecure   bool
}

// apiKeyEnv is the variable the client reads its key from; adminKeyEnv is
// the server's, which users often set instead.
const (
	apiKeyEnv   = "SHOAL_API_KEY"
	adminKeyEnv = "SHOAL_ADMIN_KEY"
)

// define defines the connection flags on fs.
func (o *connOptions) define(fs *pflag.FlagSet) {
	fs.StringVar(&o.addr, "addr", "localhost:7370", "server address (host:port)")
	fs.StringVar(&o.key, "key", os.Getenv(apiKeyEnv), "API key (default $"+apiKeyEnv+")")
	fs.BoolVar(&o.tls, "tls", false, "connect with TLS, verifying the server against the system's CAs (or -ca)")
	fs.StringVar(&o.ca, "ca", "", "PEM file of the CA that signed the server's certificate (implies -tls)")
	fs.StringVar(&o.serverName, "server-name", "", "name to verify the server's certificate for (default: the host of -addr; implies -tls)")
	fs.BoolVar(&o.insecure, "insecure-skip-verify", false, "TLS without verifying the server's certificate (testing only; implies -tls)")
}

// dial connects to the server as o says.
func (o *connOptions) dial() (*client.Client, error) {
	opts := &client.Options{APIKey: o.key}
	if o.tls || o.ca != "" || o.serverName != "" || o.insecure {
		cfg := &tls.Config{ServerName: o.serverName, InsecureSkipVerify: o.insecure, MinVersion: tls.VersionTLS12}
		if o.ca != "" {
			pem, err := os.ReadFile(o.ca)
			if err != nil {
				return nil, fmt.Errorf("-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("-ca %s: no PEM certificate in it", o.ca)
			}
			cfg.RootCAs = pool
		}
		opts.TLS = cfg
	}
	return client.Dial(o.addr, opts)
}

// explain adds to a failed call's error what the user can do about it.
func (o *connOptions) explain(err error) error {
	switch status.Code(err) {
	case codes.Unauthenticated:
		switch {
		case o.key == "" && os.Getenv(adminKeyEnv) != "":
			return fmt.Errorf("%w\n(no API key sent: the client reads $%s or -key, not $%s; run `export %s=$%s` or pass -key)",
				err, apiKeyEnv, adminKeyEnv, apiKeyEnv, adminKeyEnv)
		case o.key == "":
			return fmt.Errorf("%w\n(no API key sent: set $%s or pass -key)", err, apiKeyEnv)
		}
		return fmt.Errorf("%w\n(the server refused the key from %s)", err, o.keySource())
	case codes.Unavailable:
		hint := "is `shoal serve` running there?"
		if !o.tls && strings.Contains(err.Error(), "connection reset") {
			hint = "does it serve TLS? then pass -tls (and -ca FILE for a private CA)"
		}
		return fmt.Errorf("%w\n(cannot reach %s: %s)", err, o.addr, hint)
	}
	return err
}

func (o *connOptions) keySource() string {
	if os.Getenv(apiKeyEnv) == o.key {
		return "$" + apiKeyEnv
	}
	return "-key"
}

// clientVerb makes a sub-command of `shoal client` whose run gets a
// connected client; conn is the parent's connection flags.
func clientVerb(conn *connOptions, name, args, short string, run func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error) *clikit.Command {
	cmd := clikit.NewCommand(name, args, short)
	cmd.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		c, err := conn.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		return conn.explain(run(ctx, env, c, args))
	}
	return cmd
}

// newClient is `shoal client`: one sub-command per RPC (or group of
// them), each with flags of its own; the connection flags are shared.
func newClient() *clikit.Command {
	conn := &connOptions{}
	c := clikit.NewCommand("client", "VERB [args] [flags]", "talk to a shoal server: collections, vectors, search, labels, payloads, tenants, keys, snapshots, stats, health")
	c.Group = clikit.GroupServer
	c.Long = `Talk to a shoal server over gRPC. Every verb takes the connection flags
(-addr, -key, -tls, -ca, -server-name, -insecure-skip-verify) before or after it.
The API key comes from -key or $SHOAL_API_KEY.`
	conn.define(c.Persistent)
	// The collection verbs are also top-level (shoal client create …), as
	// they were before the collections group.
	c.Subs = []*clikit.Command{
		collectionsCommand(conn),
		createCollectionVerb(conn), describeCollectionVerb(conn), listCollectionsVerb(conn),
		dropCollectionVerb(conn), statsVerb(conn),
		upsertVerb(conn), getVerb(conn), deleteVerb(conn), searchVerb(conn),
		labelsCommand(conn), payloadsCommand(conn), tenantsCommand(conn), keysCommand(conn),
		snapshotsCommand(conn), snapshotCreateVerb(conn, "snapshot"), snapshotRestoreVerb(conn, "restore"),
		serverCommand(conn), healthVerb(conn), importCommand(conn),
	}
	return c
}

// needArgs checks that args holds exactly the n positional arguments
// names describes.
func needArgs(args []string, n int, names string) error {
	if len(args) != n {
		return clikit.Usagef("want %s, got %d arguments", names, len(args))
	}
	return nil
}

// parseIDs parses ids given as arguments.
func parseIDs(args []string) ([]uint64, error) {
	ids := make([]uint64, len(args))
	for i, a := range args {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return nil, clikit.Usagef("id %q: want an unsigned integer", a)
		}
		ids[i] = id
	}
	return ids, nil
}

// idSource is the flags that give a verb its ids besides its arguments:
// -ids FILE and -range A:B.
type idSource struct {
	file string
	rng  idRange
}

func (s *idSource) define(cmd *clikit.Command) {
	cmd.Flags.StringVar(&s.file, "ids", "", "ids from a file (.ivecs .ibin or int32 .npy, all rows)")
	cmd.Flags.Var(&s.rng, "range", "ids A:B, that is A, A+1, …, B-1")
}

// ids returns the ids of args, the -ids file and -range, in that order;
// none is an error.
func (s *idSource) ids(args []string) ([]uint64, error) {
	ids, err := parseIDs(args)
	if err != nil {
		return nil, err
	}
	if s.file != "" {
		more, err := readIDs(s.file)
		if err != nil {
			return nil, err
		}
		ids = append(ids, more...)
	}
	if s.rng.set {
		for id := s.rng.lo; id < s.rng.hi; id++ {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, clikit.Usagef("no ids: give them as arguments, -ids FILE or -range A:B")
	}
	return ids, nil
}

func apiMetric(m index.Metric) shoalv1.Metric {
	switch m {
	case index.InnerProduct:
		return shoalv1.Metric_METRIC_INNER_PRODUCT
	case index.Cosine:
		return shoalv1.Metric_METRIC_COSINE
	}
	return shoalv1.Metric_METRIC_L2
}

func apiElem(e index.ElemType) shoalv1.ElementType {
	switch e {
	case index.Float16:
		return shoalv1.ElementType_ELEMENT_TYPE_FLOAT16
	case index.Uint8:
		return shoalv1.ElementType_ELEMENT_TYPE_UINT8
	case index.Int8:
		return shoalv1.ElementType_ELEMENT_TYPE_INT8
	}
	return shoalv1.ElementType_ELEMENT_TYPE_FLOAT32
}

// errMissing reports ids that a verb needed and the server does not hold.
var errMissing = errors.New("not found")
