package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/shoaldb/shoal/client"
	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(&clikit.Command{Name: "client", Short: "talk to a shoal server: list, create, describe, drop, upsert, search, stats, snapshot, restore", Run: runClient})
}

// clientVerbs are the verbs of `shoal client`, with their arguments.
var clientVerbs = map[string]string{
	"list":     "",
	"create":   "NAME -dim N [-metric l2|ip|cosine] [-elem f32|f16|u8|i8]",
	"describe": "NAME",
	"drop":     "NAME",
	"stats":    "NAME",
	"upsert":   "NAME FILE [-first-id N] [-tenant T]",
	"search":   "NAME FILE [-k 10] [-nprobe N] [-tenant T]",
	"snapshot": "NAME DIR   (DIR: relative to the server's -snapshot-dir)",
	"restore":  "NAME DIR   (a new collection NAME from snapshot DIR)",
}

// clientOptions are the flags and arguments of `shoal client`.
type clientOptions struct {
	addr    string
	key     string
	verb    string
	name    string
	file    string
	dim     int
	metric  string
	elem    string
	firstID uint64
	tenant  string
	k       int
	nprobe  int
}

// Validate reports flags and arguments that cannot work.
func (o *clientOptions) Validate() error {
	args, ok := clientVerbs[o.verb]
	switch {
	case !ok:
		return fmt.Errorf("unknown verb %q", o.verb)
	case strings.HasPrefix(args, "NAME") && o.name == "":
		return fmt.Errorf("%s needs a collection name", o.verb)
	case strings.Contains(args, "FILE") && o.file == "":
		return fmt.Errorf("%s needs a vector file", o.verb)
	case strings.Contains(args, "DIR") && o.file == "":
		return fmt.Errorf("%s needs a snapshot directory", o.verb)
	case o.verb == "create" && o.dim < 1:
		return fmt.Errorf("create: -dim %d, want >= 1", o.dim)
	case o.verb == "search" && o.k < 1:
		return fmt.Errorf("search: -k %d, want >= 1", o.k)
	}
	if o.verb == "create" {
		_, _, err := clikit.ParseStorage(o.metric, o.elem)
		return err
	}
	return nil
}

// runClient is `shoal client`.
func runClient(ctx context.Context, env *clikit.Env, args []string) error {
	o := clientOptions{}
	fs := clikit.NewFlags(env, "client", "[-addr HOST:PORT] [-key KEY] VERB [args]")
	fs.StringVar(&o.addr, "addr", "localhost:7370", "server address")
	fs.StringVar(&o.key, "key", os.Getenv("SHOAL_API_KEY"), "API key (default $SHOAL_API_KEY)")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintln(env.Stderr, "verbs:")
		verbs := make([]string, 0, len(clientVerbs))
		for v := range clientVerbs {
			verbs = append(verbs, v)
		}
		slices.Sort(verbs)
		for _, v := range verbs {
			fmt.Fprintf(env.Stderr, "  %-9s %s\n", v, clientVerbs[v])
		}
	}
	if err := clikit.Parse(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return clikit.ErrUsage
	}
	o.verb, rest = rest[0], rest[1:]
	vfs := flag.NewFlagSet("client "+o.verb, flag.ContinueOnError)
	vfs.SetOutput(env.Stderr)
	vfs.IntVar(&o.dim, "dim", 0, "create: vector dimension")
	vfs.StringVar(&o.metric, "metric", "l2", "create: l2, ip or cosine")
	vfs.StringVar(&o.elem, "elem", "f32", "create: f32, f16, u8 or i8")
	vfs.Uint64Var(&o.firstID, "first-id", 0, "upsert: id of the file's first row")
	vfs.StringVar(&o.tenant, "tenant", "", "upsert, search: act for this tenant")
	vfs.IntVar(&o.k, "k", 10, "search: neighbours per query")
	vfs.IntVar(&o.nprobe, "nprobe", 0, "search: postings read (0: the collection's default)")
	// Positional arguments come first, flags after them.
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		if o.name == "" {
			o.name = rest[0]
		} else {
			o.file = rest[0]
		}
		rest = rest[1:]
	}
	if err := clikit.ParseValid(vfs, rest, &o); err != nil {
		return err
	}
	return o.Run(ctx, env)
}

// Run performs the verb against the server.
func (o *clientOptions) Run(ctx context.Context, env *clikit.Env) error {
	c, err := client.Dial(o.addr, &client.Options{APIKey: o.key})
	if err != nil {
		return err
	}
	defer c.Close()
	switch o.verb {
	case "list":
		resp, err := c.Collections.ListCollections(ctx, &shoalv1.ListCollectionsRequest{})
		if err != nil {
			return err
		}
		for _, col := range resp.GetCollections() {
			printCollection(env, col)
		}
	case "create":
		metric, elem, _ := clikit.ParseStorage(o.metric, o.elem)
		col, err := c.CreateCollection(ctx, o.name, &shoalv1.CollectionConfig{
			Dim: uint32(o.dim), Metric: apiMetric(metric), ElementType: apiElem(elem),
		})
		if err != nil {
			return err
		}
		printCollection(env, col)
	case "describe":
		col, err := c.Collections.DescribeCollection(ctx, &shoalv1.DescribeCollectionRequest{Name: o.name})
		if err != nil {
			return err
		}
		printCollection(env, col)
	case "drop":
		if err := c.DropCollection(ctx, o.name); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "dropped %s\n", o.name)
	case "stats":
		st, err := c.Collections.GetStats(ctx, &shoalv1.GetStatsRequest{Collection: o.name})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s: %d vectors, %d heads, %d queries, %d postings read, %s read from disk, cache %d hits / %d misses\n",
			st.GetCollection(), st.GetVectorCount(), st.GetHeads(), st.GetQueries(), st.GetPostingsRead(),
			clikit.FormatBytes(int64(st.GetBytesRead())), st.GetCacheHits(), st.GetCacheMisses())
	case "snapshot":
		r, err := c.Admin.CreateSnapshot(ctx, &shoalv1.CreateSnapshotRequest{Collection: o.name, Directory: o.file})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "snapshot of %s in %s: %d vectors, %s (%s before zstd)\n", o.name, r.GetDirectory(),
			r.GetVectors(), clikit.FormatBytes(int64(r.GetBytes())), clikit.FormatBytes(int64(r.GetRawBytes())))
	case "restore":
		col, err := c.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: o.file, Collection: o.name})
		if err != nil {
			return err
		}
		printCollection(env, col)
	case "upsert":
		return o.upsert(ctx, env, c)
	case "search":
		return o.search(ctx, env, c)
	}
	return nil
}

func printCollection(env *clikit.Env, col *shoalv1.Collection) {
	cfg := col.GetConfig()
	fmt.Fprintf(env.Stdout, "%s\t%d vectors\tdim %d\t%s\t%s\n", col.GetName(), col.GetVectorCount(), cfg.GetDim(),
		strings.TrimPrefix(cfg.GetMetric().String(), "METRIC_"), strings.TrimPrefix(cfg.GetElementType().String(), "ELEMENT_TYPE_"))
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

// clientBatch is how many rows one upsert message or search batch
// carries.
const clientBatch = 1000

// upsert streams the file's rows, row i as id first-id + i.
func (o *clientOptions) upsert(ctx context.Context, env *clikit.Env, c *client.Client) error {
	src, err := index.OpenFile(o.file)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := c.Vectors.UpsertStream(ctx)
	if err != nil {
		return err
	}
	rr := clikit.NewRowReader(src)
	n := src.Len()
	for lo := 0; lo < n; lo += clientBatch {
		rows, err := rr.Read(lo, min(clientBatch, n-lo))
		if err != nil {
			st.CloseSend()
			return err
		}
		msg := &shoalv1.UpsertRequest{Collection: o.name, Tenant: o.tenant, Vectors: make([]*shoalv1.Vector, len(rows))}
		for i, r := range rows {
			msg.Vectors[i] = &shoalv1.Vector{Id: o.firstID + uint64(lo+i), Values: slices.Clone(r)}
		}
		if err := st.Send(msg); err != nil {
			break // the server ended the stream: CloseAndRecv says why
		}
	}
	resp, err := st.CloseAndRecv()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "upserted %d vectors into %s\n", resp.GetUpserted(), o.name)
	return nil
}

// search runs the file's rows as queries and prints, per query, its row
// and the ids and distances of its neighbours. Each batch goes through
// SearchBatchStream, whose messages stay under gRPC's default receive
// limit whatever top_k is.
func (o *clientOptions) search(ctx context.Context, env *clikit.Env, c *client.Client) error {
	src, err := index.OpenFile(o.file)
	if err != nil {
		return err
	}
	defer src.Close()
	rr := clikit.NewRowReader(src)
	n := src.Len()
	for lo := 0; lo < n; lo += clientBatch {
		rows, err := rr.Read(lo, min(clientBatch, n-lo))
		if err != nil {
			return err
		}
		req := &shoalv1.SearchBatchRequest{
			Collection: o.name, TopK: uint32(o.k), Tenant: o.tenant,
			Params: &shoalv1.SearchParams{Nprobe: uint32(o.nprobe)},
		}
		for _, r := range rows {
			req.Queries = append(req.Queries, &shoalv1.Query{Values: r})
		}
		stream, err := c.Vectors.SearchBatchStream(ctx, req)
		if err != nil {
			return err
		}
		done := 0
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if int(resp.GetFirstQuery()) != done || done+len(resp.GetResults()) > len(rows) {
				return errors.New("the server answered queries out of order")
			}
			for _, r := range resp.GetResults() {
				var b strings.Builder
				fmt.Fprintf(&b, "%d", lo+done)
				for _, h := range r.GetHits() {
					fmt.Fprintf(&b, "\t%d:%g", h.GetId(), h.GetDistance())
				}
				fmt.Fprintln(env.Stdout, b.String())
				done++
			}
		}
		if done != len(rows) {
			return errors.New("the server answered a different number of queries")
		}
	}
	return nil
}
