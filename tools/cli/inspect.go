package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newInspect)
}

// inspectCacheBytes is the posting cache of the inspected index: the scan
// reads every posting once, so a cache would only hold what is never read
// again.
const inspectCacheBytes = 8 << 20

// inspectOptions are the flags of `shoal inspect`.
type inspectOptions struct {
	dir     string
	jsonOut bool
}

// runInspect is `shoal inspect`.
func newInspect() *clikit.Command {
	var o inspectOptions
	c := clikit.NewCommand("inspect", "[-json] DIR", "print an index's manifest, tree, posting and replica statistics")
	c.Group = clikit.GroupIndex
	fs := c.Flags
	fs.BoolVar(&o.jsonOut, "json", false, "print JSON instead of a table")
	// Flags may follow DIR too (shoal inspect DIR -json).
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.OptionalArg(args, &o.dir, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

// Validate reports flags that cannot work.
func (o *inspectOptions) Validate() error {
	if o.dir == "" {
		return errors.New("an index directory is required")
	}
	return nil
}

// Run opens the index, gathers its statistics and prints them. The index
// is opened with maintenance paused: inspecting changes nothing, and the
// tree and postings hold still while they are counted.
func (o *inspectOptions) Run(ctx context.Context, env *clikit.Env) error {
	ix, err := index.Open(o.dir, &index.Options{CacheBytes: inspectCacheBytes, MaintenancePaused: true})
	if err != nil {
		return err
	}
	defer ix.Close()
	rep, err := inspectIndex(ctx, ix)
	if err != nil {
		return err
	}
	if o.jsonOut {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.print(env.Stdout)
}

// inspectReport is what `shoal inspect` prints; its JSON form is the
// -json output.
type inspectReport struct {
	Dir string `json:"dir"`
	// DiskBytes is the size of all files in Dir.
	DiskBytes int64           `json:"disk_bytes"`
	Manifest  inspectManifest `json:"manifest"`
	Tree      inspectTree     `json:"tree"`
	Postings  inspectPostings `json:"postings"`
	Replicas  inspectReplicas `json:"replicas"`
	// Live is the number of vectors the index holds now (after updates;
	// the manifest's counts are the build's).
	Live      int              `json:"live"`
	PerVector inspectPerVector `json:"per_vector"`
}

// inspectManifest is index.Manifest with names for the enumerations.
type inspectManifest struct {
	Version    int       `json:"version"`
	Dim        int       `json:"dim"`
	Elem       string    `json:"elem"`
	Metric     string    `json:"metric"`
	Count      int       `json:"count"`
	Heads      int       `json:"heads"`
	Replicas   int       `json:"replicas"`
	PostingCap int       `json:"posting_cap"`
	Ratio      float64   `json:"ratio"`
	RNGFactor  float64   `json:"rng_factor"`
	Seed       uint64    `json:"seed"`
	Entries    int64     `json:"entries"`
	Dropped    int64     `json:"dropped"`
	BuiltAt    time.Time `json:"built_at"`
	BuildSecs  float64   `json:"build_secs"`
	// Quant is what postings hold: "none" (rows) or "rabitq"; QuantBits
	// the bits per dimension of the codes.
	Quant     string `json:"quant"`
	QuantBits int    `json:"quant_bits,omitempty"`
}

// inspectPerVector is bytes per live vector: in RAM, the routing tree
// (every other per-vector structure is listed in docs/memory.md); on
// disk, the whole index directory.
type inspectPerVector struct {
	TreeRAM float64 `json:"tree_ram"`
	Disk    float64 `json:"disk"`
}

// inspectTree describes the routing tree.
type inspectTree struct {
	Depth  int `json:"depth"`
	Nodes  int `json:"nodes"`
	Leaves int `json:"leaves"`
	// Fanout is the number of children of the inner nodes.
	Fanout inspectStats `json:"fanout"`
	// LeafSize is the number of clustered (sampled) points per leaf.
	LeafSize inspectStats `json:"leaf_size"`
}

// inspectPostings describes the posting lists. A head whose posting is
// not in the store counts as an empty posting.
type inspectPostings struct {
	// Stored is the number of postings in the store.
	Stored int `json:"stored"`
	// Entries is the sum of the posting lengths; it equals the
	// manifest's Entries in a sound index.
	Entries int64 `json:"entries"`
	// OutOfRange counts stored postings whose id is not a live head.
	OutOfRange int `json:"out_of_range"`
	// Stale counts copies of deleted or superseded vectors, which
	// maintenance drops when it rewrites their postings.
	Stale int64 `json:"stale"`
	// Length is the number of entries per posting, over all heads.
	Length inspectStats `json:"length"`
	// Sizes is the histogram of Length.
	Sizes []inspectBucket `json:"sizes"`
	// Bytes is the payload per stored posting: 9 bytes of id and
	// version per entry plus the vectors (headers, padding and checksum
	// left out).
	Bytes inspectStats `json:"bytes"`
}

// inspectReplicas describes in how many postings each vector appears.
type inspectReplicas struct {
	// Vectors is the number of distinct ids found in the postings.
	Vectors int64 `json:"vectors"`
	// Histogram counts the vectors with 1, 2, …, 7 and 8 or more copies.
	Histogram []inspectBucket `json:"histogram"`
	// Mean is the mean number of copies of a vector found.
	Mean float64 `json:"mean"`
	// Missing counts the live ids in [0, Count) found in no posting.
	Missing int64 `json:"missing"`
	// OutOfRange counts the distinct ids ≥ Count found (upserted after
	// the build).
	OutOfRange int64 `json:"out_of_range"`
}

// inspectStats summarises a distribution of counts.
type inspectStats struct {
	Min    int64   `json:"min"`
	Median int64   `json:"median"`
	Mean   float64 `json:"mean"`
	P99    int64   `json:"p99"`
	Max    int64   `json:"max"`
}

// inspectBucket is one bar of a histogram: Count values in [Lo, Hi]; Hi
// is -1 for the last, open bucket.
type inspectBucket struct {
	Label string `json:"label"`
	Lo    int64  `json:"lo"`
	Hi    int64  `json:"hi"`
	Count int64  `json:"count"`
}

// inspectPostingBuckets are the bounds of the posting size histogram:
// 0, 1-7, then powers of two up to 256+.
var inspectPostingBuckets = []int64{0, 1, 8, 16, 32, 64, 128, 256}

// inspectReplicaBuckets are the bounds of the replica histogram: 1, 2, …,
// 7, 8+.
var inspectReplicaBuckets = []int64{1, 2, 3, 4, 5, 6, 7, 8}

// inspectBuckets returns empty buckets starting at lows, the last open.
func inspectBuckets(lows []int64) []inspectBucket {
	b := make([]inspectBucket, len(lows))
	for i, lo := range lows {
		hi := int64(-1)
		if i+1 < len(lows) {
			hi = lows[i+1] - 1
		}
		label := fmt.Sprintf("%d-%d", lo, hi)
		switch {
		case hi < 0:
			label = fmt.Sprintf("%d+", lo)
		case hi == lo:
			label = fmt.Sprint(lo)
		}
		b[i] = inspectBucket{Label: label, Lo: lo, Hi: hi}
	}
	return b
}

// inspectAdd counts n values v into the bucket holding v. Values below
// the first bucket go into it.
func inspectAdd(b []inspectBucket, v, n int64) {
	i := len(b) - 1
	for i > 0 && v < b[i].Lo {
		i--
	}
	b[i].Count += n
}

// inspectSummary returns the statistics of vals, which it sorts.
// Quantiles are nearest-rank.
func inspectSummary(vals []int64) inspectStats {
	if len(vals) == 0 {
		return inspectStats{}
	}
	slices.Sort(vals)
	rank := func(p float64) int64 {
		return vals[max(0, int(math.Ceil(p*float64(len(vals))))-1)]
	}
	var sum float64
	for _, v := range vals {
		sum += float64(v)
	}
	return inspectStats{
		Min: vals[0], Median: rank(0.5), Mean: sum / float64(len(vals)), P99: rank(0.99), Max: vals[len(vals)-1],
	}
}

// inspectIndex scans every posting of ix and gathers the report. It
// checks ctx between postings.
func inspectIndex(ctx context.Context, ix *index.Index) (*inspectReport, error) {
	m := ix.Manifest()
	rep := &inspectReport{
		Dir:       ix.Dir(),
		DiskBytes: clikit.DirSize(ix.Dir()),
		Manifest: inspectManifest{
			Version: m.Version, Dim: m.Dim, Elem: m.Elem.String(), Metric: m.Metric.String(),
			Count: m.Count, Heads: m.Heads, Replicas: m.Replicas, PostingCap: m.PostingCap,
			Ratio: m.Ratio, RNGFactor: m.RNGFactor, Seed: m.Seed, Entries: m.Entries, Dropped: m.Dropped,
			BuiltAt: m.BuiltAt, BuildSecs: m.BuildSecs, Quant: "none",
		},
	}
	if m.Quant != nil {
		rep.Manifest.Quant, rep.Manifest.QuantBits = m.Quant.Kind, m.Quant.Bits
	}

	rep.Live = ix.Len()
	// Counts of the tree as it is now: splits and merges leave dead node
	// slots and leaf ids behind.
	t := ix.TreeStats()
	rep.Tree = inspectTree{Depth: t.Depth, Nodes: t.Nodes, Leaves: t.Heads}
	perVec := float64(max(1, rep.Live))
	rep.PerVector = inspectPerVector{TreeRAM: float64(t.Bytes) / perVec, Disk: float64(rep.DiskBytes) / perVec}
	var fanout, leafSize []int64
	for _, c := range t.Fanout {
		fanout = append(fanout, int64(c))
	}
	for _, s := range t.LeafSizes {
		leafSize = append(leafSize, int64(s))
	}
	rep.Tree.Fanout = inspectSummary(fanout)
	rep.Tree.LeafSize = inspectSummary(leafSize)

	// Postings: lengths indexed by head, so that heads without a stored
	// posting count as empty.
	lengths := make([]int64, t.LeafIDs)
	var bytes []int64
	copies := make([]uint8, m.Count) // saturating at 255
	extra := map[uint64]int64{}      // copies of ids ≥ Count
	ps := &rep.Postings
	ps.Sizes = inspectBuckets(inspectPostingBuckets)
	err := ix.ScanPostings(func(p *index.PostingInfo) error {
		id := p.ID
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int64(len(p.IDs))
		ps.Stored++
		ps.Entries += n
		bytes = append(bytes, 9*n+int64(p.VectorBytes))
		if ix.IsHead(id) {
			lengths[id] = n
		} else {
			ps.OutOfRange++
			inspectAdd(ps.Sizes, n, 1)
		}
		for i, v := range p.IDs {
			if !ix.IsCurrent(v, p.Versions[i]) {
				ps.Stale++
				continue
			}
			switch {
			case v >= uint64(len(copies)):
				extra[v]++
			case copies[v] < math.MaxUint8:
				copies[v]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	live := lengths[:0]
	for p, n := range lengths {
		if ix.IsHead(uint32(p)) {
			live = append(live, n)
			inspectAdd(ps.Sizes, n, 1)
		}
	}
	ps.Length = inspectSummary(live)
	ps.Bytes = inspectSummary(bytes)

	rs := &rep.Replicas
	rs.Histogram = inspectBuckets(inspectReplicaBuckets)
	var total int64
	for id, c := range copies {
		if c == 0 {
			if ix.Contains(uint64(id)) {
				rs.Missing++
			}
			continue
		}
		rs.Vectors++
		total += int64(c)
		inspectAdd(rs.Histogram, int64(c), 1)
	}
	for _, c := range extra {
		rs.Vectors++
		rs.OutOfRange++
		total += c
		inspectAdd(rs.Histogram, c, 1)
	}
	if rs.Vectors > 0 {
		rs.Mean = float64(total) / float64(rs.Vectors)
	}
	return rep, nil
}

// print writes the report as aligned tables.
func (r *inspectReport) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	m := r.Manifest
	line := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	stats := func(s inspectStats, unit func(int64) string) string {
		return fmt.Sprintf("min %s  median %s  mean %s  p99 %s  max %s",
			unit(s.Min), unit(s.Median), unit(int64(math.Round(s.Mean))), unit(s.P99), unit(s.Max))
	}
	plain := func(v int64) string { return fmt.Sprint(v) }

	line("index\t%s\t(%s on disk)", r.Dir, clikit.FormatBytes(r.DiskBytes))
	line("")
	line("manifest")
	line("  version\t%d", m.Version)
	line("  vectors\t%d × %d %s, metric %s", m.Count, m.Dim, m.Elem, m.Metric)
	line("  heads\t%d\t(ratio %g, seed %d)", m.Heads, m.Ratio, m.Seed)
	line("  replicas\t≤ %d per vector\t(RNG factor %g)", m.Replicas, m.RNGFactor)
	if m.Quant == "none" {
		line("  postings hold\trows (no quantization)")
	} else {
		line("  postings hold\t%s codes, %d bits per dimension; rows stored once, read to rerank", m.Quant, m.QuantBits)
	}
	line("  posting cap\t%d entries", m.PostingCap)
	line("  entries\t%d\t(%.2f per vector)", m.Entries, float64(m.Entries)/float64(max(1, m.Count)))
	line("  dropped\t%d\t(replicas over the posting cap)", m.Dropped)
	line("  built\t%s in %.1fs", m.BuiltAt.Format(time.RFC3339), m.BuildSecs)
	line("now\t%d vectors, %d heads", r.Live, r.Tree.Leaves)
	line("bytes per vector\t%.1f B in RAM for the routing tree, %.1f B on disk", r.PerVector.TreeRAM, r.PerVector.Disk)
	line("")
	line("tree")
	line("  depth\t%d", r.Tree.Depth)
	line("  nodes\t%d\t(%d inner, %d leaves)", r.Tree.Nodes, r.Tree.Nodes-r.Tree.Leaves, r.Tree.Leaves)
	line("  fanout\t%s", stats(r.Tree.Fanout, plain))
	line("  leaf size\t%s\t(clustered points per leaf)", stats(r.Tree.LeafSize, plain))
	line("")
	p := r.Postings
	line("postings\t%d stored\t(%d entries, %d stale)", p.Stored, p.Entries, p.Stale)
	if p.OutOfRange > 0 {
		line("  NOT HEADS\t%d\t(postings whose id is not a live head)", p.OutOfRange)
	}
	line("  length\t%s", stats(p.Length, plain))
	line("  bytes\t%s", stats(p.Bytes, func(v int64) string { return clikit.FormatBytes(v) }))
	inspectHistogram(tw, "entries", "postings", p.Sizes)
	line("")
	rs := r.Replicas
	line("replicas\t(postings per vector)")
	inspectHistogram(tw, "copies", "vectors", rs.Histogram)
	line("  mean\t%.2f", rs.Mean)
	if rs.OutOfRange > 0 {
		line("  upserted\t%d\t(ids ≥ the build's count)", rs.OutOfRange)
	}
	if rs.Missing > 0 {
		line("  MISSING\t%d\t(live vectors in no posting)", rs.Missing)
	}
	return tw.Flush()
}

// inspectHistogram writes the buckets as table rows under a header naming
// the bucketed value and what is counted, with each bucket's share and a
// bar of up to 40 '#'.
func inspectHistogram(tw io.Writer, value, counted string, b []inspectBucket) {
	var total, top int64
	for _, x := range b {
		total += x.Count
		top = max(top, x.Count)
	}
	fmt.Fprintf(tw, "  %s\t%s\tshare\n", value, counted)
	for _, x := range b {
		share, bar := 0.0, ""
		if total > 0 {
			share = 100 * float64(x.Count) / float64(total)
		}
		if x.Count > 0 {
			// The share is the last cell of a row without a bar, so that
			// tabwriter leaves no trailing spaces; it has a fixed width.
			bar = "\t" + strings.Repeat("#", int(math.Ceil(40*float64(x.Count)/float64(top))))
		}
		fmt.Fprintf(tw, "  %s\t%d\t%5.1f%%%s\n", x.Label, x.Count, share, bar)
	}
}
