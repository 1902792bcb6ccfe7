package index

// This file is a measurement, not a test of Shoal's behaviour: it checks
// the memory model of docs/memory.md against an open index. It opens a
// built index, and after Open, after searches and after upserts it
// collects the garbage, writes a heap profile and prints the Go heap, the
// process's resident memory (/proc/self/status) and what the model says
// each structure holds, read from the structures themselves.
//
// It runs only against a built index, which it changes (the upserts):
// give it a copy.
//
//	cp -r /tmp/ing/base1m /tmp/mem/base1m
//	SHOAL_MEMORY_INDEX=/tmp/mem/base1m SHOAL_MEMORY_OUT=/tmp/mem/prof \
//	    go test ./index -run TestMemoryModel -v -timeout 30m
//	go tool pprof -top -inuse_space /tmp/mem/prof/heap-open.pb.gz
//
// SHOAL_MEMORY_SEARCHES and SHOAL_MEMORY_UPSERTS set the number of
// searches (default 1000) and upserted vectors (default 10000).

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// memEnvInt reads a positive integer from the environment, or def.
func memEnvInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return v
}

// procStatus returns the named fields of /proc/self/status in bytes.
func procStatus(t *testing.T) map[string]int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(k, "Vm") && !strings.HasPrefix(k, "Rss") {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 2 && fields[1] == "kB" {
			n, _ := strconv.ParseInt(fields[0], 10, 64)
			out[k] = n << 10
		}
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func TestMemoryModel(t *testing.T) {
	src := os.Getenv("SHOAL_MEMORY_INDEX")
	if src == "" {
		t.Skip("set SHOAL_MEMORY_INDEX to (a copy of) an index directory to measure its memory")
	}
	out := os.Getenv("SHOAL_MEMORY_OUT")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	searches := memEnvInt(t, "SHOAL_MEMORY_SEARCHES", 1000)
	upserts := memEnvInt(t, "SHOAL_MEMORY_UPSERTS", 10000)
	// Sample one allocation per 64 KiB instead of 512 KiB: the per-entry
	// structures (cache entries, tails) are small.
	runtime.MemProfileRate = 64 << 10

	snap := func(stage string, ix *Index) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		f, err := os.Create(filepath.Join(out, "heap-"+stage+".pb.gz"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
		ps := procStatus(t)
		t.Logf("== %s: HeapAlloc %s  HeapInuse %s  HeapSys %s  StackInuse %s  GoSys %s  VmRSS %s (RssAnon %s, RssFile %s)  VmHWM %s",
			stage, mib(int64(ms.HeapAlloc)), mib(int64(ms.HeapInuse)), mib(int64(ms.HeapSys)), mib(int64(ms.StackInuse)),
			mib(int64(ms.Sys)), mib(ps["VmRSS"]), mib(ps["RssAnon"]), mib(ps["RssFile"]), mib(ps["VmHWM"]))
		if ix == nil {
			return
		}
		// The model, read from the structures.
		tr := ix.tree // maintenance is paused: nothing edits it
		nodes, leaves := int64(tr.NumNodes()), int64(tr.NumLeaves())
		treeB := int64(cap(tr.Centroids))*4 + int64(cap(tr.ChildStart)+cap(tr.ChildCount)+cap(tr.LeafID)+cap(tr.Parent))*4 +
			int64(cap(tr.LeafNode)+cap(tr.LeafSize))*4
		st := ix.Stats()
		n := ix.live.Load()
		verB := ix.vers.m.Bytes()
		dirB := leaves * 16 // pebblestore's directory: one location per posting id
		tailB := ix.tails.Bytes()
		ts := ix.ten.Stats()
		t.Logf("   n %d live, %d heads (%d node slots, %d leaf ids), dim %d", n, tr.LiveLeaves(), nodes, leaves, tr.Dim)
		t.Logf("   tree (centroids + 4 int32 per node + 2 int32 per leaf id) %s = %.1f B/vector, %.1f B/head",
			mib(treeB), float64(treeB)/float64(n), float64(treeB)/float64(tr.LiveLeaves()))
		t.Logf("   version map %s = %.2f B/vector", mib(verB), float64(verB)/float64(n))
		t.Logf("   posting directory (16 B per posting id) %s = %.2f B/vector", mib(dirB), float64(dirB)/float64(n))
		t.Logf("   posting cache %s of %s (%d hits, %d misses)", mib(st.CacheBytes), mib(st.CacheCapacity), st.CacheHits, st.CacheMisses)
		t.Logf("   tails %s (budget %s)", mib(tailB), mib(st.UpdateBuffer))
		t.Logf("   tenants %d, access lists %s, value versions %s, shortlists %d (%s)",
			ts.Tenants, mib(ts.ListBytes), mib(ts.VersionBytes), ts.Shortlists, mib(ts.ShortlistBytes))
		sum := treeB + verB + dirB + st.CacheBytes + tailB + ts.ListBytes + ts.VersionBytes + ts.ShortlistBytes
		t.Logf("   model sum (Go heap) %s; heap in use %s, difference %s", mib(sum), mib(int64(ms.HeapInuse)), mib(int64(ms.HeapInuse)-sum))
	}

	snap("before", nil)
	start := time.Now()
	ix, err := Open(src, &Options{MaintenancePaused: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	t.Logf("Open took %v", time.Since(start).Round(time.Millisecond))
	snap("open", ix)

	n := uint64(ix.man.Count)
	rng := rand.New(rand.NewPCG(20261207, 16))
	noisy := func() []float32 {
		for {
			v, err := ix.Get(rng.Uint64N(n))
			if err != nil {
				continue // deleted since the build
			}
			for i := range v {
				v[i] += float32(rng.NormFloat64())
			}
			return v
		}
	}
	start = time.Now()
	for range searches {
		if _, err := ix.Search(noisy(), 10, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d searches took %v", searches, time.Since(start).Round(time.Millisecond))
	snap("search", ix)

	// Upserts of new ids past the build's, in batches of 100; maintenance
	// stays paused, so the tails hold every copy.
	start = time.Now()
	next := n // the ids after the build's
	for done := 0; done < upserts; {
		b := min(100, upserts-done)
		ids := make([]uint64, b)
		vs := make([][]float32, b)
		for i := range b {
			ids[i], vs[i] = next, noisy()
			next++
		}
		if err := ix.Upsert(ids, vs); err != nil {
			t.Fatal(err)
		}
		done += b
	}
	t.Logf("%d upserts took %v", upserts, time.Since(start).Round(time.Millisecond))
	snap("upsert", ix)
}

// TestMemoryBuild measures the offline build of docs/memory.md: peak
// resident memory and peak Go heap per build stage, sampled every 100 ms,
// and a heap profile taken as the write stage starts (the assignment and
// the capped lists are still live then).
//
//	SHOAL_MEMORY_BUILD=/tmp/ing/base1m.fvecs SHOAL_MEMORY_OUT=/tmp/mem/prof GOGC=25 \
//	    go test ./index -run TestMemoryBuild -v -timeout 60m
//
// GOGC=25 is what the shoal command sets for build, search and upsert
// (clikit.LowerGC); TestMemoryModel collects the garbage before each
// reading, so its numbers do not depend on it.
func TestMemoryBuild(t *testing.T) {
	data := os.Getenv("SHOAL_MEMORY_BUILD")
	if data == "" {
		t.Skip("set SHOAL_MEMORY_BUILD to a vector file to measure the memory of its build")
	}
	out := os.Getenv("SHOAL_MEMORY_OUT")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	runtime.MemProfileRate = 64 << 10
	src, err := OpenFile(data)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	type peak struct{ rss, heap int64 }
	var (
		mu     sync.Mutex
		stage  = "open"
		order  = []string{"open"}
		peaks  = map[string]*peak{"open": {}}
		wroteW bool
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss := procStatus(t)["VmRSS"]
		mu.Lock()
		p := peaks[stage]
		p.rss, p.heap = max(p.rss, rss), max(p.heap, int64(ms.HeapInuse))
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				sample()
			}
		}
	}()
	progress := func(p Progress) {
		mu.Lock()
		if p.Stage != stage {
			stage = p.Stage
			if peaks[stage] == nil {
				peaks[stage] = &peak{}
				order = append(order, stage)
			}
		}
		first := stage == "write" && !wroteW
		wroteW = wroteW || first
		mu.Unlock()
		if first {
			f, err := os.Create(filepath.Join(out, "heap-build-write.pb.gz"))
			if err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}
	dir := filepath.Join(t.TempDir(), "ix")
	start := time.Now()
	m, err := Build(dir, src, &Options{Progress: progress})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %d vectors × %d in %v: %d heads, %d entries", m.Count, m.Dim, time.Since(start).Round(time.Second), m.Heads, m.Entries)
	for _, s := range order {
		t.Logf("   stage %-8s peak VmRSS %s, peak HeapInuse %s", s, mib(peaks[s].rss), mib(peaks[s].heap))
	}
	t.Logf("   VmHWM %s", mib(procStatus(t)["VmHWM"]))
}
