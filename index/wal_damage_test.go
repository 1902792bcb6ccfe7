package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/shoaldb/shoal/posting/pebblestore"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/batchrepr"
	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/wal"
)

// The WAL damage tests: a child process applies walDamageOps synced
// writes (each acknowledged once Upsert or Delete returned) and is killed;
// the parent then damages bytes of the write-ahead log and reopens. Any
// damage at or before the last synced record must make Open fail with
// ErrCorrupt naming the file and offset; damage past it (a torn tail of
// writes never acknowledged) must not.
const (
	walDamageDim = 8
	walDamageIDs = 1000
	walDamageOps = 1200
)

func walDamageOpAt(i int) crashOp {
	rng := rand.New(rand.NewPCG(99, uint64(i)))
	return randomOp(rng, i > 200 && rng.IntN(5) == 0, walDamageIDs, walDamageDim)
}

// TestWALDamageChild is the child of the WAL damage tests: it applies
// walDamageOpAt(0..walDamageOps-1), prints "ack i" after each returns,
// then "done", and waits to be killed.
func TestWALDamageChild(t *testing.T) {
	dir := os.Getenv("SHOAL_WALDAMAGE_DIR")
	if dir == "" {
		t.Skip("child of the WAL damage tests")
	}
	// 4 MiB memtables, as these tests were written for: Pebble flushes and
	// rolls its logs within the child's few MiB of writes, so that older,
	// flushed logs exist beside a last log of many records.
	defer pebblestore.SetMemTableSizeForTesting(4 << 20)()
	ix, err := Open(dir, &Options{CacheBytes: -1})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for i := range walDamageOps {
		if i == walDamageOps-1 {
			// The last op is the last batch in the log: nothing of
			// maintenance's comes after it.
			ix.PauseMaintenance()
		}
		if err := walDamageOpAt(i).apply(ix); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("ack", i)
	}
	fmt.Println("done")
	select {}
}

// walDamageModel is what the child acknowledged: live ids' vectors, and
// ids whose last acknowledged op deleted them.
type walDamageModel struct {
	live    map[uint64][]float32
	deleted map[uint64]bool
}

// walDamageCrashed returns a directory in the state a kill -9 left after
// every op was acknowledged, and the model.
func walDamageCrashed(t *testing.T) (string, walDamageModel) {
	t.Helper()
	if testing.Short() {
		t.Skip("spawns a process")
	}
	var dir string
	// Where Pebble rolls its last log depends on how much maintenance
	// wrote before: on a loaded machine the last log can start near the
	// end and hold few records. Write again then (three tries).
	for try := 0; ; try++ {
		dir = filepath.Join(t.TempDir(), "ix")
		// A small posting cap: maintenance folds and splits while the
		// child writes, so its batches are in the log too.
		if _, err := Create(dir, walDamageDim, &Options{PostingCap: 24}); err != nil {
			t.Fatal(err)
		}
		if err := runWALDamageChild(dir); err != nil {
			t.Fatal(err)
		}
		if _, recs := scanLastWAL(t, dir); len(recs) >= 100 || try == 2 {
			break
		}
	}
	m := walDamageModel{live: map[uint64][]float32{}, deleted: map[uint64]bool{}}
	for i := range walDamageOps {
		op := walDamageOpAt(i)
		for j, id := range op.ids {
			if op.del {
				if _, ok := m.live[id]; ok {
					m.deleted[id] = true
				}
				delete(m.live, id)
			} else {
				m.live[id] = op.vecs[j]
				delete(m.deleted, id)
			}
		}
	}
	return dir, m
}

func runWALDamageChild(dir string) error {
	cmd := exec.Command(os.Args[0], "-test.run=^TestWALDamageChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SHOAL_WALDAMAGE_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	var last string
	for sc.Scan() {
		last = sc.Text()
		if last == "done" || strings.HasPrefix(last, "error") {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	go io.Copy(io.Discard, out)
	cmd.Wait()
	if last != "done" {
		return fmt.Errorf("child stopped at %q", last)
	}
	return nil
}

// walRecord is one record of a WAL file: [off, end), and the count of its
// batch (0 for the records that only sync the log).
type walRecord struct {
	off, end int64
	count    uint32
}

// lastWAL returns the newest WAL file of the Pebble database in dir and
// its records.
func lastWAL(t *testing.T, dir string) (string, []walRecord) {
	t.Helper()
	path, recs := scanLastWAL(t, dir)
	if len(recs) < 100 {
		t.Fatalf("WAL %s holds %d records, want many", path, len(recs))
	}
	return path, recs
}

// scanLastWAL returns the path and records of the last WAL in dir.
func scanLastWAL(t *testing.T, dir string) (string, []walRecord) {
	t.Helper()
	logs, err := wal.Scan(wal.Dir{FS: vfs.Default, Dirname: dir})
	if err != nil || len(logs) == 0 {
		t.Fatalf("no WAL in %s: %v", dir, err)
	}
	ll := logs[len(logs)-1]
	_, path := ll.SegmentLocation(0)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := newRecordReader(f, uint64(ll.Num), record.NewReader)
	var recs []walRecord
	for {
		off := r.Offset()
		rec, err := r.Next()
		var b []byte
		if err == nil {
			b, err = io.ReadAll(rec)
		}
		if err != nil || len(b) < 12 {
			break
		}
		recs = append(recs, walRecord{off: off, end: r.Offset(), count: binary.LittleEndian.Uint32(b[8:])})
	}
	return path, recs
}

// newRecordReader calls record.NewReader, whose log number type is
// internal to Pebble, with logNum.
func newRecordReader[N ~uint64](r io.Reader, logNum uint64, mk func(io.Reader, N) *record.Reader) *record.Reader {
	return mk(r, N(logNum))
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func patchFile(t *testing.T, path string, fn func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// walDamage is one way of damaging the newest WAL: it returns the offset
// Open must name, or -1 where the damage lies past every acknowledged
// write and Open must succeed.
type walDamage struct {
	name  string
	apply func(t *testing.T, path string, recs []walRecord) int64
}

func flipAt(t *testing.T, path string, off int64) {
	patchFile(t, path, func(b []byte) []byte { b[off] ^= 0x5a; return b })
}

var walDamages = []walDamage{
	{"payload byte flipped, a quarter in", func(t *testing.T, path string, recs []walRecord) int64 {
		r := recs[len(recs)/4]
		flipAt(t, path, (r.off+r.end)/2)
		return r.off
	}},
	{"chunk length flipped, half way", func(t *testing.T, path string, recs []walRecord) int64 {
		r := recs[len(recs)/2]
		flipAt(t, path, r.off+4)
		return r.off
	}},
	{"chunk type zeroed, a fifth in", func(t *testing.T, path string, recs []walRecord) int64 {
		r := recs[len(recs)/5]
		patchFile(t, path, func(b []byte) []byte { b[r.off+6] = 0; return b })
		return r.off
	}},
	{"chunk log number flipped, a tenth in", func(t *testing.T, path string, recs []walRecord) int64 {
		r := recs[len(recs)/10]
		flipAt(t, path, r.off+8)
		return r.off
	}},
	{"sector zeroed, a third in", func(t *testing.T, path string, recs []walRecord) int64 {
		off := recs[len(recs)/3].off &^ 511
		// The damage starts at the first byte the zeroing changes: a
		// record whose bytes in the sector were zero already is intact.
		first := int64(-1)
		patchFile(t, path, func(b []byte) []byte {
			for j := off; j < off+512 && first < 0; j++ {
				if b[j] != 0 {
					first = j
				}
			}
			clear(b[off : off+512])
			return b
		})
		if first < 0 {
			return -1 // nothing changed
		}
		i, _ := slices.BinarySearchFunc(recs, first, func(r walRecord, off int64) int {
			if r.end <= off {
				return -1
			}
			return 1
		})
		return recs[i].off
	}},
	{"record in the last block damaged", func(t *testing.T, path string, recs []walRecord) int64 {
		last := recs[len(recs)-1].end &^ (32<<10 - 1)
		i, _ := slices.BinarySearchFunc(recs, last, func(r walRecord, off int64) int {
			if r.off < off {
				return -1
			}
			return 1
		})
		r := recs[min(i+1, len(recs)-2)]
		flipAt(t, path, (r.off+r.end)/2)
		return r.off
	}},
	{"last synced batch damaged", func(t *testing.T, path string, recs []walRecord) int64 {
		i := len(recs) - 1
		for recs[i].count == 0 {
			i--
		}
		r := recs[i]
		flipAt(t, path, r.end-1)
		return r.off
	}},
	{"file cut half way", func(t *testing.T, path string, recs []walRecord) int64 {
		r := recs[len(recs)/2]
		if err := os.Truncate(path, r.off+3); err != nil {
			t.Fatal(err)
		}
		return r.off
	}},
	{"torn garbage past the last record", func(t *testing.T, path string, recs []walRecord) int64 {
		end := recs[len(recs)-1].end
		patchFile(t, path, func(b []byte) []byte {
			rng := rand.New(rand.NewPCG(3, 3))
			g := make([]byte, 300)
			for i := range g {
				g[i] = byte(rng.Uint32())
			}
			if int(end)+len(g) > len(b) {
				b = append(b[:end], g...)
			} else {
				copy(b[end:], g)
			}
			return b
		})
		return -1
	}},
}

// walDamageLoss counts the acknowledged upserts missing from ix and the
// acknowledged deletes it undid.
func walDamageLoss(ix *Index, m walDamageModel) (lostUpserts, undoneDeletes int) {
	for id := range uint64(walDamageIDs) {
		got, err := ix.Get(id)
		if want, live := m.live[id]; live {
			if err != nil || !slices.Equal(got, want) {
				lostUpserts++
			}
		} else if m.deleted[id] && err == nil {
			undoneDeletes++
		}
	}
	return lostUpserts, undoneDeletes
}

// TestWALDamageBeforeLastSyncFailsOpen damages acknowledged records of
// the newest WAL in the ways torn writes and bad media do and checks
// that Open refuses the index with an error that wraps ErrCorrupt and
// names the file and the offset of the first unreadable record; damage
// past the last record (a torn tail of writes never acknowledged) opens
// with every acknowledged write in place.
func TestWALDamageBeforeLastSyncFailsOpen(t *testing.T) {
	src, model := walDamageCrashed(t)
	for _, d := range walDamages {
		t.Run(d.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ix")
			copyTree(t, src, dir)
			path, recs := lastWAL(t, dir)
			at := d.apply(t, path, recs)
			ix, err := Open(dir, &Options{MaintenancePaused: true})
			if at < 0 {
				if err != nil {
					t.Fatalf("Open after damage past the last record: %v", err)
				}
				defer ix.Close()
				if up, del := walDamageLoss(ix, model); up+del > 0 {
					t.Fatalf("%d acknowledged upserts lost, %d acknowledged deletes undone", up, del)
				}
				if err := ix.Check(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				up, del := walDamageLoss(ix, model)
				ix.PauseMaintenance()
				cerr := ix.Check()
				ix.Close()
				t.Fatalf("Open succeeded after damage at offset %d of %s (%d records): %d acknowledged upserts lost, %d acknowledged deletes undone; Check: %v",
					at, filepath.Base(path), len(recs), up, del, cerr)
			}
			t.Log(err)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v; want an error wrapping ErrCorrupt", err)
			}
			msg := err.Error()
			for _, want := range []string{filepath.Base(path), "offset " + strconv.FormatInt(at, 10)} {
				if !strings.Contains(msg, want) {
					t.Errorf("Open's error %q does not name %q", msg, want)
				}
			}
		})
	}
}

// walStretchIDs returns the ids whose vector the batches in the records
// of the log file at path that overlap the stretches write or delete.
func walStretchIDs(t *testing.T, path string, num uint64, stretches []LogStretch) map[uint64]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids := map[uint64]bool{}
	r := newRecordReader(f, num, record.NewReader)
	for {
		off := r.Offset()
		rec, err := r.Next()
		var b []byte
		if err == nil {
			b, err = io.ReadAll(rec)
		}
		if err != nil {
			return ids
		}
		end := r.Offset()
		if !slices.ContainsFunc(stretches, func(s LogStretch) bool {
			return s.File == path && off < s.Offset+s.Length && s.Offset < end || s.Length < 0 && s.Offset < end
		}) {
			continue
		}
		br := batchrepr.Read(b)
		for {
			_, k, _, ok, err := br.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if len(k) == 10 && k[0] == 'u' && k[1] == 'v' {
				ids[binary.BigEndian.Uint64(k[2:])] = true
			}
		}
	}
}

// TestWALDamageSalvage: Repair without Salvage reports the damage and
// changes nothing; with Salvage it cuts the log at the damage, the index
// opens and passes Check, and every id whose state is not the
// acknowledged one is listed as lost, or was in a record the report
// names as unreadable (the damaged record first).
func TestWALDamageSalvage(t *testing.T) {
	src, model := walDamageCrashed(t)
	for _, d := range walDamages {
		t.Run(d.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ix")
			copyTree(t, src, dir)
			path, recs := lastWAL(t, dir)
			at := d.apply(t, path, recs)
			if at < 0 {
				rep, err := Repair(dir, &RepairOptions{Salvage: true})
				if err != nil || rep.Refused || rep.Salvaged {
					t.Fatalf("Repair of a torn tail: %+v, %v; want nothing to salvage", rep, err)
				}
				return
			}
			rep, err := Repair(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Refused || rep.Cut == nil || rep.Cut.Offset != at || rep.Cut.File != path || rep.Salvaged {
				t.Fatalf("Repair (report only): refused %v, cut %+v, salvaged %v; want refused, cut at offset %d of %s, not salvaged", rep.Refused, rep.Cut, rep.Salvaged, at, path)
			}
			if _, err := Open(dir, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open after a report-only Repair: %v; want ErrCorrupt still", err)
			}

			rep, err = Repair(dir, &RepairOptions{Salvage: true})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Salvaged || len(rep.Checked) != 1 {
				t.Fatalf("Repair -salvage: salvaged %v, checked %v", rep.Salvaged, rep.Checked)
			}
			if len(rep.Unreadable) == 0 || rep.Unreadable[0].Offset != at {
				t.Fatalf("unreadable stretches %+v: want the damaged record at offset %d first", rep.Unreadable, at)
			}
			ix, err := Open(dir, &Options{MaintenancePaused: true})
			if err != nil {
				t.Fatalf("Open after salvage: %v", err)
			}
			defer ix.Close()
			if err := ix.Check(); err != nil {
				t.Fatal(err)
			}
			lost := rep.Lost[""]
			if lost == nil {
				lost = &LostWrites{}
			}
			listed := map[uint64]bool{}
			for _, id := range slices.Concat(lost.Upserts, lost.Deletes) {
				listed[id] = true
			}
			orig := filepath.Join(src, filepath.Base(path))
			n, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".log"), 10, 64)
			stretches := slices.Clone(rep.Unreadable)
			for i := range stretches {
				stretches[i].File = orig
			}
			damaged := walStretchIDs(t, orig, n, stretches)
			var unlisted []uint64
			changed := 0
			for id := range uint64(walDamageIDs) {
				got, err := ix.Get(id)
				want, live := model.live[id]
				if live == (err == nil) && (!live || slices.Equal(got, want)) {
					continue
				}
				changed++
				if !listed[id] && !damaged[id] {
					unlisted = append(unlisted, id)
				}
			}
			if len(unlisted) > 0 {
				t.Fatalf("ids %v lost their acknowledged state but the report lists them neither as lost nor in an unreadable record", unlisted)
			}
			t.Logf("%d ids not as acknowledged; report: %d upserts, %d deletes lost in %d batches (%d synced), %d ids in unreadable records, %d unreadable stretches, synced batches unknown %v",
				changed, len(lost.Upserts), len(lost.Deletes), lost.Batches, lost.Synced, len(damaged), len(rep.Unreadable), rep.SyncedUnknown)
		})
	}
}

// TestWALDamageInFlushedLogIgnored: damage in an older log whose batches
// are all flushed (Pebble keeps it to recycle) loses nothing, so Open
// succeeds with every acknowledged write.
func TestWALDamageInFlushedLogIgnored(t *testing.T) {
	src, model := walDamageCrashed(t)
	dir := filepath.Join(t.TempDir(), "ix")
	copyTree(t, src, dir)
	logs, err := wal.Scan(wal.Dir{FS: vfs.Default, Dirname: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) < 2 {
		t.Skipf("%d logs: no older log to damage", len(logs))
	}
	for _, ll := range logs[:len(logs)-1] {
		_, p := ll.SegmentLocation(0)
		patchFile(t, p, func(b []byte) []byte {
			clear(b[len(b)/3 : len(b)/3+512])
			return b
		})
	}
	ix, err := Open(dir, &Options{MaintenancePaused: true})
	if err != nil {
		t.Fatalf("Open with damage in flushed logs only: %v", err)
	}
	defer ix.Close()
	if up, del := walDamageLoss(ix, model); up+del > 0 {
		t.Fatalf("%d acknowledged upserts lost, %d acknowledged deletes undone", up, del)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}
