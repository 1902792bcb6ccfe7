package benchcli

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/internal/vecfile"
	"github.com/shoaldb/shoal/tools/internal/synth"
)

// TestTenantGen makes a workload over a small synthetic set and checks it
// from its files: every row owned, the share degree, queries in every
// non-empty bucket, and ground truth equal to a brute-force search over
// the rows the query's tenant may read.
func TestTenantGen(t *testing.T) {
	const n, dim, tenants, nq, k = 3000, 16, 200, 40, 10
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.Generate(context.Background(), nil, synth.Spec{N: n, Queries: nq, Dim: dim, K: k, Clusters: 30, Seed: 3}, data); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "w")
	args := []string{"-data", filepath.Join(data, "base.fvecs"), "-queries", filepath.Join(data, "query.fvecs"),
		"-out", out, "-tenants", "200", "-share", "2.5", "-nq", "40", "-k", "10", "-zipf", "1.2"}
	if err := runTenantGen(context.Background(), genQuietEnv(), args); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(filepath.Join(out, "access.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "SHTA" || binary.LittleEndian.Uint32(b[4:]) != 1 || binary.LittleEndian.Uint32(b[8:]) != n || binary.LittleEndian.Uint32(b[12:]) != tenants {
		t.Fatalf("access.bin header %q", b[:16])
	}
	access := make([][]uint32, n)
	off, total := 16, 0
	for i := range access {
		c := int(b[off])
		off++
		for j := 0; j < c; j++ {
			tn := binary.LittleEndian.Uint32(b[off:])
			off += 4
			if tn >= tenants || slices.Contains(access[i], tn) {
				t.Fatalf("row %d: tenant %d out of range or twice", i, tn)
			}
			access[i] = append(access[i], tn)
		}
		if c == 0 {
			t.Fatalf("row %d has no owner", i)
		}
		total += c
	}
	if off != len(b) {
		t.Fatalf("access.bin has %d trailing bytes", len(b)-off)
	}
	if share := float64(total) / n; math.Abs(share-2.5) > 0.1 {
		t.Errorf("mean tenants per row %.3f, want 2.5", share)
	}

	qb, _ := os.ReadFile(filepath.Join(out, "query_tenants.u32"))
	if len(qb) != 4*nq {
		t.Fatalf("query_tenants.u32 has %d bytes, want %d", len(qb), 4*nq)
	}
	base, _, err := vecfile.ReadFloat32(filepath.Join(data, "base.fvecs"))
	if err != nil {
		t.Fatal(err)
	}
	qs, _, err := vecfile.ReadFloat32(filepath.Join(data, "query.fvecs"))
	if err != nil {
		t.Fatal(err)
	}
	gb, _ := os.ReadFile(filepath.Join(out, "groundtruth.ivecs"))
	sizes := make([]int, tenants)
	for _, a := range access {
		for _, tn := range a {
			sizes[tn]++
		}
	}
	buckets := map[int]bool{}
	off = 0
	for q := 0; q < nq; q++ {
		tn := binary.LittleEndian.Uint32(qb[4*q:])
		buckets[tenantBucket(sizes[tn])] = true
		// Brute force over the tenant's rows.
		type cand struct {
			id int
			d  float32
		}
		var all []cand
		for i, a := range access {
			if slices.Contains(a, tn) {
				all = append(all, cand{i, vec.L2SquaredF32(qs[q*dim:(q+1)*dim], base[i*dim:(i+1)*dim])})
			}
		}
		slices.SortStableFunc(all, func(x, y cand) int {
			if x.d < y.d {
				return -1
			} else if x.d > y.d {
				return 1
			}
			return 0
		})
		want := min(k, len(all))
		c := int(binary.LittleEndian.Uint32(gb[off:]))
		off += 4
		if c != want {
			t.Fatalf("query %d (tenant %d, %d rows): %d neighbours, want %d", q, tn, len(all), c, want)
		}
		for r := 0; r < c; r++ {
			id := int(binary.LittleEndian.Uint32(gb[off:]))
			off += 4
			if !slices.Contains(access[id], tn) {
				t.Fatalf("query %d: neighbour %d is not readable by tenant %d", q, id, tn)
			}
			if d := vec.L2SquaredF32(qs[q*dim:(q+1)*dim], base[id*dim:(id+1)*dim]); d != all[r].d {
				t.Fatalf("query %d rank %d: row %d at %v, brute force has %v", q, r, id, d, all[r].d)
			}
		}
	}
	// Zipf 1.2 over 200 tenants of 7,500 memberships: small and mid-sized
	// tenants both exist, and the queries reach every non-empty bucket.
	nonEmpty := map[int]bool{}
	for _, s := range sizes {
		if s > 0 {
			nonEmpty[tenantBucket(s)] = true
		}
	}
	if len(buckets) != len(nonEmpty) || len(nonEmpty) < 2 {
		t.Errorf("queries reach buckets %v of the non-empty %v", buckets, nonEmpty)
	}
}
