package index

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The crash test's workload: op i is a deterministic function of i, so the
// parent knows what every acknowledged op did.
const (
	crashDim   = 8
	crashIDs   = 300
	crashSeed  = 42
	crashCycle = 24 // cycles by default (SHOAL_CRASH_CYCLES: crashCycles)
)

// crashCycles returns how many kill-and-reopen cycles a crash test runs:
// def, or SHOAL_CRASH_CYCLES when it is set (long runs before a release).
func crashCycles(t *testing.T, def int) int {
	t.Helper()
	v := os.Getenv("SHOAL_CRASH_CYCLES")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("SHOAL_CRASH_CYCLES=%q, want a positive number", v)
	}
	return n
}

type crashOp struct {
	del      bool
	ids      []uint64
	vecs     [][]float32
	payloads bool // upserts store crashPayload of each vector
}

func crashOpAt(i int) crashOp {
	rng := rand.New(rand.NewPCG(crashSeed, uint64(i)))
	op := randomOp(rng, rng.IntN(4) == 0, crashIDs, crashDim)
	op.payloads = true
	return op
}

// randomOp returns a delete (del) or an upsert of 1 to 6 distinct ids
// below ids, with vectors of dim drawn from rng.
func randomOp(rng *rand.Rand, del bool, ids, dim int) crashOp {
	op := crashOp{del: del}
	n := 1 + rng.IntN(6)
	for len(op.ids) < n {
		id := uint64(rng.IntN(ids))
		if !slices.Contains(op.ids, id) {
			op.ids = append(op.ids, id)
			if !op.del {
				op.vecs = append(op.vecs, randVec(rng, dim))
			}
		}
	}
	return op
}

// apply applies op; with payloads, its upserts carry them
// (crashPayload), written in the vectors' batch.
func (op crashOp) apply(ix *Index) error {
	if op.del {
		_, err := ix.Delete(op.ids)
		return err
	}
	if !op.payloads {
		return ix.Upsert(op.ids, op.vecs)
	}
	ps := make([][]byte, len(op.vecs))
	for i, v := range op.vecs {
		ps[i] = crashPayload(v)
	}
	return ix.UpsertWithPayloads(0, op.ids, op.vecs, nil, ps)
}

// crashPayload is the payload an upsert of v stores: a function of v, so
// that the model of the vectors is the model of the payloads too.
func crashPayload(v []float32) []byte {
	return []byte(fmt.Sprintf(`{"x":%s}`, strconv.FormatFloat(float64(v[0]), 'g', -1, 32)))
}

// crashJitter sleeps now and then, up to 300µs. A crash test's child
// runs it where writers and maintenance interleave, so that short windows
// between their steps open wide enough to be hit.
func crashJitter() {
	if rand.IntN(4) == 0 {
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
	}
}

// TestCrashChild is the child process of TestCrashRecovery: it applies ops
// from SHOAL_CRASH_START on and prints "ack i" after each returns, until
// it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("SHOAL_CRASH_DIR")
	if dir == "" {
		t.Skip("child of TestCrashRecovery")
	}
	start, _ := strconv.Atoi(os.Getenv("SHOAL_CRASH_START"))
	// Set before the maintainer starts, which reads them unlocked.
	testHookUpsertPublished, testHookStep = crashJitter, crashJitter
	var acked atomic.Bool
	if os.Getenv("SHOAL_CRASH_AT_RETIRE") != "" {
		// Once an op is acknowledged, stop the maintainer between a
		// split's or merge's two batches and ask to be killed there.
		testHookRetire = func() {
			if acked.Load() {
				fmt.Println("stop")
				select {}
			}
		}
	}
	ix, err := Open(dir, &Options{CacheBytes: -1})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("open")
	for i := start; ; i++ {
		if err := crashOpAt(i).apply(ix); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("ack", i)
		acked.Store(true)
	}
}

// TestCrashRecovery kills a writer with SIGKILL at random moments and
// checks after every restart that each acknowledged upsert is returned by
// Get (with its payload) and found by an exhaustive search, that no acknowledged delete is
// ever returned, and that Check passes. The op in flight at the kill may
// or may not have happened; the next child repeats it.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, q := range []Quant{QuantNone, QuantRaBitQ} {
		t.Run(q.String(), func(t *testing.T) { testCrashRecovery(t, q) })
	}
}

func testCrashRecovery(t *testing.T, quant Quant) {
	dir := filepath.Join(t.TempDir(), "ix")
	// A small posting cap makes maintenance fold (and later split) often,
	// so kills land in the middle of it too.
	if _, err := Create(dir, crashDim, &Options{PostingCap: 24, Quant: quant}); err != nil {
		t.Fatal(err)
	}
	// Payload field x is indexed: each upsert also writes the label
	// x=<value> and, for a new value, its name, in its batch.
	setup, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.SetIndexedFields([]string{"x"}); err != nil {
		t.Fatal(err)
	}
	setup.Close()
	model := map[uint64][]float32{} // acknowledged state: id → vector
	next := 0                       // first op not known to be applied
	retired := 0
	rng := rand.New(rand.NewPCG(7, 7))
	cycles := crashCycles(t, crashCycle)
	for cycle := 0; cycle < cycles; cycle++ {
		// Every third child is killed inside a split or merge, between
		// its two batches (if one comes within its time).
		d, atRetire := time.Duration(20+rng.IntN(200))*time.Millisecond, cycle%3 == 2
		if atRetire {
			d = 2 * time.Second
		}
		acked := runCrashChild(t, dir, next, d, atRetire)
		if acked < next {
			t.Fatalf("cycle %d: child acknowledged nothing", cycle)
		}
		for i := next; i <= acked; i++ {
			applyModel(model, crashOpAt(i))
		}
		next = acked + 1
		inflight := crashOpAt(next)

		ix, err := Open(dir, nil)
		if err == nil {
			retired += ix.retiredAtOpen
		}
		if err != nil {
			t.Fatalf("cycle %d: reopen: %v", cycle, err)
		}
		// Check needs a quiet index.
		ix.PauseMaintenance()
		if err := ix.Check(); err != nil {
			ix.Close()
			t.Fatalf("cycle %d (after op %d): %v", cycle, acked, err)
		}
		for id := uint64(0); id < crashIDs; id++ {
			if slices.Contains(inflight.ids, id) {
				continue // either state is right
			}
			want, live := model[id]
			got, err := ix.Get(id)
			switch {
			case live && err != nil:
				t.Fatalf("cycle %d: acknowledged upsert of %d lost: %v", cycle, id, err)
			case live && !slices.Equal(got, want):
				t.Fatalf("cycle %d: id %d holds %v, want %v", cycle, id, got, want)
			case live && !samePayload(ix, id, want):
				t.Fatalf("cycle %d: acknowledged payload of %d lost or wrong", cycle, id)
			case live && !hasDerivedLabel(ix, id, want):
				t.Fatalf("cycle %d: id %d lacks the label its payload derives (or its name)", cycle, id)
			case live && !findsExactly(t, ix, id, want):
				t.Fatalf("cycle %d: id %d not found by exhaustive search", cycle, id)
			case !live && !errors.Is(err, ErrNotFound):
				t.Fatalf("cycle %d: id %d should not exist, Get = %v, %v", cycle, id, got, err)
			}
		}
		// Deleted or never-stored ids never come back from search.
		res, err := ix.Search(make([]float32, crashDim), crashIDs, exhaustive)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if _, live := model[r.ID]; !live && !slices.Contains(inflight.ids, r.ID) {
				t.Fatalf("cycle %d: search returned id %d, which is deleted", cycle, r.ID)
			}
		}
		ix.Close()
	}
	t.Logf("%d cycles, %d ops acknowledged, %d interrupted splits or merges completed at open", cycles, next, retired)
	if retired == 0 {
		t.Error("no child was killed between the batches of a split or merge")
	}
}

// samePayload reports whether id holds the payload an upsert of v wrote.
func samePayload(ix *Index, id uint64, v []float32) bool {
	p, err := ix.Payload(id)
	return err == nil && string(p) == string(crashPayload(v))
}

// hasDerivedLabel reports whether id carries the label x=<v[0]> that
// its payload derives, by a name the dictionary holds.
func hasDerivedLabel(ix *Index, id uint64, v []float32) bool {
	l, ok := ix.LabelID("x=" + strconv.FormatFloat(float64(v[0]), 'g', -1, 32))
	ls, err := ix.Labels(id)
	return ok && err == nil && slices.Contains(ls, l)
}

func applyModel(model map[uint64][]float32, op crashOp) {
	for i, id := range op.ids {
		if op.del {
			delete(model, id)
		} else {
			model[id] = op.vecs[i]
		}
	}
}

// runCrashChild starts a child applying ops from start, kills it with
// SIGKILL after it has run for d (at least one ack), or with atRetire as
// soon as its maintainer stops between the two batches of a split or
// merge, and returns the last acknowledged op.
func runCrashChild(t *testing.T, dir string, start int, d time.Duration, atRetire bool) int {
	t.Helper()
	env := []string{"SHOAL_CRASH_DIR=" + dir, "SHOAL_CRASH_START=" + strconv.Itoa(start)}
	if atRetire {
		env = append(env, "SHOAL_CRASH_AT_RETIRE=1")
	}
	last := start - 1
	acks, _ := runChild(t, "TestCrashChild", env, d)
	for _, a := range acks {
		last, _ = strconv.Atoi(a)
	}
	return last
}

// runChild runs the test binary's test name in a child process with env
// added, and kills it with SIGKILL after it has run for d and printed at
// least one "ack" line, or as soon as it prints "stop" (it has parked
// itself at a crash point). It returns the rest of every "ack" line, in
// order, and whether it stopped; a line starting "error", or an exit
// before the kill, fails the test.
func runChild(t *testing.T, name string, env []string, d time.Duration) (acks []string, stopped bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1<<16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	note := func(line string) {
		if a, ok := strings.CutPrefix(line, "ack "); ok {
			acks = append(acks, a)
		}
	}
	deadline := time.After(d)
	for killed := false; !killed; {
		select {
		case line, ok := <-lines:
			switch {
			case !ok:
				cmd.Wait()
				t.Fatalf("%s exited early (%d acks)", name, len(acks))
			case strings.HasPrefix(line, "error"):
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				t.Fatalf("%s: %s", name, line)
			case line == "stop":
				cmd.Process.Signal(syscall.SIGKILL)
				killed, stopped = true, true
			}
			note(line)
		case <-deadline:
			if len(acks) > 0 {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			} else {
				deadline = time.After(10 * time.Millisecond)
			}
		}
	}
	for line := range lines { // acks printed before the kill landed
		note(line)
	}
	cmd.Wait()
	return acks, stopped
}
