package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// BenchmarkSnapshotUnderUpserts measures snapshots of a large index while
// writers upsert (docs/BENCHMARKS.md, "Ingest: snapshots (issue 17)").
// It needs an index built by `shoal build` in $SHOAL_SNAPSHOT_INDEX,
// which it upserts into (each run adds a few thousand vectors), and
// works in $SHOAL_SNAPSHOT_WORK (default: a directory beside the index,
// same file system). One run per invocation (-benchtime=1x):
//
//  1. opens the index, starts snapshotWriters goroutines upserting
//     batches of snapshotBatch (10) new random vectors, lets them run 3 s,
//     then takes a checkpoint (Index.Checkpoint) and lets them run 2 s
//     more; reports the longest upsert that overlapped the checkpoint
//     (stall_ms) against the longest in the 3 s before (base_max_ms) and
//     their p99, the checkpoint's time and its cut's;
//  2. packs the checkpoint as a server snapshot (a manifest of SHA-256s,
//     as CreateSnapshot writes), drops its pages from the page cache,
//     and restores it into a fresh server (RestoreSnapshot, in process):
//     bytes of the snapshot / seconds of the call (restore_MBps);
//  3. upserts into the restored collection through the server's Upsert
//     while CreateSnapshot runs: the longest server upsert that
//     overlapped it (srv_stall_ms), against the 3 s before.
func BenchmarkSnapshotUnderUpserts(b *testing.B) {
	src := os.Getenv("SHOAL_SNAPSHOT_INDEX")
	if src == "" {
		b.Skip("set SHOAL_SNAPSHOT_INDEX to an index built by shoal build")
	}
	work := os.Getenv("SHOAL_SNAPSHOT_WORK")
	if work == "" {
		work = filepath.Join(filepath.Dir(src), ".snapshot-bench")
	}
	for range b.N {
		runSnapshotBench(b, src, filepath.Join(work, time.Now().Format("150405.000")))
	}
}

const (
	snapshotWriters = 3
	snapshotBatch   = 10
)

// upsertLog records the start and end of every upsert call.
type upsertLog struct {
	mu    sync.Mutex
	calls [][2]time.Time
}

func (l *upsertLog) add(t0, t1 time.Time) {
	l.mu.Lock()
	l.calls = append(l.calls, [2]time.Time{t0, t1})
	l.mu.Unlock()
}

// window returns the latencies of the calls that overlapped [from, to].
func (l *upsertLog) window(from, to time.Time) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, c := range l.calls {
		if c[1].After(from) && c[0].Before(to) {
			out = append(out, c[1].Sub(c[0]))
		}
	}
	slices.Sort(out)
	return out
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// maxP99 returns the largest and the 99th percentile of sorted ds.
func maxP99(ds []time.Duration) (float64, float64) {
	if len(ds) == 0 {
		return 0, 0
	}
	return msOf(ds[len(ds)-1]), msOf(ds[len(ds)*99/100])
}

// runWriters upserts batches of random vectors of dim with fresh ids
// through up until stop is closed, logging each call. The values are
// exact in elem: whole numbers in range for Uint8 and Int8 indexes.
func runWriters(b *testing.B, dim int, elem index.ElemType, first uint64, up func(ids []uint64, vs [][]float32) error, stop chan struct{}, log *upsertLog) *sync.WaitGroup {
	var wg sync.WaitGroup
	var next atomic.Uint64
	next.Store(first)
	for w := range snapshotWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(first, uint64(w)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				ids := make([]uint64, snapshotBatch)
				vs := make([][]float32, snapshotBatch)
				base := next.Add(snapshotBatch) - snapshotBatch
				for i := range ids {
					ids[i] = base + uint64(i)
					v := make([]float32, dim)
					for d := range v {
						v[d] = benchValue(elem, rng.NormFloat64())
					}
					vs[i] = v
				}
				t0 := time.Now()
				if err := up(ids, vs); err != nil {
					b.Errorf("upsert: %v", err)
					return
				}
				log.add(t0, time.Now())
			}
		}()
	}
	return &wg
}

// benchValue maps a standard normal draw to a value exact in elem.
func benchValue(elem index.ElemType, z float64) float32 {
	switch elem {
	case index.Uint8:
		return float32(math.Round(max(0, min(255, 64+32*z))))
	case index.Int8:
		return float32(math.Round(max(-128, min(127, 32*z))))
	}
	return float32(z * 20)
}

func runSnapshotBench(b *testing.B, src, work string) {
	ctx := context.Background()
	snaps := filepath.Join(work, "snapshots")
	if err := os.MkdirAll(filepath.Join(snaps, "ck"), 0o755); err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(work)

	// 1. Checkpoint of the index under upserts.
	ix, err := index.Open(src, nil)
	if err != nil {
		b.Fatal(err)
	}
	dim := ix.Dim()
	var log upsertLog
	stop := make(chan struct{})
	elem := ix.Manifest().Elem
	wg := runWriters(b, dim, elem, uint64(time.Now().UnixNano())&(1<<52-1)|1<<60, ix.Upsert, stop, &log)
	time.Sleep(3 * time.Second)
	c0 := time.Now()
	st, err := ix.Checkpoint(filepath.Join(snaps, "ck", snapshotIndexDir), nil)
	c1 := time.Now()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	man := ix.Manifest()
	if err := ix.Close(); err != nil {
		b.Fatal(err)
	}
	during := log.window(c0, c1)
	base := log.window(c0.Add(-3*time.Second), c0)
	stall, stallP99 := maxP99(during)
	baseMax, baseP99 := maxP99(base)
	b.ReportMetric(stall, "stall_ms")
	b.ReportMetric(baseMax, "base_max_ms")
	b.ReportMetric(msOf(st.Took), "checkpoint_ms")
	b.ReportMetric(msOf(st.Cut), "cut_ms")
	b.Logf("checkpoint %v (cut %v): %d files, %d MB linked, %d MB copied; upserts overlapping it: %d, max %.1f ms, p99 %.1f ms; the 3 s before: %d, max %.1f ms, p99 %.1f ms",
		st.Took, st.Cut, st.Files, st.LinkedBytes>>20, st.CopiedBytes>>20, len(during), stall, stallP99, len(base), baseMax, baseP99)

	// 2. Restore through the server. The checkpoint's vector count comes
	// from opening it (a copy's first open replays its log).
	ckDir := filepath.Join(snaps, "ck", snapshotIndexDir)
	cix, err := index.Open(ckDir, nil)
	if err != nil {
		b.Fatal(err)
	}
	n := cix.Len()
	if err := cix.Close(); err != nil {
		b.Fatal(err)
	}
	m := &manifest{
		Format: snapshotFormat, Version: snapshotVersion, Collection: "bench", Vectors: uint64(n),
		Config: snapshotConfig{Dim: man.Dim, Metric: metricName(apiMetric(man.Metric)), Elem: elemName(apiElem(man.Elem)), PostingCap: man.PostingCap, Replicas: man.Replicas},
	}
	d, err := os.Open(filepath.Join(snaps, "ck"))
	if err != nil {
		b.Fatal(err)
	}
	if m.Files, err = hashFilesBeneath(ctx, d, snapshotIndexDir); err != nil {
		b.Fatal(err)
	}
	d.Close()
	for _, f := range m.Files {
		m.Bytes += f.Bytes
	}
	js, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(snaps, "ck", snapshotManifest), js, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, f := range m.Files { // cold files: read from the disk
		if fh, err := os.Open(filepath.Join(snaps, "ck", f.Name)); err == nil {
			_ = unix.Fadvise(int(fh.Fd()), 0, 0, unix.FADV_DONTNEED)
			fh.Close()
		}
	}
	var logBuf lockedBuffer
	s, err := Open(&Options{DataDir: filepath.Join(work, "data"), SnapshotDir: snaps, Logger: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	admin := context.WithValue(ctx, principalKey{}, principal{admin: true})
	r0 := time.Now()
	if _, err := (adminAPI{Server: s}).RestoreSnapshot(admin, &shoalv1.RestoreSnapshotRequest{Directory: "ck", Collection: "bench"}); err != nil {
		b.Fatal(err)
	}
	took := time.Since(r0)
	mbps := float64(m.Bytes) / 1e6 / took.Seconds()
	b.ReportMetric(mbps, "restore_MBps")
	b.Logf("restore: %d vectors, %d files, %.1f MB in %v: %.0f MB/s", n, len(m.Files), float64(m.Bytes)/1e6, took, mbps)

	// 3. A server snapshot of the restored collection under server upserts.
	var slog2 upsertLog
	stop = make(chan struct{})
	va := vectorsAPI{Server: s}
	up := func(ids []uint64, vs [][]float32) error {
		req := &shoalv1.UpsertRequest{Collection: "bench"}
		for i, id := range ids {
			req.Vectors = append(req.Vectors, &shoalv1.Vector{Id: id, Values: vs[i]})
		}
		_, err := va.Upsert(admin, req)
		return err
	}
	wg = runWriters(b, dim, elem, 1<<61|uint64(time.Now().UnixNano())&(1<<52-1), up, stop, &slog2)
	time.Sleep(3 * time.Second)
	c0 = time.Now()
	resp, err := (adminAPI{Server: s}).CreateSnapshot(admin, &shoalv1.CreateSnapshotRequest{Collection: "bench", Directory: "srv"})
	c1 = time.Now()
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	during = slog2.window(c0, c1)
	base = slog2.window(c0.Add(-3*time.Second), c0)
	sstall, sP99 := maxP99(during)
	sbase, sbP99 := maxP99(base)
	b.ReportMetric(sstall, "srv_stall_ms")
	b.ReportMetric(sbase, "srv_base_max_ms")
	b.ReportMetric(msOf(c1.Sub(c0)), "srv_snapshot_ms")
	b.Logf("server snapshot: %d MB in %v; server upserts overlapping it: %d, max %.1f ms, p99 %.1f ms; the 3 s before: %d, max %.1f ms, p99 %.1f ms",
		resp.GetBytes()>>20, c1.Sub(c0), len(during), sstall, sP99, len(base), sbase, sbP99)
	for _, line := range strings.Split(logBuf.String(), "\n") {
		if strings.Contains(line, "snapshot phases") {
			b.Logf("server: %s", line)
		}
	}
}

// apiMetric and apiElem map the index's enums back to the API's.
func apiMetric(m index.Metric) shoalv1.Metric {
	keys := make([]shoalv1.Metric, 0, len(metrics))
	for k, v := range metrics {
		if v == m {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] > keys[j] })
	return keys[0]
}

func apiElem(e index.ElemType) shoalv1.ElementType {
	keys := make([]shoalv1.ElementType, 0, len(elems))
	for k, v := range elems {
		if v == e {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] > keys[j] })
	return keys[0]
}

// lockedBuffer is a bytes.Buffer for a logger that several goroutines
// write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
