package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

// inspectBuildIndex builds an index of n clustered dim-dimensional vectors
// (from the gen model) with 5 % heads and returns its directory.
func inspectBuildIndex(t *testing.T, n, dim int) string {
	t.Helper()
	data := synth.BaseVectors(synth.Spec{N: n, Queries: 1, Dim: dim, Clusters: 20, Seed: 3})
	dir := filepath.Join(t.TempDir(), "ix")
	if _, err := index.Build(dir, index.SliceSource(data, dim), &index.Options{Ratio: 0.05, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func inspectSumCounts(b []inspectBucket) int64 {
	var s int64
	for _, x := range b {
		s += x.Count
	}
	return s
}

func TestInspect(t *testing.T) {
	const n, dim = 1500, 8
	dir := inspectBuildIndex(t, n, dim)
	ix, err := index.Open(dir, &index.Options{CacheBytes: inspectCacheBytes})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := inspectIndex(context.Background(), ix)
	m := ix.Manifest()
	ix.Close()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("manifest", func(t *testing.T) {
		got := rep.Manifest
		if got.Count != n || got.Dim != dim || got.Elem != "float32" || got.Metric != "l2" || got.Heads != m.Heads || got.Entries != m.Entries {
			t.Errorf("manifest %+v, want count %d, dim %d, float32, l2, heads %d, entries %d", got, n, dim, m.Heads, m.Entries)
		}
	})
	t.Run("tree", func(t *testing.T) {
		tr := rep.Tree
		if tr.Leaves != m.Heads || tr.Nodes <= tr.Leaves || tr.Depth < 2 {
			t.Errorf("tree %+v, want %d leaves, some inner nodes, depth >= 2", tr, m.Heads)
		}
		if tr.Fanout.Min < 1 || tr.Fanout.Max > 32 {
			t.Errorf("fanout %+v, want within 1..32 (K)", tr.Fanout)
		}
		if tr.LeafSize.Min > tr.LeafSize.Median || tr.LeafSize.Median > tr.LeafSize.P99 || tr.LeafSize.P99 > tr.LeafSize.Max {
			t.Errorf("leaf size stats %+v are not ordered", tr.LeafSize)
		}
	})
	t.Run("posting histogram covers every head", func(t *testing.T) {
		ps := rep.Postings
		if got := inspectSumCounts(ps.Sizes); got != int64(m.Heads) {
			t.Errorf("posting size histogram holds %d postings, want one per head: %d", got, m.Heads)
		}
		if ps.Entries != m.Entries {
			t.Errorf("postings hold %d entries, manifest says %d", ps.Entries, m.Entries)
		}
		if ps.OutOfRange != 0 || ps.Stored > m.Heads {
			t.Errorf("%d stored postings, %d not heads; want at most %d, all heads", ps.Stored, ps.OutOfRange, m.Heads)
		}
		if want := int64(m.PostingCap); ps.Length.Max > want {
			t.Errorf("longest posting has %d entries, over the cap of %d", ps.Length.Max, want)
		}
		if want := 9*ps.Length.Max + 4*dim*ps.Length.Max; ps.Bytes.Max != want {
			t.Errorf("largest posting payload %d bytes, want 9+4·dim bytes per entry of the longest: %d", ps.Bytes.Max, want)
		}
	})
	t.Run("replica histogram covers every vector once", func(t *testing.T) {
		rs := rep.Replicas
		if got := inspectSumCounts(rs.Histogram); got != n || rs.Vectors != n || rs.Missing != 0 || rs.OutOfRange != 0 {
			t.Errorf("replicas: histogram sum %d, vectors %d, missing %d, unknown %d; want %d, %d, 0, 0", got, rs.Vectors, rs.Missing, rs.OutOfRange, n, n)
		}
		// With at most 8 replicas, bucket "8+" is exactly 8 copies.
		var copies int64
		for _, b := range rs.Histogram {
			copies += b.Lo * b.Count
		}
		if copies != m.Entries {
			t.Errorf("replica histogram accounts for %d entries, manifest says %d", copies, m.Entries)
		}
		if want := float64(m.Entries) / n; rs.Mean != want {
			t.Errorf("mean replicas %v, want entries/count = %v", rs.Mean, want)
		}
	})
	t.Run("disk size", func(t *testing.T) {
		if rep.DiskBytes < m.Entries*4*dim {
			t.Errorf("index is %d bytes on disk, less than its %d entries of %d bytes", rep.DiskBytes, m.Entries, 4*dim)
		}
	})

	t.Run("json command", func(t *testing.T) {
		var out bytes.Buffer
		if err := runInspect(context.Background(), &clikit.Env{Stdout: &out, Stderr: io.Discard}, []string{"-json", dir}); err != nil {
			t.Fatal(err)
		}
		var got inspectReport
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("-json output does not parse: %v\n%s", err, out.String())
		}
		if !got.Manifest.BuiltAt.Equal(rep.Manifest.BuiltAt) {
			t.Errorf("-json built_at %v, want %v", got.Manifest.BuiltAt, rep.Manifest.BuiltAt)
		}
		got.Manifest.BuiltAt = rep.Manifest.BuiltAt // equal instants may differ in location
		if got.DiskBytes <= 0 {
			t.Errorf("-json disk_bytes %d, want > 0", got.DiskBytes)
		}
		got.DiskBytes = rep.DiskBytes // every open of the store rewrites a few small files
		if got.PerVector.Disk <= 0 || got.PerVector.TreeRAM <= 0 {
			t.Errorf("-json per_vector %+v, want > 0", got.PerVector)
		}
		got.PerVector.Disk = rep.PerVector.Disk
		if !reflect.DeepEqual(&got, rep) {
			t.Errorf("-json output\n%+v\nwant\n%+v", got, *rep)
		}
	})
	t.Run("table command", func(t *testing.T) {
		var out bytes.Buffer
		if err := runInspect(context.Background(), &clikit.Env{Stdout: &out, Stderr: io.Discard}, []string{dir}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"vectors", "1500 × 8 float32, metric l2", "depth", "leaf size", "1-7", "256+", "8+", "mean"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("table output does not contain %q:\n%s", want, out.String())
			}
		}
		t.Logf("\n%s", out.String())
	})
}

func TestInspectFlagsAfterDir(t *testing.T) {
	err := runInspect(context.Background(), &clikit.Env{Stdout: io.Discard, Stderr: io.Discard}, []string{filepath.Join(t.TempDir(), "none"), "-json"})
	if !errors.Is(err, index.ErrNoIndex) {
		t.Errorf("inspect of a missing directory: %v, want index.ErrNoIndex (after parsing -json)", err)
	}
}

func TestInspectRejectsBadArgs(t *testing.T) {
	for _, args := range [][]string{{}, {"-json"}, {"a", "b"}, {"-bogus", "a"}} {
		if err := runInspect(context.Background(), &clikit.Env{Stdout: io.Discard, Stderr: io.Discard}, args); err == nil {
			t.Errorf("shoal inspect %q succeeded, want an error", args)
		}
	}
}

func TestInspectBuckets(t *testing.T) {
	b := inspectBuckets(inspectPostingBuckets)
	var labels []string
	for _, x := range b {
		labels = append(labels, x.Label)
	}
	if want := []string{"0", "1-7", "8-15", "16-31", "32-63", "64-127", "128-255", "256+"}; !reflect.DeepEqual(labels, want) {
		t.Errorf("posting buckets %v, want %v", labels, want)
	}
	for _, tc := range []struct {
		v    int64
		want string
	}{{0, "0"}, {1, "1-7"}, {7, "1-7"}, {8, "8-15"}, {255, "128-255"}, {256, "256+"}, {100000, "256+"}} {
		b := inspectBuckets(inspectPostingBuckets)
		inspectAdd(b, tc.v, 1)
		for _, x := range b {
			if (x.Count == 1) != (x.Label == tc.want) {
				t.Errorf("%d went into bucket %q (count %d), want %q", tc.v, x.Label, x.Count, tc.want)
			}
		}
	}
}

func TestInspectSummary(t *testing.T) {
	vals := make([]int64, 200)
	for i := range vals {
		vals[i] = int64(200 - i) // 200..1, unsorted
	}
	got := inspectSummary(vals)
	want := inspectStats{Min: 1, Median: 100, Mean: 100.5, P99: 198, Max: 200}
	if got != want {
		t.Errorf("inspectSummary(1..200) = %+v, want %+v (nearest rank)", got, want)
	}
	if got := inspectSummary(nil); got != (inspectStats{}) {
		t.Errorf("inspectSummary(nil) = %+v, want zeros", got)
	}
}

// TestInspectUpdatedIndex: inspect works on an index whose tails hold
// enough upserts to split postings (head ids past the build's), and
// changes nothing: it does not run maintenance.
func TestInspectUpdatedIndex(t *testing.T) {
	const n, dim = 1500, 8
	dir := inspectBuildIndex(t, n, dim)
	ix, err := index.Open(dir, &index.Options{MaintenancePaused: true})
	if err != nil {
		t.Fatal(err)
	}
	more := synth.BaseVectors(synth.Spec{N: 3000, Queries: 1, Dim: dim, Clusters: 3, Seed: 9})
	ids := make([]uint64, 3000)
	vs := make([][]float32, 3000)
	for i := range ids {
		ids[i], vs[i] = uint64(n+i), more[i*dim:(i+1)*dim]
	}
	if err := ix.Upsert(ids, vs); err != nil {
		t.Fatal(err)
	}
	tails := ix.Stats().TailBytes
	ix.Close()
	if tails == 0 {
		t.Fatal("the upserts left no tails to fold")
	}
	var out bytes.Buffer
	o := &inspectOptions{dir: dir, jsonOut: true}
	if err := o.Run(context.Background(), &clikit.Env{Stdout: &out, Stderr: io.Discard}); err != nil {
		t.Fatal(err)
	}
	var rep inspectReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("inspect -json: %v", err)
	}
	if rep.Live != n+3000 {
		t.Errorf("inspect counts %d live vectors, want %d", rep.Live, n+3000)
	}
	ix, err = index.Open(dir, &index.Options{MaintenancePaused: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if got := ix.Stats().TailBytes; got != tails {
		t.Errorf("tails hold %d bytes after inspect, %d before: inspect ran maintenance", got, tails)
	}
}
