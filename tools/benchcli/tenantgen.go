package benchcli

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

func init() {
	register(newTenantGen)
}

const tenantGenAbout = `tenantgen makes the multi-tenant workload of the Curator paper over the
rows of -data: -tenants tenants whose sizes follow a Zipf law of exponent
-zipf; every row is owned by one tenant (drawn by those weights) and granted
to more, so that a row belongs to -share tenants on average; -nq queries
(the rows of -queries, in order), each asked by one tenant, spread evenly
over the non-empty tenant-size buckets <100, 100-1k, 1k-10k and >=10k
vectors (a random tenant within the bucket); and each query's exact -k
nearest rows among those its tenant may read (the rows are held in memory
as float32 while it runs).

Files written to -out:
  access.bin          "SHTA", u32 version 1, u32 rows, u32 tenants, then per
                      row: u8 count, count × u32 tenant (owner first)
  query_tenants.u32   one u32 tenant per query
  groundtruth.ivecs   per query its -k nearest accessible rows, nearest first
                      (fewer when the tenant has fewer rows)
  workload.json       the parameters and the tenant-size histogram`

// tenantGenOptions are the flags of `shoal tenantgen`.
type tenantGenOptions struct {
	data, queries, out, metric string
	tenants, nq, k             int
	zipf, share                float64
	seed                       uint64
}

func (o *tenantGenOptions) Validate() error {
	switch {
	case o.data == "" || o.queries == "" || o.out == "":
		return errors.New("-data, -queries and -out are required")
	case o.tenants < 1 || o.nq < 1 || o.k < 1:
		return fmt.Errorf("-tenants %d, -nq %d and -k %d must be >= 1", o.tenants, o.nq, o.k)
	case !(o.zipf >= 0):
		return fmt.Errorf("-zipf %v, want >= 0", o.zipf)
	case !(o.share >= 1) || o.share > float64(min(o.tenants, 255)):
		return fmt.Errorf("-share %v, want between 1 and min(-tenants, 255)", o.share)
	}
	_, _, err := clikit.ParseStorage(o.metric, "")
	return err
}

func newTenantGen() *clikit.Command {
	o := tenantGenOptions{}
	c := clikit.NewCommand("tenantgen", "-data FILE -queries FILE -out DIR [flags]", "make a multi-tenant workload over a vector file, with per-tenant exact ground truth")
	c.Group = clikit.GroupBench
	c.Long = tenantGenAbout
	fs := c.Flags
	fs.StringVar(&o.data, "data", "", "base vector file; row i has id i")
	fs.StringVar(&o.queries, "queries", "", "query vector file")
	fs.StringVar(&o.out, "out", "", "output directory (created if missing)")
	fs.StringVar(&o.metric, "metric", "l2", "distance of the ground truth: l2, ip or cosine")
	fs.IntVar(&o.tenants, "tenants", 1000, "number of tenants")
	fs.Float64Var(&o.zipf, "zipf", 1, "Zipf exponent of the tenant sizes (0: equal)")
	fs.Float64Var(&o.share, "share", 2, "mean number of tenants per row (owner included)")
	fs.IntVar(&o.nq, "nq", 1000, "queries (the first nq rows of -queries)")
	fs.IntVar(&o.k, "k", 10, "ground-truth neighbours per query")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		w, err := o.Run(ctx, env)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%d rows, %d tenants (%d with rows), %.3f tenants per row; tenant sizes: %s; %d queries\n",
			w.Rows, w.Tenants, w.NonEmpty, w.MeanShare, w.bucketLine(), w.Queries)
		return nil
	}
	return c
}

// tenantBuckets are the tenant-size buckets of the report: [lo, hi).
var tenantBuckets = [...]struct {
	Name   string
	Lo, Hi int
}{{"<100", 0, 100}, {"100-1k", 100, 1000}, {"1k-10k", 1000, 10000}, {">=10k", 10000, math.MaxInt}}

func tenantBucket(size int) int {
	for i, b := range tenantBuckets {
		if size < b.Hi {
			return i
		}
	}
	return len(tenantBuckets) - 1
}

// tenantWorkloadInfo is workload.json.
type tenantWorkloadInfo struct {
	Data      string  `json:"data"`
	QueryFile string  `json:"queries"`
	Metric    string  `json:"metric"`
	Rows      int     `json:"rows"`
	Tenants   int     `json:"tenants"`
	NonEmpty  int     `json:"tenants_with_rows"`
	Zipf      float64 `json:"zipf"`
	Share     float64 `json:"share"`
	MeanShare float64 `json:"mean_tenants_per_row"`
	K         int     `json:"k"`
	Seed      uint64  `json:"seed"`
	Queries   int     `json:"query_count"`
	// Buckets: per size bucket, the tenants in it and the queries asked.
	Buckets []tenantBucketInfo `json:"buckets"`
}

type tenantBucketInfo struct {
	Name    string `json:"name"`
	Tenants int    `json:"tenants"`
	Queries int    `json:"queries"`
}

func (w *tenantWorkloadInfo) bucketLine() string {
	s := ""
	for i, b := range w.Buckets {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s: %d tenants/%d queries", b.Name, b.Tenants, b.Queries)
	}
	return s
}

// zipfSampler draws tenants with weight 1/(t+1)^s.
type zipfSampler struct{ cdf []float64 }

func newZipfSampler(n int, s float64) zipfSampler {
	cdf := make([]float64, n)
	sum := 0.0
	for t := range n {
		sum += 1 / math.Pow(float64(t+1), s)
		cdf[t] = sum
	}
	for t := range cdf {
		cdf[t] /= sum
	}
	return zipfSampler{cdf}
}

func (z zipfSampler) draw(rng *rand.Rand) uint32 {
	i, _ := slices.BinarySearch(z.cdf, rng.Float64())
	return uint32(min(i, len(z.cdf)-1))
}

// Run makes the workload and writes its files.
func (o *tenantGenOptions) Run(ctx context.Context, env *clikit.Env) (*tenantWorkloadInfo, error) {
	metric, _, _ := clikit.ParseStorage(o.metric, "")
	src, err := index.OpenFile(o.data)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	qsrc, err := index.OpenFile(o.queries)
	if err != nil {
		return nil, err
	}
	defer qsrc.Close()
	if qsrc.Dim() != src.Dim() {
		return nil, fmt.Errorf("%s has %d dimensions, %s %d", o.queries, qsrc.Dim(), o.data, src.Dim())
	}
	nq := min(o.nq, qsrc.Len())
	n, dim := src.Len(), src.Dim()
	rng := rand.New(rand.NewPCG(o.seed, 0x7e4a))
	z := newZipfSampler(o.tenants, o.zipf)

	// Access: an owner, then grants until the row has its share.
	access := make([][]uint32, n)
	sizes := make([]int, o.tenants)
	extra := o.share - 1
	total := 0
	for i := range access {
		want := 1 + int(extra)
		if rng.Float64() < extra-math.Floor(extra) {
			want++
		}
		ts := []uint32{z.draw(rng)}
		for tries := 0; len(ts) < want && tries < 64*want; tries++ {
			if t := z.draw(rng); !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
		for _, t := range ts {
			sizes[t]++
		}
		total += len(ts)
		access[i] = ts
	}

	// Queries, spread evenly over the non-empty buckets.
	byBucket := make([][]uint32, len(tenantBuckets))
	info := &tenantWorkloadInfo{Data: o.data, QueryFile: o.queries, Queries: nq, Metric: o.metric, Rows: n, Tenants: o.tenants,
		Zipf: o.zipf, Share: o.share, K: o.k, Seed: o.seed, MeanShare: float64(total) / float64(max(1, n))}
	for t, s := range sizes {
		if s > 0 {
			info.NonEmpty++
			b := tenantBucket(s)
			byBucket[b] = append(byBucket[b], uint32(t))
		}
	}
	var order []int
	for b := range byBucket {
		if len(byBucket[b]) > 0 {
			order = append(order, b)
		}
	}
	qt := make([]uint32, nq)
	asked := make([]int, len(tenantBuckets))
	for q := range qt {
		b := order[q%len(order)]
		qt[q] = byBucket[b][rng.IntN(len(byBucket[b]))]
		asked[b]++
	}
	for b, bk := range tenantBuckets {
		info.Buckets = append(info.Buckets, tenantBucketInfo{Name: bk.Name, Tenants: len(byBucket[b]), Queries: asked[b]})
	}

	// Ground truth: the rows in memory (as the index ranks them), each
	// query scored against its tenant's rows only.
	base := make([]float32, n*dim)
	rb := dim * src.Elem().Size()
	raw := make([]byte, 4096*rb)
	for lo := 0; lo < n; lo += 4096 {
		c := min(4096, n-lo)
		if err := src.ReadRows(lo, c, raw[:c*rb]); err != nil {
			return nil, err
		}
		clikit.ToFloat32(src.Elem(), raw[:c*rb], base[lo*dim:(lo+c)*dim])
	}
	if metric == index.Cosine {
		for r := range n {
			vec.Normalize(base[r*dim : (r+1)*dim])
		}
	}
	qs, err := clikit.NewRowReader(qsrc).Read(0, nq)
	if err != nil {
		return nil, err
	}
	rowsOf := map[uint32][]int32{}
	for _, t := range qt {
		rowsOf[t] = nil
	}
	for r, a := range access {
		for _, t := range a {
			if rs, ok := rowsOf[t]; ok {
				rowsOf[t] = append(rs, int32(r))
			}
		}
	}
	truth := make([][]int32, nq)
	bar := clikit.NewBar(env.Stderr, "groundtruth", int64(nq))
	for i, t := range qt {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q := qs[i]
		if metric == index.Cosine {
			vec.Normalize(q)
		}
		top := synth.NewTopK(o.k)
		for _, r := range rowsOf[t] {
			x := base[int(r)*dim : (int(r)+1)*dim]
			var d float32
			if metric == index.L2 {
				d = vec.L2SquaredF32(q, x)
			} else {
				d = -vec.DotF32(q, x)
			}
			top.Push(d, r)
		}
		for _, c := range top.Sorted() {
			truth[i] = append(truth[i], c.ID)
		}
		bar.Set(int64(i + 1))
	}
	bar.Finish()
	return info, writeTenantWorkload(o.out, info, access, qt, truth)
}

func writeTenantWorkload(dir string, info *tenantWorkloadInfo, access [][]uint32, qt []uint32, truth [][]int32) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, fill func(w *bufio.Writer)) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		fill(w)
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	u32 := func(w *bufio.Writer, v uint32) { binary.Write(w, binary.LittleEndian, v) }
	err := write("access.bin", func(w *bufio.Writer) {
		w.WriteString("SHTA")
		u32(w, 1)
		u32(w, uint32(len(access)))
		u32(w, uint32(info.Tenants))
		for _, a := range access {
			w.WriteByte(byte(len(a)))
			for _, t := range a {
				u32(w, t)
			}
		}
	})
	if err == nil {
		err = write("query_tenants.u32", func(w *bufio.Writer) {
			for _, t := range qt {
				u32(w, t)
			}
		})
	}
	if err == nil {
		err = write("groundtruth.ivecs", func(w *bufio.Writer) {
			for _, row := range truth {
				u32(w, uint32(len(row)))
				for _, id := range row {
					u32(w, uint32(id))
				}
			}
		})
	}
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	return os.WriteFile(filepath.Join(dir, "workload.json"), append(b, '\n'), 0o644)
}
