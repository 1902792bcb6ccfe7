package benchcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/client"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(&clikit.Command{Name: "loadtest", Short: "load-test a shoal server on loopback: concurrent search + upsert, or memory per collection and tenant", Run: runLoadtest})
}

// loadtestOptions are the flags of `shoal loadtest`.
//
// The command starts its own `shoal serve` (this binary) on a loopback
// port over a temporary data directory, unless -addr names a running
// server; it is bounded in time (-duration) and in data (-n, -ids).
type loadtestOptions struct {
	addr      string // a running server; "" starts one
	serverPID int    // the running server's pid, for its RSS (with -addr)
	key       string
	mode      string // "mixed" or "memory"
	clients   int
	duration  time.Duration
	n         int     // vectors loaded before the mixed phase
	dim       int     //
	upserts   float64 // fraction of operations that are upserts
	batch     int     // vectors per upsert
	k         int
	nprobe    int
	every     time.Duration // memory sample period
	timeout   time.Duration // per-call deadline
	colls     int           // memory mode: empty collections
	tenants   int           // memory mode: tenants in one collection
	seed      uint64
	cache     clikit.SizeFlag // the started server's -cache
	settle    time.Duration   // memory mode: pause before each sample
}

// Validate reports flags that cannot work.
func (o *loadtestOptions) Validate() error {
	switch {
	case o.mode != "mixed" && o.mode != "memory":
		return fmt.Errorf("-mode %q: want mixed or memory", o.mode)
	case o.clients < 1:
		return fmt.Errorf("-clients %d, want >= 1", o.clients)
	case o.duration <= 0 || o.duration > time.Hour:
		return fmt.Errorf("-duration %v: want (0, 1h] (the test is bounded)", o.duration)
	case o.n < 1 || o.n > 10_000_000:
		return fmt.Errorf("-n %d: want 1..10,000,000", o.n)
	case o.dim < 1 || o.dim > 4096:
		return fmt.Errorf("-dim %d: want 1..4096", o.dim)
	case o.upserts < 0 || o.upserts > 1:
		return fmt.Errorf("-upserts %v: want a fraction in [0, 1]", o.upserts)
	case o.batch < 1 || o.batch > o.n:
		return fmt.Errorf("-batch %d: want 1..-n", o.batch)
	case o.every <= 0:
		return fmt.Errorf("-every %v: want > 0", o.every)
	case o.addr != "" && !clikit.Loopback(o.addr):
		return fmt.Errorf("-addr %s: the load test runs on loopback only", o.addr)
	}
	return nil
}

func runLoadtest(ctx context.Context, env *clikit.Env, args []string) error {
	o := loadtestOptions{cache: 64 << 20}
	fs := clikit.NewFlags(env, "loadtest", "[flags]")
	fs.StringVar(&o.mode, "mode", "mixed", "mixed: clients mixing search and upsert; memory: memory per empty collection and per tenant")
	fs.StringVar(&o.addr, "addr", "", "a running server on loopback (default: start `shoal serve` on 127.0.0.1 with a temporary data directory)")
	fs.IntVar(&o.serverPID, "server-pid", 0, "with -addr: the server's process id, to sample its RSS")
	fs.StringVar(&o.key, "key", os.Getenv("SHOAL_API_KEY"), "with -addr: the admin key")
	fs.IntVar(&o.clients, "clients", 32, "concurrent clients, each with its own connection")
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "how long the mixed phase runs")
	fs.IntVar(&o.n, "n", 100_000, "vectors loaded first; upserts overwrite these ids (the collection keeps its size)")
	fs.IntVar(&o.dim, "dim", 64, "dimension")
	fs.Float64Var(&o.upserts, "upserts", 0.2, "fraction of operations that are upserts (the rest are searches)")
	fs.IntVar(&o.batch, "batch", 10, "vectors per upsert")
	fs.IntVar(&o.k, "k", 10, "neighbours per search")
	fs.IntVar(&o.nprobe, "nprobe", 16, "postings per search")
	fs.DurationVar(&o.every, "every", 10*time.Second, "memory sample period")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "deadline of each call")
	fs.IntVar(&o.colls, "collections", 2000, "memory mode: empty collections to create")
	fs.IntVar(&o.tenants, "tenants", 5000, "memory mode: tenants to create in one collection")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "memory mode: pause before each sample (background work goes idle, the GC runs)")
	fs.Var(&o.cache, "cache", "posting cache per collection of the started server")
	if err := clikit.ParseValid(fs, args, &o); err != nil {
		return err
	}
	return o.Run(ctx, env)
}

// Run runs the load test and prints its report (markdown) to stdout.
func (o *loadtestOptions) Run(ctx context.Context, env *clikit.Env) error {
	pid := o.serverPID
	if o.addr == "" {
		stop, err := o.startServer(env)
		if err != nil {
			return err
		}
		defer stop()
		pid = o.serverPID
	}
	c, err := client.Dial(o.addr, &client.Options{APIKey: o.key})
	if err != nil {
		return err
	}
	defer c.Close()
	if o.mode == "memory" {
		return o.memory(ctx, env, c, pid)
	}
	return o.mixed(ctx, env, c, pid)
}

// startServer starts `shoal serve` from this binary and sets o.addr,
// o.key and o.serverPID; stop shuts it down (SIGTERM) and removes its
// data.
func (o *loadtestOptions) startServer(env *clikit.Env) (stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "shoal-loadtest-")
	if err != nil {
		return nil, err
	}
	o.key = "loadtest-" + strconv.FormatUint(rand.Uint64(), 16) + "-key"
	cmd := exec.Command(exe, "serve", "-listen", "127.0.0.1:0", "-data-dir", dir, "-admin-key", o.key,
		"-log-level", "warn", "-cache", strconv.FormatInt(int64(o.cache), 10))
	cmd.Stderr = env.Stderr
	if o.mode == "memory" {
		// A small GC target keeps the heap in use near the live heap, so
		// that differences measure what collections and tenants keep.
		cmd.Env = append(os.Environ(), "GOGC=5")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.RemoveAll(dir)
	}
	re := regexp.MustCompile(`serving on (\S+)`)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			o.addr = m[1]
			break
		}
	}
	if o.addr == "" {
		stop()
		return nil, errors.New("shoal serve printed no address")
	}
	go io.Copy(io.Discard, out)
	o.serverPID = cmd.Process.Pid
	fmt.Fprintf(env.Stderr, "loadtest: started shoal serve (pid %d) on %s, data in %s\n", cmd.Process.Pid, o.addr, dir)
	return stop, nil
}

// rssOf returns the resident set size of process pid, or -1.
func rssOf(pid int) int64 {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}

// randomVectors returns n vectors of dim around 64 Gaussian centres.
func randomVectors(rng *rand.Rand, n, dim int) [][]float32 {
	centres := make([][]float32, 64)
	for i := range centres {
		centres[i] = make([]float32, dim)
		for d := range centres[i] {
			centres[i][d] = float32(rng.NormFloat64() * 3)
		}
	}
	out := make([][]float32, n)
	for i := range out {
		c := centres[rng.IntN(len(centres))]
		v := make([]float32, dim)
		for d := range v {
			v[d] = c[d] + float32(rng.NormFloat64())
		}
		out[i] = v
	}
	return out
}

// memSample is one sample of the server's memory.
type memSample struct {
	at        time.Duration
	rss, heap int64
	tail      uint64
	ops       int64
}

func (o *loadtestOptions) sample(ctx context.Context, c *client.Client, pid int, coll string) memSample {
	s := memSample{rss: rssOf(pid), heap: -1}
	cctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if st, err := c.Admin.GetServerStats(cctx, &shoalv1.GetServerStatsRequest{}); err == nil {
		s.heap = int64(st.GetHeapBytes())
		for _, cs := range st.GetCollectionStats() {
			if cs.GetCollection() == coll {
				s.tail = cs.GetTailBytes()
			}
		}
	}
	return s
}

// latencies collects one operation type's latencies.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d)
	l.mu.Unlock()
}

func (l *latencies) quantiles() (n int, p50, p99, p999, maxd time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return 0, 0, 0, 0, 0
	}
	s := slices.Clone(l.all)
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[min(len(s)-1, int(f*float64(len(s))))] }
	return len(s), q(0.50), q(0.99), q(0.999), s[len(s)-1]
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }

func mib(b int64) string {
	if b < 0 {
		return "n/a"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64)
}

// mixed loads -n vectors, then runs -clients clients mixing searches and
// upserts (overwrites of the loaded ids, so the collection keeps its
// size and memory should stay flat) for -duration.
func (o *loadtestOptions) mixed(ctx context.Context, env *clikit.Env, c *client.Client, pid int) error {
	const coll = "loadtest"
	rng := rand.New(rand.NewPCG(o.seed, 1))
	base := randomVectors(rng, o.n, o.dim)
	ids := make([]uint64, o.n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	if _, err := c.CreateCollection(ctx, coll, &shoalv1.CollectionConfig{Dim: uint32(o.dim)}); err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := c.UpsertStream(ctx, coll, ids, base); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	load := time.Since(t0)
	fmt.Fprintf(env.Stderr, "loadtest: loaded %d×%d in %v; running %d clients for %v\n", o.n, o.dim, load.Round(time.Millisecond), o.clients, o.duration)

	var search, upsert latencies
	var errMu sync.Mutex
	errs := map[string]int{}
	var ops atomic.Int64
	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var wg sync.WaitGroup
	for w := range o.clients {
		cl, err := client.Dial(o.addr, &client.Options{APIKey: o.key})
		if err != nil {
			return err
		}
		defer cl.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(o.seed, uint64(w)+2))
			q := make([]float32, o.dim)
			for runCtx.Err() == nil {
				cctx, ccancel := context.WithTimeout(context.Background(), o.timeout)
				start := time.Now()
				var err error
				lat := &search
				if r.Float64() < o.upserts {
					lat = &upsert
					bids := make([]uint64, 0, o.batch)
					vecs := make([][]float32, 0, o.batch)
					for len(bids) < o.batch {
						id := uint64(r.IntN(o.n))
						if slices.Contains(bids, id) {
							continue
						}
						v := make([]float32, o.dim)
						src := base[r.IntN(o.n)]
						for d := range v {
							v[d] = src[d] + float32(r.NormFloat64()*0.3)
						}
						bids, vecs = append(bids, id), append(vecs, v)
					}
					err = cl.Upsert(cctx, coll, bids, vecs)
				} else {
					src := base[r.IntN(o.n)]
					for d := range q {
						q[d] = src[d] + float32(r.NormFloat64()*0.5)
					}
					var hits []*shoalv1.Hit
					hits, err = cl.Search(cctx, coll, q, o.k, &shoalv1.SearchParams{Nprobe: uint32(o.nprobe)})
					if err == nil && len(hits) != o.k {
						err = status.Errorf(codes.Internal, "search returned %d hits, want %d", len(hits), o.k)
					}
				}
				took := time.Since(start)
				ccancel()
				ops.Add(1)
				if err != nil {
					errMu.Lock()
					errs[status.Code(err).String()+": "+status.Convert(err).Message()]++
					errMu.Unlock()
					continue
				}
				lat.add(took)
			}
		}()
	}
	var samples []memSample
	tick := time.NewTicker(o.every)
	defer tick.Stop()
	start := time.Now()
	s := o.sample(ctx, c, pid, coll)
	s.at = 0
	samples = append(samples, s)
	for done := false; !done; {
		select {
		case <-runCtx.Done():
			done = true
		case <-tick.C:
			s := o.sample(ctx, c, pid, coll)
			s.at, s.ops = time.Since(start), ops.Load()
			samples = append(samples, s)
			fmt.Fprintf(env.Stderr, "loadtest: %6.0fs  %8d ops  RSS %s MiB  heap %s MiB  tail %s MiB\n",
				s.at.Seconds(), s.ops, mib(s.rss), mib(s.heap), mib(int64(s.tail)))
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	s = o.sample(ctx, c, pid, coll)
	s.at, s.ops = elapsed, ops.Load()
	samples = append(samples, s)

	w := env.Stdout
	fmt.Fprintf(w, "### Mixed load: %d clients, %.0f %% upserts (batches of %d), %v\n\n", o.clients, 100*o.upserts, o.batch, o.duration)
	fmt.Fprintf(w, "Collection of %d × %d float32 (L2), loaded in %v; searches top-%d at nprobe %d; upserts overwrite random loaded ids; each client its own connection; per-call deadline %v.\n\n",
		o.n, o.dim, load.Round(time.Millisecond), o.k, o.nprobe, o.timeout)
	fmt.Fprintln(w, "| operation | count | per second | p50 ms | p99 ms | p99.9 ms | max ms |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range []struct {
		name string
		l    *latencies
	}{{"search", &search}, {"upsert", &upsert}} {
		n, p50, p99, p999, mx := r.l.quantiles()
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %s |\n", r.name, n, float64(n)/elapsed.Seconds(), ms(p50), ms(p99), ms(p999), ms(mx))
	}
	nerr := 0
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range errs {
			if !yield(k) {
				return
			}
		}
	}) {
		nerr += errs[k]
	}
	fmt.Fprintf(w, "\nErrors: %d", nerr)
	if nerr > 0 {
		fmt.Fprint(w, " —")
		for k, v := range errs {
			fmt.Fprintf(w, " %d × %s;", v, k)
		}
	}
	fmt.Fprintf(w, "\n\nServer memory over time (RSS of the server process; Go heap in use, from GetServerStats; posting tails = background work queue):\n\n")
	fmt.Fprintln(w, "| t (s) | ops so far | RSS MiB | heap MiB | tails MiB |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: |")
	for _, s := range samples {
		fmt.Fprintf(w, "| %.0f | %d | %s | %s | %s |\n", s.at.Seconds(), s.ops, mib(s.rss), mib(s.heap), mib(int64(s.tail)))
	}
	if len(samples) >= 4 {
		h := len(samples) / 2
		a, b := maxRSS(samples[1:h]), maxRSS(samples[h:])
		fmt.Fprintf(w, "\nPeak RSS, first half of the run: %s MiB; second half: %s MiB.\n", mib(a), mib(b))
	}
	if nerr > 0 {
		return fmt.Errorf("%d unexpected errors", nerr)
	}
	return nil
}

func maxRSS(s []memSample) int64 {
	m := int64(-1)
	for _, x := range s {
		m = max(m, x.rss)
	}
	return m
}

// memory measures the server's memory per empty collection and per
// tenant: RSS and Go heap before and after creating -collections empty
// collections, then -tenants tenants in one collection, then one vector
// owned by each tenant. A server it starts runs with GOGC=5.
func (o *loadtestOptions) memory(ctx context.Context, env *clikit.Env, c *client.Client, pid int) error {
	settle := func() memSample {
		// Let the collections' background workers go idle and a GC or two run.
		time.Sleep(o.settle)
		return o.sample(ctx, c, pid, "")
	}
	w := env.Stdout
	before := settle()
	t0 := time.Now()
	for i := range o.colls {
		name := fmt.Sprintf("empty-%05d", i)
		if _, err := c.CreateCollection(ctx, name, &shoalv1.CollectionConfig{Dim: uint32(o.dim)}); err != nil {
			return fmt.Errorf("collection %d: %w", i, err)
		}
	}
	create := time.Since(t0)
	after := settle()
	fmt.Fprintf(w, "### Memory per empty collection and per tenant\n\n")
	fmt.Fprintf(w, "| step | RSS MiB | heap MiB | per item (RSS) | per item (heap) | took |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	fmt.Fprintf(w, "| server, no collections | %s | %s | | | |\n", mib(before.rss), mib(before.heap))
	per := func(a, b memSample, n int) (string, string) {
		return clikit.FormatBytes((b.rss - a.rss) / int64(n)), clikit.FormatBytes((b.heap - a.heap) / int64(n))
	}
	r, h := per(before, after, o.colls)
	fmt.Fprintf(w, "| + %d empty collections (dim %d) | %s | %s | %s | %s | %v |\n", o.colls, o.dim, mib(after.rss), mib(after.heap), r, h, create.Round(time.Millisecond))

	const coll = "tenants"
	if _, err := c.CreateCollection(ctx, coll, &shoalv1.CollectionConfig{Dim: uint32(o.dim)}); err != nil {
		return err
	}
	before = settle()
	t0 = time.Now()
	for i := range o.tenants {
		if _, err := c.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: coll, Tenant: fmt.Sprintf("t%05d", i)}); err != nil {
			return fmt.Errorf("tenant %d: %w", i, err)
		}
	}
	create = time.Since(t0)
	after = settle()
	r, h = per(before, after, o.tenants)
	fmt.Fprintf(w, "| + %d empty tenants in one collection | %s | %s | %s | %s | %v |\n", o.tenants, mib(after.rss), mib(after.heap), r, h, create.Round(time.Millisecond))

	// Tenants with a vector each.
	rng := rand.New(rand.NewPCG(o.seed, 9))
	vecs := randomVectors(rng, o.tenants, o.dim)
	before = settle()
	t0 = time.Now()
	for i := range o.tenants {
		req := &shoalv1.UpsertRequest{Collection: coll, Tenant: fmt.Sprintf("t%05d", i), Vectors: []*shoalv1.Vector{{Id: uint64(i), Values: vecs[i]}}}
		if _, err := c.Vectors.Upsert(ctx, req); err != nil {
			return fmt.Errorf("tenant %d upsert: %w", i, err)
		}
	}
	create = time.Since(t0)
	after = settle()
	r, h = per(before, after, o.tenants)
	fmt.Fprintf(w, "| + one vector owned by each tenant | %s | %s | %s | %s | %v |\n", mib(after.rss), mib(after.heap), r, h, create.Round(time.Millisecond))
	return nil
}
