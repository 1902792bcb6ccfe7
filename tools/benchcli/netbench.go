package benchcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/shoaldb/shoal/client"
	"github.com/shoaldb/shoal/internal/vecfile"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newNetbench)
}

// netbenchOptions are the flags of `shoal netbench`: searches over gRPC
// against a running server or cluster node, for recall, QPS and latency
// of the whole server path.
type netbenchOptions struct {
	addr, key, collection string
	queries, gt           string
	k, clients, nq        int
	nprobe                []int
	report                reportOptions
}

func (o *netbenchOptions) Validate() error {
	switch {
	case o.collection == "" || o.queries == "":
		return errors.New("-collection and -queries are required")
	case o.k < 1 || o.clients < 1:
		return fmt.Errorf("-k %d, -clients %d: want >= 1", o.k, o.clients)
	case len(o.nprobe) == 0:
		return errors.New("-nprobe is empty")
	}
	return nil
}

// netbenchRow is one nprobe's result.
type netbenchRow struct {
	Nprobe  int     `json:"nprobe"`
	Queries int     `json:"queries"`
	Recall  float64 `json:"recall"`
	QPS     float64 `json:"qps"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
}

type netbenchResult struct {
	Addr       string        `json:"addr"`
	Collection string        `json:"collection"`
	K          int           `json:"k"`
	Clients    int           `json:"clients"`
	Rows       []netbenchRow `json:"rows"`
}

func (r netbenchResult) Print(w io.Writer) {
	fmt.Fprintf(w, "%s %s, k=%d, %d clients\n%8s %8s %8s %10s %8s %8s\n", r.Addr, r.Collection, r.K, r.Clients, "nprobe", "queries", "recall", "QPS", "p50 ms", "p99 ms")
	for _, row := range r.Rows {
		fmt.Fprintf(w, "%8d %8d %8.4f %10.1f %8.2f %8.2f\n", row.Nprobe, row.Queries, row.Recall, row.QPS, row.P50Ms, row.P99Ms)
	}
}

func newNetbench() *clikit.Command {
	o := netbenchOptions{}
	c := clikit.NewCommand("netbench", "-collection C -queries FILE [-gt FILE] [flags]", "search a running server (or cluster node) over gRPC: recall, QPS, p50/p99 per nprobe")
	c.Group = clikit.GroupBench
	fs := c.Flags
	fs.StringVar(&o.addr, "addr", "localhost:7370", "server address (host:port)")
	fs.StringVar(&o.key, "key", os.Getenv("SHOAL_API_KEY"), "API key (default $SHOAL_API_KEY)")
	fs.StringVar(&o.collection, "collection", "", "collection to search")
	fs.StringVar(&o.queries, "queries", "", "query vectors (.fvecs, .fbin, .u8bin, .npy, ...)")
	fs.StringVar(&o.gt, "gt", "", "ground truth (.ivecs/.ibin: nearest ids per query) for recall")
	fs.IntVar(&o.k, "k", 10, "neighbours per query")
	fs.IntVar(&o.clients, "clients", 1, "concurrent clients (one connection each)")
	fs.IntVar(&o.nq, "nq", 0, "queries to run (0: all)")
	fs.IntSliceVar(&o.nprobe, "nprobe", []int{8, 16, 32, 64}, "postings read per query per shard, a list")
	o.report.define(fs, "write the result as JSON to this file")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if len(args) > 0 {
			return clikit.Usagef("unexpected arguments %q", args)
		}
		if err := o.Validate(); err != nil {
			return clikit.InvalidError(err)
		}
		_, err := runReport(env, o.report, func() (netbenchResult, error) { return o.Run(ctx) })
		return err
	}
	return c
}

// Run runs the queries at each nprobe.
func (o *netbenchOptions) Run(ctx context.Context) (netbenchResult, error) {
	res := netbenchResult{Addr: o.addr, Collection: o.collection, K: o.k, Clients: o.clients}
	qs, dim, err := vecfile.ReadFloat32Head(o.queries, o.nq)
	if err != nil {
		return res, err
	}
	nq := len(qs) / dim
	var truth []int32
	var tdim int
	if o.gt != "" {
		if truth, tdim, err = vecfile.ReadInt32(o.gt); err != nil {
			return res, err
		}
		if len(truth)/tdim < nq {
			return res, fmt.Errorf("-gt %s has %d rows, fewer than the %d queries", o.gt, len(truth)/tdim, nq)
		}
	}
	clients := make([]*client.Client, o.clients)
	for i := range clients {
		c, err := client.Dial(o.addr, &client.Options{APIKey: o.key})
		if err != nil {
			return res, err
		}
		defer c.Close()
		clients[i] = c
	}
	for _, np := range o.nprobe {
		lat := make([]float64, nq)
		recall := make([]float64, nq)
		var next int
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		start := time.Now()
		for _, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					mu.Lock()
					i := next
					next++
					mu.Unlock()
					if i >= nq {
						return
					}
					t0 := time.Now()
					hits, err := c.Search(ctx, o.collection, qs[i*dim:(i+1)*dim], o.k, &shoalv1.SearchParams{Nprobe: uint32(np)})
					lat[i] = float64(time.Since(t0).Microseconds()) / 1000
					if err != nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, err)
						next = nq
						mu.Unlock()
						return
					}
					if truth != nil {
						want := truth[i*tdim : i*tdim+min(o.k, tdim)]
						hit := 0
						for _, h := range hits {
							if slices.Contains(want, int32(h.GetId())) {
								hit++
							}
						}
						recall[i] = float64(hit) / float64(len(want))
					}
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return res, firstErr
		}
		el := time.Since(start).Seconds()
		var rsum float64
		for _, r := range recall {
			rsum += r
		}
		st := newQueryStats(lat, rsum, 0)
		res.Rows = append(res.Rows, netbenchRow{Nprobe: np, Queries: nq, Recall: st.Recall, QPS: float64(nq) / el, P50Ms: st.P50Ms, P99Ms: st.P99Ms})
	}
	return res, nil
}
