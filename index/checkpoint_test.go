package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// ckptVec is the vector the checkpoint tests write for id (a function of
// the id, so that the checkpoint can be checked without a log).
func ckptVec(id uint64, dim int) []float32 {
	rng := rand.New(rand.NewPCG(id, 7))
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * 4)
	}
	return v
}

// ckptLoad is the writers of the checkpoint tests: upserters (one of
// them for a tenant, whose writes go to shortlist postings), a labeller
// and a deleter, each writing numbered batches in order and recording the
// last one acknowledged. Background maintenance runs meanwhile.
type ckptLoad struct {
	ix    *Index
	dim   int
	n     int // built ids 0..n-1
	acked [ckptWriters]atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
	errs  chan error
}

const (
	ckptWriters = 4 // 0, 1 upsert; 2 upserts as tenant 1, labelled; 3 deletes built ids
	ckptBatch   = 20
	ckptTenant  = 1
)

// ckptIDs returns the ids of batch b of writer w.
func ckptIDs(w int, b int64, n int) []uint64 {
	ids := make([]uint64, ckptBatch)
	for i := range ids {
		if w == 3 {
			ids[i] = uint64(b*ckptBatch) + uint64(i)
		} else {
			ids[i] = uint64(1_000_000*(w+1)) + uint64(b*ckptBatch) + uint64(i)
		}
	}
	return ids
}

func startCkptLoad(ix *Index, dim, n int) *ckptLoad {
	l := &ckptLoad{ix: ix, dim: dim, n: n, stop: make(chan struct{}), errs: make(chan error, ckptWriters)}
	for w := range ckptWriters {
		l.acked[w].Store(-1)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for b := int64(0); ; b++ {
				select {
				case <-l.stop:
					return
				default:
				}
				ids := ckptIDs(w, b, n)
				var err error
				switch w {
				case 3:
					if int(ids[len(ids)-1]) >= n {
						<-l.stop
						return
					}
					_, err = ix.Delete(ids)
				default:
					vs := make([][]float32, len(ids))
					for i, id := range ids {
						vs[i] = ckptVec(id, dim)
					}
					if w == 2 {
						labels := make([][]uint32, len(ids))
						for i := range labels {
							labels[i] = []uint32{uint32(b)}
						}
						err = ix.UpsertLabeled(ckptTenant, ids, vs, labels)
					} else {
						err = ix.Upsert(ids, vs)
					}
				}
				if err != nil {
					l.errs <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
					return
				}
				l.acked[w].Store(b)
			}
		}()
	}
	return l
}

// acknowledged returns the last batch each writer had acknowledged.
func (l *ckptLoad) acknowledged() (out [ckptWriters]int64) {
	for w := range out {
		out[w] = l.acked[w].Load()
	}
	return out
}

func (l *ckptLoad) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	close(l.errs)
	for err := range l.errs {
		t.Error(err)
	}
}

// checkCut checks that c holds, for each writer, the batches 0..k for
// some k >= before[w] and none after (each batch whole, with its values,
// owner and labels), that Check passes and that searches find what it
// holds. It returns the batches held.
func checkCut(t *testing.T, c *Index, dim, n int, before [ckptWriters]int64) [ckptWriters]int64 {
	t.Helper()
	var held [ckptWriters]int64
	for w := range ckptWriters {
		held[w] = -1
		for b := int64(0); ; b++ {
			ids := ckptIDs(w, b, n)
			if w == 3 && int(ids[len(ids)-1]) >= n {
				break
			}
			applied := 0
			for _, id := range ids {
				v, err := c.Get(id)
				switch {
				case w == 3 && errors.Is(err, ErrNotFound):
					applied++
				case w == 3 && err == nil:
				case w != 3 && errors.Is(err, ErrNotFound):
				case err != nil:
					t.Fatalf("writer %d batch %d: Get(%d): %v", w, b, id, err)
				default:
					if !slices.Equal(v, ckptVec(id, dim)) {
						t.Fatalf("writer %d batch %d: Get(%d) returned another vector", w, b, id)
					}
					applied++
					if w == 2 {
						owner, err := c.Owner(id)
						labels, lerr := c.Labels(id)
						if err != nil || owner != ckptTenant || lerr != nil || !slices.Equal(labels, []uint32{uint32(b)}) {
							t.Fatalf("writer 2 batch %d: id %d owner %d (%v), labels %v (%v)", b, id, owner, err, labels, lerr)
						}
					}
				}
			}
			if applied != 0 && applied != len(ids) {
				t.Fatalf("writer %d batch %d: %d of %d ids applied: not a consistent cut", w, b, applied, len(ids))
			}
			if applied == 0 {
				break
			}
			if held[w] != b-1 {
				t.Fatalf("writer %d: batch %d applied after batch %d is missing", w, b, held[w]+1)
			}
			held[w] = b
		}
		// Nothing after the first missing batch (a few batches past it:
		// writers stop shortly after the checkpoint).
		for b := held[w] + 2; b < held[w]+6; b++ {
			ids := ckptIDs(w, b, n)
			if w == 3 && int(ids[len(ids)-1]) >= n {
				break
			}
			_, err := c.Get(ids[0])
			if (w == 3) == errors.Is(err, ErrNotFound) {
				t.Fatalf("writer %d: batch %d applied, batch %d not", w, b, held[w]+1)
			}
		}
		if held[w] < before[w] {
			t.Errorf("writer %d: the checkpoint holds batches up to %d, batch %d was acknowledged before it began", w, held[w], before[w])
		}
	}
	if err := c.Check(); err != nil {
		t.Fatalf("Check of the checkpoint: %v", err)
	}
	up := int(held[0]+1+held[1]+1+held[2]+1) * ckptBatch
	if want := n - int(held[3]+1)*ckptBatch + up; c.Len() != want {
		t.Errorf("checkpoint Len = %d, want %d", c.Len(), want)
	}
	for w := range 3 {
		for b := int64(0); b <= held[w]; b += 3 {
			id := ckptIDs(w, b, n)[5]
			res, err := c.Search(ckptVec(id, dim), 5, &SearchParams{NProbe: 64})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) == 0 || res[0].ID != id {
				t.Errorf("search for id %d's own vector in the checkpoint: %v", id, res)
			}
		}
	}
	return held
}

// TestCheckpointConcurrent: a checkpoint taken while upserts, tenant
// upserts with labels, deletes and background maintenance run is a
// consistent cut (each batch whole, a prefix of each writer's batches),
// holds every batch acknowledged before it began, passes Check and
// answers searches; the source keeps working. Run for an index with a
// database of its own and for one in a shared database; the latter's
// checkpoint is also restored into another namespace of that database.
func TestCheckpointConcurrent(t *testing.T) {
	for _, shared := range []bool{false, true} {
		for _, q := range []Quant{QuantNone, QuantRaBitQ} {
			name := map[bool]string{false: "Own", true: "Shared"}[shared] + "/" + q.String()
			t.Run(name, func(t *testing.T) { testCheckpointConcurrent(t, shared, q) })
		}
	}
}

func testCheckpointConcurrent(t *testing.T, shared bool, quant Quant) {
	const dim, n = 16, 3000
	root := t.TempDir()
	dir := filepath.Join(root, "ix")
	opts := &Options{Ratio: 0.05, PostingCap: 48, Seed: 3, Quant: quant}
	if shared {
		db, err := OpenSharedDB(root)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		opts.Shared = db
	}
	if _, err := Build(dir, SliceSource(clustered(n, dim, 20, 3, 1), dim), opts); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.CreateTenant(ckptTenant); err != nil {
		t.Fatal(err)
	}
	l := startCkptLoad(ix, dim, n)
	for l.acked[2].Load() < 10 {
		select {
		case err := <-l.errs:
			t.Fatal(err)
		default:
		}
	}
	before := l.acknowledged()
	dst := filepath.Join(t.TempDir(), "ck")
	st, err := ix.Checkpoint(dst, nil)
	for range 3 { // the source keeps taking writes
		if cur := l.acknowledged(); cur[0] > before[0]+1 {
			break
		}
	}
	l.finish(t)
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	t.Logf("checkpoint: %+v", st)
	if st.Files == 0 || st.LinkedFiles == 0 || st.CopiedFiles == 0 {
		t.Errorf("checkpoint stats %+v: want files both linked and copied", st)
	}
	if _, err := ix.Checkpoint(dst, nil); !errors.Is(err, ErrExists) {
		t.Errorf("Checkpoint onto an existing directory: %v, want ErrExists", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
		t.Errorf("the checkpoint's parent holds %d entries, want the checkpoint only (no temporary)", len(ents))
	}
	if err := ix.Check(); err != nil {
		t.Fatalf("Check of the source after the checkpoint: %v", err)
	}
	c, err := Open(dst, nil)
	if err != nil {
		t.Fatalf("Open(checkpoint): %v", err)
	}
	held := checkCut(t, c, dim, n, before)
	if want := map[bool]int{false: -1, true: c.Len()}[shared]; st.Vectors != want {
		t.Errorf("CheckpointStats.Vectors = %d, want %d", st.Vectors, want)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !shared {
		return
	}
	// Restore it as another namespace of the shared DB: the same cut.
	dir2 := filepath.Join(root, "restored")
	if err := Restore(dst, dir2, opts); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	r, err := Open(dir2, opts)
	if err != nil {
		t.Fatalf("Open(restored): %v", err)
	}
	defer r.Close()
	if got := checkCut(t, r, dim, n, before); got != held {
		t.Errorf("restored batches %v, the checkpoint's %v", got, held)
	}
	if err := Restore(dst, dir2, opts); !errors.Is(err, ErrExists) {
		t.Errorf("Restore onto a namespace that holds an index: %v, want ErrExists", err)
	}
}

// TestRestoreOwn: Restore without a shared database copies an index
// directory (a checkpoint) into a new one that opens on its own; the
// source still opens and is unchanged by writes to the copy.
func TestRestoreOwn(t *testing.T) {
	const dim, n = 8, 1500
	root := t.TempDir()
	src := filepath.Join(root, "ix")
	if _, err := Build(src, SliceSource(clustered(n, dim, 10, 5, 1), dim), &Options{Ratio: 0.05}); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(root, "copy")
	if err := Restore(src, dst, nil); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	c, err := Open(dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upsert([]uint64{1 << 40}, [][]float32{ckptVec(1, dim)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Drain(); err != nil {
		t.Fatal(err)
	}
	if c.Len() != n+1 {
		t.Errorf("copy Len = %d, want %d", c.Len(), n+1)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	ix, err := Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if ix.Len() != n || ix.Contains(1<<40) {
		t.Errorf("source Len = %d (contains the copy's upsert: %v), want %d", ix.Len(), ix.Contains(1<<40), n)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
	if err := Restore(src, dst, nil); !errors.Is(err, ErrExists) {
		t.Errorf("Restore onto an existing directory: %v, want ErrExists", err)
	}
}
