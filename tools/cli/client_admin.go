package cli

import (
	"context"
	"fmt"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// tenantsCommand is `shoal client tenants`: create, delete, list, grant,
// revoke.
func tenantsCommand(conn *connOptions) *clikit.Command {
	c := clikit.NewCommand("tenants", "VERB", "manage a collection's tenants: create, delete, list, grant, revoke")
	simple := func(name, short string, call func(ctx context.Context, c *client.Client, col, tenant string) error, done string) *clikit.Command {
		return clientVerb(conn, name, "COLLECTION TENANT", short, func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if err := needArgs(args, 2, "COLLECTION TENANT"); err != nil {
				return err
			}
			if err := call(ctx, c, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s tenant %s of %s\n", done, args[1], args[0])
			return nil
		})
	}
	access := func(name, short string, call func(ctx context.Context, c *client.Client, col, tenant string, ids []uint64) error, done string) *clikit.Command {
		var src idSource
		cmd := clientVerb(conn, name, "COLLECTION TENANT (ID... | -ids FILE | -range A:B)", short, func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if len(args) < 2 {
				return clikit.Usagef("want COLLECTION TENANT and ids")
			}
			ids, err := src.ids(args[2:])
			if err != nil {
				return err
			}
			for lo := 0; lo < len(ids); lo += clientBatch {
				if err := call(ctx, c, args[0], args[1], ids[lo:min(lo+clientBatch, len(ids))]); err != nil {
					return err
				}
			}
			fmt.Fprintf(env.Stdout, "%s %d ids %s tenant %s of %s\n", done, len(ids), map[string]string{"granted": "to", "revoked": "from"}[done], args[1], args[0])
			return nil
		})
		src.define(cmd)
		return cmd
	}
	list := clientVerb(conn, "list", "COLLECTION", "list a collection's tenants", func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
		if err := needArgs(args, 1, "COLLECTION"); err != nil {
			return err
		}
		resp, err := c.Tenants.ListTenants(ctx, &shoalv1.ListTenantsRequest{Collection: args[0]})
		if err != nil {
			return err
		}
		for _, t := range resp.GetTenants() {
			fmt.Fprintln(env.Stdout, t)
		}
		return nil
	})
	c.Subs = []*clikit.Command{
		simple("create", "create a tenant", func(ctx context.Context, c *client.Client, col, t string) error {
			_, err := c.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: col, Tenant: t})
			return err
		}, "created"),
		simple("delete", "delete a tenant, the vectors it owns and its keys", func(ctx context.Context, c *client.Client, col, t string) error {
			_, err := c.Tenants.DeleteTenant(ctx, &shoalv1.DeleteTenantRequest{Collection: col, Tenant: t})
			return err
		}, "deleted"),
		list,
		access("grant", "let a tenant read vectors", func(ctx context.Context, c *client.Client, col, t string, ids []uint64) error {
			_, err := c.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: col, Tenant: t, Ids: ids})
			return err
		}, "granted"),
		access("revoke", "take back a tenant's access to vectors", func(ctx context.Context, c *client.Client, col, t string, ids []uint64) error {
			_, err := c.Tenants.Revoke(ctx, &shoalv1.RevokeRequest{Collection: col, Tenant: t, Ids: ids})
			return err
		}, "revoked"),
	}
	return c
}

// keysCommand is `shoal client keys`: create, revoke, list.
func keysCommand(conn *connOptions) *clikit.Command {
	c := clikit.NewCommand("keys", "VERB", "manage tenant API keys: create, revoke, list (admin key)")
	create := clientVerb(conn, "create", "COLLECTION TENANT", "make an API key bound to one tenant of one collection; prints its secret once",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if err := needArgs(args, 2, "COLLECTION TENANT"); err != nil {
				return err
			}
			resp, err := c.Admin.CreateAPIKey(ctx, &shoalv1.CreateAPIKeyRequest{Collection: args[0], Tenant: args[1]})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "id %s\nsecret %s\n", resp.GetKey().GetId(), resp.GetSecret())
			return nil
		})
	revoke := clientVerb(conn, "revoke", "ID", "revoke an API key by its id", func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
		if err := needArgs(args, 1, "ID"); err != nil {
			return err
		}
		if _, err := c.Admin.RevokeAPIKey(ctx, &shoalv1.RevokeAPIKeyRequest{Id: args[0]}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "revoked key %s\n", args[0])
		return nil
	})
	list := clientVerb(conn, "list", "", "list the API keys (ids, not secrets)", func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
		if err := needArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		resp, err := c.Admin.ListAPIKeys(ctx, &shoalv1.ListAPIKeysRequest{})
		if err != nil {
			return err
		}
		for _, k := range resp.GetKeys() {
			fmt.Fprintf(env.Stdout, "%s\t%s\t%s\t%s\n", k.GetId(), k.GetCollection(), k.GetTenant(), time.UnixMilli(k.GetCreatedUnixMs()).UTC().Format(time.RFC3339))
		}
		return nil
	})
	c.Subs = []*clikit.Command{create, revoke, list}
	return c
}

// snapshotsCommand is `shoal client snapshots`: create, restore.
func snapshotsCommand(conn *connOptions) *clikit.Command {
	c := clikit.NewCommand("snapshots", "VERB", "snapshot a collection, or restore one as a new collection")
	c.Subs = []*clikit.Command{snapshotCreateVerb(conn, "create"), snapshotRestoreVerb(conn, "restore")}
	return c
}

func snapshotCreateVerb(conn *connOptions, name string) *clikit.Command {
	return clientVerb(conn, name, "COLLECTION DIR", "write a consistent snapshot of a collection to DIR (relative to the server's -snapshot-dir)",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if err := needArgs(args, 2, "COLLECTION DIR"); err != nil {
				return err
			}
			r, err := c.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: args[0], Directory: args[1]})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "snapshot of %s in %s: %d vectors, %s (%s before zstd)\n", args[0], r.GetDirectory(),
				r.GetVectors(), clikit.FormatBytes(int64(r.GetBytes())), clikit.FormatBytes(int64(r.GetRawBytes())))
			return nil
		})
}

func snapshotRestoreVerb(conn *connOptions, name string) *clikit.Command {
	return clientVerb(conn, name, "COLLECTION DIR", "restore snapshot DIR as a new collection COLLECTION",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if err := needArgs(args, 2, "COLLECTION DIR"); err != nil {
				return err
			}
			col, err := c.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: args[1], Collection: args[0]})
			if err != nil {
				return err
			}
			printCollection(env, col)
			return nil
		})
}

// serverCommand is `shoal client server stats`.
func serverCommand(conn *connOptions) *clikit.Command {
	c := clikit.NewCommand("server", "stats", "the server as a whole: stats")
	stats := clientVerb(conn, "stats", "", "print the server's uptime, heap and every collection's counters",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if err := needArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			st, err := c.Admin.GetServerStats(ctx, &shoalv1.GetServerStatsRequest{})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%d collections, up %v, heap %s\n", st.GetCollections(),
				(time.Duration(st.GetUptimeMs()) * time.Millisecond).Round(time.Second), clikit.FormatBytes(int64(st.GetHeapBytes())))
			for _, cs := range st.GetCollectionStats() {
				printStats(env, cs)
			}
			return nil
		})
	c.Subs = []*clikit.Command{stats}
	return c
}

// healthVerb is `shoal client health`: exit status 0 when the server's
// gRPC health service says SERVING (a container's HEALTHCHECK).
func healthVerb(conn *connOptions) *clikit.Command {
	var service string
	var timeout time.Duration
	cmd := clientVerb(conn, "health", "[flags]", "exit 0 when the server's gRPC health service says SERVING, 1 otherwise",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if err := needArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			resp, err := c.Health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
			if err != nil {
				return err
			}
			st := resp.GetStatus()
			if st != healthpb.HealthCheckResponse_SERVING {
				return fmt.Errorf("%s is %v", conn.addr, st)
			}
			fmt.Fprintf(env.Stdout, "%s: %v\n", conn.addr, st)
			return nil
		})
	cmd.Flags.StringVar(&service, "service", "", "the service to ask about (empty: the server as a whole)")
	cmd.Flags.DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}
