package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/shoaldb/shoal/client"
	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// collectionsCommand is `shoal client collections`: create, describe,
// list, drop, stats.
func collectionsCommand(conn *connOptions) *clikit.Command {
	c := clikit.NewCommand("collections", "VERB", "manage collections: create, describe, list, drop, stats")
	c.Subs = []*clikit.Command{createCollectionVerb(conn), describeCollectionVerb(conn), listCollectionsVerb(conn),
		dropCollectionVerb(conn), statsVerb(conn)}
	return c
}

func createCollectionVerb(conn *connOptions) *clikit.Command {
	var dim, postingCap, replicas, shards, replication int
	var metric, elem, quant string
	c := clientVerb(conn, "create", "NAME -dim N [flags]", "create a collection", func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
		if err := needArgs(args, 1, "NAME"); err != nil {
			return err
		}
		m, e, err := clikit.ParseStorage(metric, elem)
		switch {
		case err != nil:
			return clikit.InvalidError(err)
		case dim < 1:
			return clikit.Invalidf("-dim %d, want >= 1", dim)
		case postingCap < 0 || replicas < 0:
			return clikit.Invalidf("-cap and -replicas must be >= 0")
		case shards < 0 || replication < 0:
			return clikit.Invalidf("-shards and -replication must be >= 0")
		}
		if _, _, err := index.ParseQuant(quant); err != nil {
			return clikit.Invalidf("-quant: %v", err)
		}
		col, err := c.CreateCollection(ctx, args[0], &shoalv1.CollectionConfig{
			Dim: uint32(dim), Metric: apiMetric(m), ElementType: apiElem(e),
			PostingCap: uint32(postingCap), Replicas: uint32(replicas), Quant: quant,
			Shards: uint32(shards), Replication: uint32(replication),
		})
		if err != nil {
			return err
		}
		printCollection(env, col)
		return nil
	})
	c.Flags.IntVar(&dim, "dim", 0, "vector dimension (required)")
	c.Flags.StringVar(&metric, "metric", "l2", "distance: l2, ip or cosine")
	clikit.ElemFlag(c.Flags, &elem, "f32", "how the collection stores vectors")
	c.Flags.IntVar(&postingCap, "cap", 0, "max vectors per posting before a split (0: 48 KiB worth)")
	c.Flags.IntVar(&replicas, "replicas", 0, "max postings per vector (0: 8)")
	clikit.QuantFlag(c.Flags, &quant, "none")
	c.Flags.IntVar(&shards, "shards", 0, "cluster mode: shards of the collection (0: one per live node)")
	c.Flags.IntVar(&replication, "replication", 0, "cluster mode: nodes holding each shard (0: min(3, live nodes))")
	return c
}

func describeCollectionVerb(conn *connOptions) *clikit.Command {
	return clientVerb(conn, "describe", "NAME", "print a collection's configuration and size", func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
		if err := needArgs(args, 1, "NAME"); err != nil {
			return err
		}
		col, err := c.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: args[0]})
		if err != nil {
			return err
		}
		printCollection(env, col)
		return nil
	})
}

func listCollectionsVerb(conn *connOptions) *clikit.Command {
	return clientVerb(conn, "list", "", "list the collections", func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
		if err := needArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		resp, err := c.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
		if err != nil {
			return err
		}
		for _, col := range resp.GetCollections() {
			printCollection(env, col)
		}
		return nil
	})
}

func dropCollectionVerb(conn *connOptions) *clikit.Command {
	return clientVerb(conn, "drop", "NAME", "drop a collection and everything in it", func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
		if err := needArgs(args, 1, "NAME"); err != nil {
			return err
		}
		if err := c.DropCollection(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "dropped %s\n", args[0])
		return nil
	})
}

func statsVerb(conn *connOptions) *clikit.Command {
	return clientVerb(conn, "stats", "NAME", "print a collection's counters: queries, reads, cache, updates", func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
		if err := needArgs(args, 1, "NAME"); err != nil {
			return err
		}
		st, err := c.Collections.GetStats(ctx, &shoalv1.GetStatsRequest{Collection: args[0]})
		if err != nil {
			return err
		}
		printStats(env, st)
		return nil
	})
}

func printStats(env *clikit.Env, st *shoalv1.CollectionStats) {
	fmt.Fprintf(env.Stdout, "%s: %d vectors, %d heads, %d queries, %d postings read, %s read from disk, cache %d hits / %d misses, %d upserted, %d deleted\n",
		st.GetCollection(), st.GetVectorCount(), st.GetHeads(), st.GetQueries(), st.GetPostingsRead(),
		clikit.FormatBytes(int64(st.GetBytesRead())), st.GetCacheHits(), st.GetCacheMisses(), st.GetUpserted(), st.GetDeleted())
}

func printCollection(env *clikit.Env, col *shoalv1.Collection) {
	cfg := col.GetConfig()
	quant := cfg.GetQuant()
	if quant == "" {
		quant = "none" // a server from before quantized postings
	}
	fmt.Fprintf(env.Stdout, "%s\t%d vectors\tdim %d\t%s\t%s\tquant %s", col.GetName(), col.GetVectorCount(), cfg.GetDim(),
		strings.TrimPrefix(cfg.GetMetric().String(), "METRIC_"), strings.TrimPrefix(cfg.GetElementType().String(), "ELEMENT_TYPE_"), quant)
	if cfg.GetShards() > 0 {
		fmt.Fprintf(env.Stdout, "\t%d shards × %d replicas", cfg.GetShards(), cfg.GetReplication())
	}
	fmt.Fprintln(env.Stdout)
}
