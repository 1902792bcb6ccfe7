package index

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/index/internal/build"
)

var errKilled = errors.New("killed by the test")

// resumeHook sets build.TestHook for the test: it counts the partitions
// clustered and, when failAt names a stage (and partition), fails there
// as a kill would.
func resumeHook(t *testing.T, failStage string, failPart int) *int {
	t.Helper()
	clustered := new(int)
	build.TestHook = func(stage string, p int) error {
		if stage == "partition" {
			*clustered++
		}
		if stage == failStage && p == failPart {
			return errKilled
		}
		return nil
	}
	t.Cleanup(func() { build.TestHook = nil })
	return clustered
}

// searchAll is the ids the index returns for each query, in order.
func searchAll(t *testing.T, ix *Index, qs []float32, dim int) [][]uint64 {
	t.Helper()
	var out [][]uint64
	for i := 0; i < len(qs)/dim; i++ {
		res, err := ix.Search(qs[i*dim:(i+1)*dim], 10, &SearchParams{NProbe: 16})
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]uint64, len(res))
		for j, r := range res {
			ids[j] = r.ID
		}
		out = append(out, ids)
	}
	return out
}

// TestResumeBuild: a partitioned build killed while it clusters the
// partitions, or once the tree is done, resumes from its checkpoint,
// clusters only the partitions it had not, and makes the index an
// uninterrupted build makes; a checkpoint of other options is refused,
// and so is a resume into a finished index.
func TestResumeBuild(t *testing.T) {
	const dim, n = 16, 8000
	data := clustered(n, dim, 40, 3, 1)
	qs := clustered(50, dim, 40, 3, 77)
	o := Options{Ratio: 0.1, SampleSize: 400, Workers: 2}

	all := resumeHook(t, "", 0)
	ref, _ := buildTest(t, data, dim, &o)
	want, wantStats := searchAll(t, ref, qs, dim), ref.TreeStats()
	if *all < 10 {
		t.Fatalf("%d partitions clustered: the build did not partition", *all)
	}

	check := func(t *testing.T, dir string) {
		t.Helper()
		ix, err := Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ix.Close()
		if err := ix.Check(); err != nil {
			t.Fatal(err)
		}
		st := ix.TreeStats()
		if st.Heads != wantStats.Heads || st.Nodes != wantStats.Nodes || !slices.Equal(st.LeafSizes, wantStats.LeafSizes) {
			t.Errorf("resumed tree: %d heads %d nodes, uninterrupted %d heads %d nodes", st.Heads, st.Nodes, wantStats.Heads, wantStats.Nodes)
		}
		if got := searchAll(t, ix, qs, dim); !slices.EqualFunc(got, want, slices.Equal) {
			t.Error("the resumed index answers differently from the uninterrupted one")
		}
		for _, d := range []string{build.CheckpointDir, build.PartitionDir} {
			if _, err := os.Stat(filepath.Join(dir, d)); !os.IsNotExist(err) {
				t.Errorf("%s left behind: %v", d, err)
			}
		}
	}

	r := o
	r.Resume = true
	// kill builds into dir until the hook fails it at stage and p.
	kill := func(t *testing.T, dir, stage string, p int) {
		t.Helper()
		resumeHook(t, stage, p)
		if _, err := Build(dir, SliceSource(data, dim), &o); !errors.Is(err, errKilled) {
			t.Fatalf("Build = %v, want the hook's error", err)
		}
	}
	// resume builds into dir with Resume and returns the partitions it
	// clustered.
	resume := func(t *testing.T, dir string) int {
		t.Helper()
		clustered := resumeHook(t, "", 0)
		if _, err := Build(dir, SliceSource(data, dim), &r); err != nil {
			t.Fatal(err)
		}
		return *clustered
	}

	t.Run("partitions", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ix")
		const killAt = 5 // after partition 5's sub-tree is checkpointed
		kill(t, dir, "partition", killAt)
		if _, err := Open(dir, nil); !errors.Is(err, ErrNoIndex) {
			t.Fatalf("Open of the killed build = %v, want ErrNoIndex", err)
		}
		if _, err := Build(dir, SliceSource(data, dim), &o); !errors.Is(err, ErrExists) {
			t.Fatalf("Build without Resume into the killed build = %v, want ErrExists", err)
		}
		other := o
		other.Seed, other.Resume = 9, true
		if _, err := Build(dir, SliceSource(data, dim), &other); !errors.Is(err, ErrInvalidOptions) {
			t.Fatalf("resume with another seed = %v, want ErrInvalidOptions", err)
		}
		// The refused resume removed the killed build's store but kept
		// the checkpoint: the resume below still reuses it.
		if clustered := resume(t, dir); clustered != *all-(killAt+1) {
			t.Errorf("the resumed build clustered %d partitions, want %d of %d", clustered, *all-(killAt+1), *all)
		}
		check(t, dir)
		if _, err := Build(dir, SliceSource(data, dim), &r); !errors.Is(err, ErrExists) {
			t.Fatalf("resume into a finished index = %v, want ErrExists", err)
		}
	})

	t.Run("assign", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ix")
		kill(t, dir, "assign", 0)
		if clustered := resume(t, dir); clustered != 0 {
			t.Errorf("the resumed build clustered %d partitions, want none (the tree was checkpointed)", clustered)
		}
		check(t, dir)
	})

	t.Run("fresh", func(t *testing.T) {
		// Resume into a directory that does not exist builds from scratch.
		dir := filepath.Join(t.TempDir(), "ix")
		resume(t, dir)
		check(t, dir)
	})
}
