package benchcli

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/shoaldb/shoal/client"
	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newImportBench)
}

const importBenchAbout = `Opens a server (in this process, gRPC on loopback) over a temporary data
directory, writes the first -n rows of -data into its import directory,
creates an empty collection of their dimension (-metric), and imports the
file with StartImport (-method), polling GetImport until the job ends:
"done". Then it polls GetStats until background maintenance has done
nothing (no split, merge, reassign, no change of the posting tails) for
-settle: "settled" (a build leaves nothing to do, so the two agree).
With -queries and -gt, recall@k of the first -nq queries at -nprobe.`

// importBenchOptions are the flags of `shoal importbench`.
type importBenchOptions struct {
	data, queries, gt string
	n, nq, k, nprobe  int
	metric            string
	method            string
	tenant            string
	writeStall        time.Duration
	settle            time.Duration
	quiet             bool
}

func (o *importBenchOptions) Validate() error {
	_, known := map[string]bool{"auto": true, "upsert": true, "build": true}[o.method]
	switch {
	case o.data == "":
		return errors.New("-data is required")
	case (o.queries == "") != (o.gt == ""):
		return errors.New("-queries and -gt go together")
	case o.n < 0 || o.nq < 1 || o.k < 1 || o.nprobe < 0:
		return fmt.Errorf("-n %d -nq %d -k %d -nprobe %d: want n >= 0, nq and k >= 1, nprobe >= 0", o.n, o.nq, o.k, o.nprobe)
	case !known:
		return fmt.Errorf("-method %q: want auto, upsert or build", o.method)
	case o.settle <= 0:
		return fmt.Errorf("-settle %v, want > 0", o.settle)
	}
	_, _, err := clikit.ParseStorage(o.metric, "f32")
	return err
}

func newImportBench() *clikit.Command {
	o := importBenchOptions{}
	c := clikit.NewCommand("importbench", "-data FILE [-n N] [-method auto|upsert|build] [-queries Q -gt GT] [flags]", "bulk import into an empty collection of a server on loopback: build or upsert, time to DONE and to settled maintenance, recall")
	c.Group = clikit.GroupBench
	c.Long = importBenchAbout
	fs := c.Flags
	fs.StringVar(&o.data, "data", "", "vector file (.fvecs .bvecs .fbin .u8bin .i8bin .npy)")
	fs.IntVar(&o.n, "n", 0, "rows to import, the first of -data (0: all)")
	fs.StringVar(&o.metric, "metric", "l2", "the collection's metric: l2, ip or cosine")
	fs.StringVar(&o.method, "method", "auto", "import method: auto, upsert or build")
	fs.StringVar(&o.tenant, "tenant", "", "create this tenant and import the rows as its own")
	fs.DurationVar(&o.writeStall, "write-stall", server.DefaultWriteStall, "the server's -write-stall (1h: an upsert waits for maintenance instead of being refused)")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "how long maintenance must stay idle to count as settled")
	fs.StringVar(&o.queries, "queries", "", "query vectors, for recall")
	fs.StringVar(&o.gt, "gt", "", "ground truth of the queries over all of -data (.ivecs)")
	fs.IntVar(&o.nq, "nq", 200, "queries for recall")
	fs.IntVar(&o.k, "k", 10, "neighbours per query")
	fs.IntVar(&o.nprobe, "nprobe", 32, "postings per query (0: the default)")
	fs.BoolVar(&o.quiet, "q", false, "no progress bar")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

// Run imports the file and reports.
func (o *importBenchOptions) Run(ctx context.Context, env *clikit.Env) error {
	dir, err := os.MkdirTemp("", "importbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := server.Open(&server.Options{DataDir: dir, WriteStall: o.writeStall, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Close()
		return err
	}
	go s.Serve(lis)
	defer s.Close()
	rows, dim, err := o.writeFile(filepath.Join(dir, "import", "rows.fbin"))
	if err != nil {
		return err
	}
	c, err := client.Dial(lis.Addr().String(), nil)
	if err != nil {
		return err
	}
	defer c.Close()
	metric, _, _ := clikit.ParseStorage(o.metric, "f32")
	apiMetric := map[index.Metric]shoalv1.Metric{
		index.L2: shoalv1.Metric_METRIC_L2, index.InnerProduct: shoalv1.Metric_METRIC_INNER_PRODUCT, index.Cosine: shoalv1.Metric_METRIC_COSINE,
	}[metric]
	if _, err := c.CreateCollection(ctx, "bench", &shoalv1.CollectionConfig{Dim: uint32(dim), Metric: apiMetric}); err != nil {
		return err
	}
	if o.tenant != "" {
		if _, err := c.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: "bench", Tenant: o.tenant}); err != nil {
			return err
		}
	}
	method := map[string]shoalv1.ImportMethod{"auto": 0, "upsert": 1, "build": 2}[o.method]
	start := time.Now()
	j, err := c.Admin.StartImport(ctx, &shoalv1.StartImportRequest{Collection: "bench", Path: "rows.fbin", Tenant: o.tenant, Method: method})
	if err != nil {
		return err
	}
	var bar *clikit.Bar
	if !o.quiet {
		bar = clikit.NewBar(env.Stderr, "import", int64(rows))
	}
	j, err = c.WaitImport(ctx, j.GetId(), 100*time.Millisecond, func(j *shoalv1.ImportJob) {
		if bar != nil {
			bar.Set(int64(j.GetDone()))
		}
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	done := time.Since(start)
	if j.GetState() != shoalv1.ImportJob_STATE_DONE {
		return fmt.Errorf("import %v after %.1fs: %s", j.GetState(), done.Seconds(), j.GetError())
	}
	st, settled, err := o.settled(ctx, c, start)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%d rows × %d, method %s: done %.2fs (%.0f vectors/s), settled %.2fs (%.0f vectors/s); %d heads, %s of posting tails left\n",
		rows, dim, j.GetMethod(), done.Seconds(), float64(rows)/done.Seconds(), settled.Seconds(), float64(rows)/settled.Seconds(),
		st.GetHeads(), clikit.FormatBytes(int64(st.GetTailBytes())))
	if o.queries == "" {
		return nil
	}
	r, err := o.recall(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "recall@%d at nprobe %d over %d queries: %.3f\n", o.k, o.nprobe, o.nq, r)
	return nil
}

// writeFile writes the first rows of -data as an .fbin file.
func (o *importBenchOptions) writeFile(path string) (rows, dim int, err error) {
	src, err := index.OpenFile(o.data)
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	rows, dim = src.Len(), src.Dim()
	if o.n > 0 {
		rows = min(rows, o.n)
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(rows))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(dim))
	if _, err := f.Write(hdr[:]); err != nil {
		return 0, 0, err
	}
	rr := clikit.NewRowReader(src)
	buf := make([]byte, 0, 1024*dim*4)
	for lo := 0; lo < rows; lo += 1024 {
		vs, err := rr.Read(lo, min(1024, rows-lo))
		if err != nil {
			return 0, 0, err
		}
		buf = buf[:0]
		for _, v := range vs {
			for _, x := range v {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
			}
		}
		if _, err := f.Write(buf); err != nil {
			return 0, 0, err
		}
	}
	return rows, dim, f.Close()
}

// settled polls the collection's stats until maintenance has been idle
// for -settle, and returns the stats and when it last worked (since
// start).
func (o *importBenchOptions) settled(ctx context.Context, c *client.Client, start time.Time) (*shoalv1.CollectionStats, time.Duration, error) {
	var last *shoalv1.CollectionStats
	changed := time.Now()
	for {
		st, err := c.Collections.GetStats(ctx, &shoalv1.GetStatsRequest{Collection: "bench"})
		if err != nil {
			return nil, 0, err
		}
		if last == nil || st.GetSplits() != last.GetSplits() || st.GetMerges() != last.GetMerges() ||
			st.GetReassigned() != last.GetReassigned() || st.GetTailBytes() != last.GetTailBytes() {
			last, changed = st, time.Now()
		}
		if time.Since(changed) >= o.settle {
			return last, changed.Sub(start), nil
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// recall searches the first -nq queries and counts the true neighbours
// (-gt) found.
func (o *importBenchOptions) recall(ctx context.Context, c *client.Client) (float64, error) {
	q, err := index.OpenFile(o.queries)
	if err != nil {
		return 0, err
	}
	defer q.Close()
	nq := min(o.nq, q.Len())
	truth, err := clikit.ReadTruth(o.gt, nq, o.k)
	if err != nil {
		return 0, err
	}
	vs, err := clikit.NewRowReader(q).Read(0, nq)
	if err != nil {
		return 0, err
	}
	hits := 0
	for i, v := range vs {
		hs, err := c.Search(ctx, "bench", v, o.k, &shoalv1.SearchParams{Nprobe: uint32(o.nprobe)})
		if err != nil {
			return 0, err
		}
		res := make([]index.Result, len(hs))
		for j, h := range hs {
			res[j] = index.Result{ID: h.GetId(), Distance: h.GetDistance()}
		}
		hits += clikit.CountHits(res, truth[i])
	}
	return float64(hits) / float64(nq*o.k), nil
}
