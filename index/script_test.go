package index

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/memstore"
)

// TestMaintenanceScripts runs the scripted scenarios of
// testdata/maintenance: small indexes driven step by step through
// upserts, deletes, maintenance (folds, splits, merges, reassigns), crashes
// and reopens, with the tree and every posting printed after each step.
// Maintenance never runs in the background here (Options.MaintenancePaused),
// so each script is deterministic. Rewrite the expected output with
// `go test ./index -run TestMaintenanceScripts -rewrite` and read the diff.
//
// Commands:
//
//	create dim=D cap=C [reassign=N] [candidates=C replicas=R]
//	                                 an empty index (Create), opened;
//	                                 reassign=-1 turns reassignment off;
//	                                 candidates and replicas set
//	                                 Options.Candidates and Replicas
//	upsert                           input: one "id: x y …" per line
//	delete                           input: ids
//	step                             one unit of maintenance (all due)
//	drain                            maintenance until none is left
//	tree                             print the tree and postings
//	search k=K                       input: a query; prints ids
//	check                            Index.Check
//	crash-at point=retire            the next split or merge "crashes"
//	                                 after its first batch: the directory
//	                                 is copied there, as a crash leaves it
//	recover                          open the copy and print it
//	reopen                           Close and Open
//
// Every script runs twice, on pebblestore and on memstore (the index knows
// its store only as a posting.Store), and must print the same both times.
func TestMaintenanceScripts(t *testing.T) {
	for _, kind := range []string{"pebble", "mem"} {
		t.Run(kind, func(t *testing.T) {
			datadriven.Walk(t, "testdata/maintenance", func(t *testing.T, path string) {
				if kind == "mem" && filepath.Base(path) == "crash" {
					t.Skip("a crash is a copy of the directory; a memstore lives in memory")
				}
				s := &script{mem: kind == "mem"}
				defer s.close()
				datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
					out, err := s.run(t, td)
					if err != nil {
						return "error: " + err.Error() + "\n"
					}
					return out
				})
			})
		})
	}
}

type script struct {
	mem   bool // on a memstore
	dir   string
	opts  Options
	ix    *Index
	crash string // the crash copy's directory, once made
}

func (s *script) close() {
	if s.ix != nil {
		s.ix.Close()
		s.ix = nil
	}
	testHookRetire = nil
}

func (s *script) run(t *testing.T, td *datadriven.TestData) (string, error) {
	switch td.Cmd {
	case "create":
		var dim, capacity int
		reassign := 0 // the default (64)
		td.ScanArgs(t, "dim", &dim)
		td.ScanArgs(t, "cap", &capacity)
		if td.HasArg("reassign") {
			td.ScanArgs(t, "reassign", &reassign)
		}
		var candidates, replicas int // 0: the defaults
		if td.HasArg("candidates") {
			td.ScanArgs(t, "candidates", &candidates)
			td.ScanArgs(t, "replicas", &replicas)
		}
		s.dir = filepath.Join(t.TempDir(), "ix")
		s.opts = Options{PostingCap: capacity, ReassignNeighbors: reassign, Candidates: candidates, Replicas: replicas,
			MaintenancePaused: true, Workers: 1, CacheBytes: -1}
		if s.mem {
			s.opts.store = memstore.New()
		}
		if _, err := Create(s.dir, dim, &s.opts); err != nil {
			return "", err
		}
		return s.open(s.dir)
	case "upsert":
		var ids []uint64
		var vs [][]float32
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			idText, rest, ok := strings.Cut(line, ":")
			if !ok {
				t.Fatalf("%s: upsert line %q, want id: x y …", td.Pos, line)
			}
			id, err := strconv.ParseUint(strings.TrimSpace(idText), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", td.Pos, err)
			}
			ids = append(ids, id)
			vs = append(vs, parseVec(t, td, rest))
		}
		if err := s.ix.Upsert(ids, vs); err != nil {
			return "", err
		}
		return "ok\n", nil
	case "delete":
		var ids []uint64
		for _, f := range strings.Fields(td.Input) {
			id, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", td.Pos, err)
			}
			ids = append(ids, id)
		}
		n, err := s.ix.Delete(ids)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("deleted %d\n", n), nil
	case "step":
		did, err := s.ix.maint.step(true)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("did %v\n", did) + s.print(), nil
	case "drain":
		if err := s.ix.Drain(); err != nil {
			return "", err
		}
		return s.print(), nil
	case "tree":
		return s.print(), nil
	case "search":
		k := 3
		if td.HasArg("k") {
			td.ScanArgs(t, "k", &k)
		}
		res, err := s.ix.Search(parseVec(t, td, td.Input), k, &SearchParams{NProbe: 1 << 10, Epsilon: -1})
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, r := range res {
			fmt.Fprintf(&b, "%d %.3f\n", r.ID, r.Distance)
		}
		return b.String(), nil
	case "check":
		if err := s.ix.Check(); err != nil {
			return "", err
		}
		return "ok\n", nil
	case "crash-at":
		var point string
		td.ScanArgs(t, "point", &point)
		if point != "retire" {
			t.Fatalf("%s: unknown crash point %q", td.Pos, point)
		}
		s.crash = filepath.Join(t.TempDir(), "crashed")
		testHookRetire = func() {
			testHookRetire = nil
			if err := copyDir(s.dir, s.crash); err != nil {
				t.Errorf("%s: copy at crash point: %v", td.Pos, err)
			}
		}
		return "armed\n", nil
	case "recover":
		if s.crash == "" {
			t.Fatalf("%s: recover without a crash", td.Pos)
		}
		if err := s.ix.Close(); err != nil {
			return "", err
		}
		s.ix = nil
		s.dir, s.crash = s.crash, ""
		return s.open(s.dir)
	case "reopen":
		if err := s.ix.Close(); err != nil {
			return "", err
		}
		s.ix = nil
		return s.open(s.dir)
	}
	t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	return "", nil
}

func (s *script) open(dir string) (string, error) {
	ix, err := Open(dir, &s.opts)
	if err != nil {
		return "", err
	}
	s.ix = ix
	return s.print(), nil
}

// print describes the index: every live head (posting id, head) with the
// current ids of its stored posting and of its tail, stale copies counted.
func (s *script) print() string {
	ix := s.ix
	ix.rmu.RLock()
	defer ix.rmu.RUnlock()
	var b strings.Builder
	fmt.Fprintf(&b, "heads %d, vectors %d; splits %d, merges %d, reassigned %d\n",
		ix.tree.LiveLeaves(), ix.live.Load(), ix.ctr.splits.Load(), ix.ctr.merges.Load(), ix.ctr.reassigned.Load())
	for p := range uint32(ix.tree.NumLeaves()) {
		if !ix.tree.IsLeaf(p) {
			continue
		}
		fmt.Fprintf(&b, "p%d %s:", p, fmtVec(ix.tree.Head(int(p))))
		var cur []uint64
		stale := 0
		err := ix.store.Read(p, func(enc []byte) error {
			var dec posting.Posting
			if err := posting.Decode(enc, &dec); err != nil {
				return err
			}
			for i, id := range dec.IDs {
				if ix.vers.live(id, dec.Versions[i]) {
					cur = append(cur, id)
				} else {
					stale++
				}
			}
			return nil
		})
		if err != nil && !isNotFound(err) {
			fmt.Fprintf(&b, " read error %v", err)
		}
		fmt.Fprintf(&b, " %s", fmtIDs(cur, stale))
		if t := ix.tails.Get(p); t.Len() > 0 {
			var tail []uint64
			tstale := 0
			for i, id := range t.IDs {
				if ix.vers.live(id, t.Vers[i]) {
					tail = append(tail, id)
				} else {
					tstale++
				}
			}
			fmt.Fprintf(&b, " | tail %s", fmtIDs(tail, tstale))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func isNotFound(err error) bool { return err != nil && strings.Contains(err.Error(), "not found") }

func fmtIDs(ids []uint64, stale int) string {
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatUint(id, 10)
	}
	out := "[" + strings.Join(parts, " ") + "]"
	if stale > 0 {
		out += fmt.Sprintf(" +%d stale", stale)
	}
	return out
}

func fmtVec(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(float64(x), 'f', 2, 32)
	}
	return "(" + strings.Join(parts, " ") + ")"
}

func parseVec(t *testing.T, td *datadriven.TestData, text string) []float32 {
	var v []float32
	for _, f := range strings.Fields(text) {
		x, err := strconv.ParseFloat(f, 32)
		if err != nil {
			t.Fatalf("%s: %v", td.Pos, err)
		}
		v = append(v, float32(x))
	}
	return v
}

// copyDir copies the regular files of src (recursively) to dst, as a
// crash would leave them: what was written, synced or not.
func copyDir(src, dst string) error {
	return filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if rel == "LOCK" {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
