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
	"github.com/shoaldb/shoal/server"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

func init() {
	register(newLoadtest)
}

// loadtestOptions are the flags of `shoal loadtest`.
//
// The command starts its own `shoal serve` (this binary) on a loopback
// port over a temporary data directory, unless -addr names a running
// server; it is bounded in time (-duration) and in data (-n, -ids).
type loadtestOptions struct {
	addr      string // a running server; "" starts one
	serverPID int    // the running server's pid, for its RSS (with -addr)
	dataDir   string // the started server's data directory
	key       string
	mode      string // "mixed" or "memory"
	clients   int
	duration  time.Duration
	n         int     // vectors loaded before the mixed phase
	dim       int     //
	upserts   float64 // fraction of operations that are upserts
	deletes   float64 // fraction of operations that are deletes
	tenantOps float64 // fraction of operations done as a tenant
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
	case o.upserts < 0 || o.deletes < 0 || o.tenantOps < 0 || o.upserts+o.deletes+o.tenantOps > 1:
		return fmt.Errorf("-upserts %v, -deletes %v, -tenant-ops %v: want fractions adding up to at most 1", o.upserts, o.deletes, o.tenantOps)
	case o.batch < 1 || o.batch > o.n:
		return fmt.Errorf("-batch %d: want 1..-n", o.batch)
	case o.every <= 0:
		return fmt.Errorf("-every %v: want > 0", o.every)
	case o.addr != "" && !clikit.Loopback(o.addr):
		return fmt.Errorf("-addr %s: the load test runs on loopback only", o.addr)
	}
	return nil
}

func newLoadtest() *clikit.Command {
	o := loadtestOptions{cache: 64 << 20}
	c := clikit.NewCommand("loadtest", "[flags]", "load-test a shoal server on loopback: concurrent search + upsert, or memory per collection and tenant")
	c.Group = clikit.GroupBench
	fs := c.Flags
	fs.StringVar(&o.mode, "mode", "mixed", "mixed: clients mixing search and upsert; memory: memory per empty collection and per tenant")
	fs.StringVar(&o.addr, "addr", "", "a running server on loopback (default: start `shoal serve` on 127.0.0.1 with a temporary data directory)")
	fs.IntVar(&o.serverPID, "server-pid", 0, "with -addr: the server's process id, to sample its RSS")
	fs.StringVar(&o.key, "key", os.Getenv("SHOAL_API_KEY"), "with -addr: the admin key")
	fs.IntVar(&o.clients, "clients", 32, "concurrent clients, each with its own connection")
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "how long the mixed phase runs")
	fs.IntVar(&o.n, "n", 100_000, "vectors loaded first; upserts overwrite these ids (the collection keeps its size)")
	fs.IntVar(&o.dim, "dim", 64, "dimension")
	fs.Float64Var(&o.upserts, "upserts", 0.2, "fraction of operations that are upserts (the rest, after -deletes and -tenant-ops, are searches)")
	fs.Float64Var(&o.deletes, "deletes", 0, "fraction of operations that are deletes of loaded ids")
	fs.Float64Var(&o.tenantOps, "tenant-ops", 0, "fraction of operations done as one of 8 tenants: upserts of its own ids, searches, grants and deletes")
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
	c.Run = func(ctx context.Context, env *clikit.Env, args []string) error {
		if err := clikit.Valid(args, &o); err != nil {
			return err
		}
		return o.Run(ctx, env)
	}
	return c
}

// Run runs the load test and prints its report (markdown) to stdout.
func (o *loadtestOptions) Run(ctx context.Context, env *clikit.Env) error {
	pid := o.serverPID
	stop := func() {}
	if o.addr == "" {
		var err error
		if stop, err = o.startServer(env); err != nil {
			return err
		}
		defer stop()
		defer os.RemoveAll(o.dataDir)
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
	err = o.mixed(ctx, env, c, pid)
	if o.dataDir == "" {
		return err
	}
	// The server it started: stop it and check its data offline.
	c.Close()
	stop()
	if cerr := o.check(env); err == nil {
		err = cerr
	}
	return err
}

// check runs the offline check of the started server's data directory
// and reports it.
func (o *loadtestOptions) check(env *clikit.Env) error {
	start := time.Now()
	checks, err := server.CheckDataDir(o.dataDir)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	fmt.Fprintf(env.Stdout, "\nOffline check of the server's data directory after a graceful stop (%.1f s):\n\n", time.Since(start).Seconds())
	var failed error
	for _, c := range checks {
		if c.Err != nil {
			fmt.Fprintf(env.Stdout, "- collection %q: FAILED: %v\n", c.Name, c.Err)
			failed = fmt.Errorf("collection %q failed its check: %w", c.Name, c.Err)
			continue
		}
		fmt.Fprintf(env.Stdout, "- collection %q: OK, %d vectors, %d heads\n", c.Name, c.Vectors, c.Heads)
	}
	return failed
}

// startServer starts `shoal serve` from this binary and sets o.addr,
// o.key, o.serverPID and o.dataDir (the caller removes it); stop shuts it
// down (SIGTERM) and waits for it to exit; calling it again does nothing.
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
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		})
	}
	o.dataDir = dir
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
		os.RemoveAll(dir)
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
	const coll = loadColl
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

	tenantNames := make([]string, mixedTenants)
	if o.tenantOps > 0 {
		for i := range tenantNames {
			tenantNames[i] = fmt.Sprintf("lt%d", i)
			if _, err := c.Tenants.CreateTenant(ctx, &shoalv1.CreateTenantRequest{Collection: coll, Tenant: tenantNames[i]}); err != nil {
				return fmt.Errorf("create tenant: %w", err)
			}
		}
	}

	var search, upsert, del, tenantLat latencies
	var errMu sync.Mutex
	errs := map[string]int{}
	var ops, pushed atomic.Int64
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
			cw := &loadClient{o: o, r: r, cl: cl, base: base, q: make([]float32, o.dim),
				tenant: tenantNames[w%mixedTenants], other: tenantNames[(w+1)%mixedTenants],
				first: uint64(o.n) + uint64(w)*mixedTenantIDs}
			for runCtx.Err() == nil {
				cctx, ccancel := context.WithTimeout(context.Background(), o.timeout)
				start := time.Now()
				var err error
				var lat *latencies
				switch f := r.Float64(); {
				case f < o.upserts:
					lat, err = &upsert, cw.upsert(cctx)
				case f < o.upserts+o.deletes:
					lat, err = &del, cw.delete(cctx)
				case f < o.upserts+o.deletes+o.tenantOps:
					lat, err = &tenantLat, cw.tenantOp(cctx)
				default:
					lat, err = &search, cw.search(cctx)
				}
				took := time.Since(start)
				ccancel()
				ops.Add(1)
				if status.Code(err) == codes.ResourceExhausted {
					// Pushed back (writes outran maintenance): expected;
					// back off.
					pushed.Add(1)
					time.Sleep(time.Duration(50+r.IntN(100)) * time.Millisecond)
					continue
				}
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
	fmt.Fprintf(w, "### Mixed load: %d clients, %.0f %% upserts (batches of %d), %.0f %% deletes, %.0f %% tenant operations, %v\n\n",
		o.clients, 100*o.upserts, o.batch, 100*o.deletes, 100*o.tenantOps, o.duration)
	fmt.Fprintf(w, "Collection of %d × %d float32 (L2), loaded in %v; searches top-%d at nprobe %d; upserts overwrite random loaded ids, deletes remove them; "+
		"tenant operations (%d tenants) upsert, search, grant and delete each client's own ids; each client its own connection; per-call deadline %v.\n\n",
		o.n, o.dim, load.Round(time.Millisecond), o.k, o.nprobe, mixedTenants, o.timeout)
	fmt.Fprintln(w, "| operation | count | per second | p50 ms | p99 ms | p99.9 ms | max ms |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range []struct {
		name string
		l    *latencies
	}{{"search", &search}, {"upsert", &upsert}, {"delete", &del}, {"tenant op", &tenantLat}} {
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
	fmt.Fprintf(w, "\nWrites pushed back with RESOURCE_EXHAUSTED (expected when writes outrun maintenance; the client backs off 50–150 ms): %d.\n", pushed.Load())
	fmt.Fprintf(w, "\nUnexpected errors: %d", nerr)
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

// The mixed phase's tenants: client w acts as tenant w mod mixedTenants
// and owns the ids [n + w·mixedTenantIDs, n + w·mixedTenantIDs + mixedOwnIDs).
const (
	mixedTenants   = 8
	mixedTenantIDs = 1 << 20
	mixedOwnIDs    = 2000
)

// loadColl is the mixed phase's collection.
const loadColl = "loadtest"

// loadClient is one client of the mixed phase.
type loadClient struct {
	o      *loadtestOptions
	r      *rand.Rand
	cl     *client.Client
	base   [][]float32
	q      []float32
	tenant string // the tenant it acts as
	other  string // the tenant it grants to
	first  uint64 // its first own id
	own    []uint64
}

// near returns a vector near a random loaded one.
func (c *loadClient) near(sigma float64) []float32 {
	v := make([]float32, c.o.dim)
	src := c.base[c.r.IntN(len(c.base))]
	for d := range v {
		v[d] = src[d] + float32(c.r.NormFloat64()*sigma)
	}
	return v
}

// batchIDs returns -batch distinct ids from [first, first+span).
func (c *loadClient) batchIDs(first uint64, span int) []uint64 {
	ids := make([]uint64, 0, c.o.batch)
	for len(ids) < min(c.o.batch, span) {
		id := first + uint64(c.r.IntN(span))
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (c *loadClient) upsert(ctx context.Context) error {
	ids := c.batchIDs(0, c.o.n)
	vecs := make([][]float32, len(ids))
	for i := range vecs {
		vecs[i] = c.near(0.3)
	}
	return c.cl.Upsert(ctx, loadColl, ids, vecs)
}

func (c *loadClient) delete(ctx context.Context) error {
	_, err := c.cl.Delete(ctx, loadColl, c.batchIDs(0, c.o.n))
	return err
}

func (c *loadClient) search(ctx context.Context) error {
	src := c.base[c.r.IntN(len(c.base))]
	for d := range c.q {
		c.q[d] = src[d] + float32(c.r.NormFloat64()*0.5)
	}
	hits, err := c.cl.Search(ctx, loadColl, c.q, c.o.k, &shoalv1.SearchParams{Nprobe: uint32(c.o.nprobe)})
	if err == nil && len(hits) != c.o.k {
		err = status.Errorf(codes.Internal, "search returned %d hits, want %d", len(hits), c.o.k)
	}
	return err
}

// tenantOp does one operation as c's tenant: an upsert of its own ids
// (40 %), a search (40 %), a grant of one of them to another tenant
// (10 %) or a delete of some (10 %).
func (c *loadClient) tenantOp(ctx context.Context) error {
	switch f := c.r.Float64(); {
	case f < 0.4 || len(c.own) == 0:
		ids := c.batchIDs(c.first, mixedOwnIDs)
		req := &shoalv1.UpsertRequest{Collection: loadColl, Tenant: c.tenant}
		for _, id := range ids {
			req.Vectors = append(req.Vectors, &shoalv1.Vector{Id: id, Values: c.near(0.3)})
		}
		if _, err := c.cl.Vectors.Upsert(ctx, req); err != nil {
			return err
		}
		for _, id := range ids {
			if !slices.Contains(c.own, id) {
				c.own = append(c.own, id)
			}
		}
		return nil
	case f < 0.8:
		req := &shoalv1.SearchRequest{Collection: loadColl, Query: c.near(0.5), TopK: uint32(c.o.k), Tenant: c.tenant,
			Params: &shoalv1.SearchParams{Nprobe: uint32(c.o.nprobe)}}
		_, err := c.cl.Vectors.Search(ctx, req)
		return err
	case f < 0.9:
		id := c.own[c.r.IntN(len(c.own))]
		_, err := c.cl.Tenants.Grant(ctx, &shoalv1.GrantRequest{Collection: loadColl, Tenant: c.other, Ids: []uint64{id}})
		return err
	default:
		n := min(len(c.own), 1+c.r.IntN(c.o.batch))
		ids := slices.Clone(c.own[len(c.own)-n:])
		if _, err := c.cl.Vectors.Delete(ctx, &shoalv1.DeleteRequest{Collection: loadColl, Ids: ids, Tenant: c.tenant}); err != nil {
			return err
		}
		c.own = c.own[:len(c.own)-n]
		return nil
	}
}
