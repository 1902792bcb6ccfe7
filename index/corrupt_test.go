package index

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/sstable/block"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
)

// corruptFixture is a small index whose Pebble database holds sstables
// (upserted vectors, tails, folds' range deletions), and the vectors it
// holds, by id.
type corruptFixture struct {
	dir     string
	dim     int
	want    map[uint64][]float32
	queries [][]float32
}

// newCorruptFixture builds, upserts and closes an index in a directory of
// t's. Maintenance runs, so tails are folded and deleted by range.
func newCorruptFixture(t *testing.T) *corruptFixture {
	t.Helper()
	const dim, built, upserted = 64, 2000, 3000
	data := clustered(built+upserted, dim, 16, 41, 41)
	f := &corruptFixture{dim: dim, want: make(map[uint64][]float32)}
	ix, dir := buildTest(t, data[:built*dim], dim, &Options{Ratio: 0.05})
	f.dir = dir
	for i := range built {
		f.want[uint64(i)] = data[i*dim : (i+1)*dim]
	}
	for start := built; start < built+upserted; start += 250 {
		var ids []uint64
		var vs [][]float32
		for i := start; i < start+250; i++ {
			ids = append(ids, uint64(i))
			vs = append(vs, data[i*dim:(i+1)*dim])
			f.want[uint64(i)] = data[i*dim : (i+1)*dim]
		}
		if err := ix.Upsert(ids, vs); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Drain(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	// Open flushes the log it replays to an sstable.
	ix, err := Open(dir, &Options{MaintenancePaused: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < built+upserted; i += 97 {
		f.queries = append(f.queries, data[i*dim:(i+1)*dim])
	}
	return f
}

// damaged copies the fixture to a new directory and flips the byte at
// off of the copy of file name.
func (f *corruptFixture) damaged(t *testing.T, name string, off int64) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "ix")
	if err := copyDir(f.dir, dst); err != nil {
		t.Fatal(err)
	}
	flipByte(t, filepath.Join(dst, name), off)
	return dst
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 || off >= int64(len(b)) {
		t.Fatalf("offset %d outside %s (%d bytes)", off, path, len(b))
	}
	b[off] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// use opens the index in dir and uses it as a client would (search, get
// every id, check, close), failing t if any call panics, returns an error
// that does not wrap ErrCorrupt, or returns a vector other than the one
// stored. It returns the calls that reported the damage.
func (f *corruptFixture) use(t *testing.T, dir string) (reported []string) {
	t.Helper()
	call := func(name string, fn func() error) {
		t.Helper()
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
					t.Errorf("%s panicked: %v", name, r)
				}
			}()
			return fn()
		}()
		switch {
		case err == nil:
		case errors.Is(err, ErrCorrupt):
			reported = append(reported, name)
		default:
			t.Errorf("%s: %v, want nil or an error wrapping ErrCorrupt", name, err)
		}
	}
	var ix *Index
	call("Open", func() (err error) {
		ix, err = Open(dir, &Options{CacheBytes: -1, MaintenancePaused: true})
		return err
	})
	if ix == nil {
		return reported
	}
	call("Search", func() error {
		for _, q := range f.queries {
			if _, err := ix.SearchContext(context.Background(), q, 10, &SearchParams{NProbe: 16}); err != nil {
				return err
			}
		}
		return nil
	})
	call("Get", func() error {
		var first error
		for id, want := range f.want {
			got, err := ix.Get(id)
			if err != nil {
				first = cmpOr(first, err)
				continue
			}
			if !slices.Equal(got, want) {
				t.Errorf("Get(%d) returned a vector that is not the one stored", id)
			}
		}
		return first
	})
	call("Check", ix.Check)
	call("Close", ix.Close)
	return reported
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// sstRegion is a byte of an sstable to damage, named for where it is.
type sstRegion struct {
	name string
	off  int64
}

// sstRegions returns bytes in every kind of block of the sstable at
// path: data, index, filter, range deletions, properties, metaindex, a
// block checksum, and the footer (handles, padding, magic).
func sstRegions(t *testing.T, path string) []sstRegion {
	t.Helper()
	file, err := vfs.Default.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	readable, err := sstable.NewSimpleReadable(file)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sstable.NewReader(context.Background(), readable, sstable.ReaderOptions{
		Filters: map[string]sstable.FilterPolicy{"rocksdb.BuiltinBloomFilter": bloom.FilterPolicy(10)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := r.Layout()
	if err != nil {
		t.Fatal(err)
	}
	var out []sstRegion
	mid := func(name string, h block.Handle) {
		if h.Length > 0 {
			out = append(out, sstRegion{name, int64(h.Offset + h.Length/2)})
		}
	}
	mid("first data block", l.Data[0].Handle)
	mid("last data block", l.Data[len(l.Data)-1].Handle)
	out = append(out, sstRegion{"data block checksum", int64(l.Data[0].Offset+l.Data[0].Length) + 2})
	for _, h := range l.Index {
		mid("index block", h)
	}
	mid("top index block", l.TopIndex)
	for _, h := range l.Filter {
		mid("filter block", h.Handle)
	}
	mid("range deletion block", l.RangeDel)
	mid("properties block", l.Properties)
	mid("metaindex block", l.MetaIndex)
	foot := int64(l.Footer.Offset)
	out = append(out,
		sstRegion{"footer handles", foot + 2},
		sstRegion{"footer padding", foot + 38},
		sstRegion{"footer version", foot + int64(l.Footer.Length) - 12},
		sstRegion{"footer magic", foot + int64(l.Footer.Length) - 1},
	)
	return out
}

// TestCorruptSSTable: one flipped byte anywhere in any sstable of an
// index never panics; it is reported, as an error wrapping ErrCorrupt, by
// Open, Search, Get, Check or Close — by Check at the latest.
func TestCorruptSSTable(t *testing.T) {
	f := newCorruptFixture(t)
	ssts, err := filepath.Glob(filepath.Join(f.dir, "*.sst"))
	if err != nil || len(ssts) == 0 {
		t.Fatalf("no sstables in %s: %v", f.dir, err)
	}
	sort.Strings(ssts)
	for _, sst := range slices.Compact([]string{ssts[0], ssts[len(ssts)-1]}) {
		name := filepath.Base(sst)
		for _, rg := range sstRegions(t, sst) {
			t.Run(fmt.Sprintf("%s/%s", name, rg.name), func(t *testing.T) {
				dir := f.damaged(t, name, rg.off)
				reported := f.use(t, dir)
				if len(reported) == 0 {
					t.Errorf("byte %d of %s (%s) flipped: no call reported it", rg.off, name, rg.name)
				} else if reported[0] != "Open" && !slices.Contains(reported, "Check") {
					t.Errorf("byte %d of %s (%s) flipped: %v reported it, Check did not", rg.off, name, rg.name, reported)
				}
			})
		}
	}
}

// TestCorruptVectorsFile: a flipped byte of vectors.dat is reported by
// Get of the vector it damages (never a wrong vector) and by Check.
func TestCorruptVectorsFile(t *testing.T) {
	f := newCorruptFixture(t)
	fi, err := os.Stat(filepath.Join(f.dir, "vectors.dat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 5, fi.Size() / 3, fi.Size() / 2, fi.Size() - 1} {
		t.Run(fmt.Sprint(off), func(t *testing.T) {
			dir := f.damaged(t, "vectors.dat", off)
			reported := f.use(t, dir)
			if len(reported) == 0 {
				t.Fatalf("byte %d of vectors.dat flipped: no call reported it", off)
			}
			if reported[0] != "Open" && (!slices.Contains(reported, "Get") || !slices.Contains(reported, "Check")) {
				t.Errorf("byte %d of vectors.dat flipped: reported by %v, want Get and Check", off, reported)
			}
		})
	}
}

// TestCheckVerifiesEveryFile: Check of a sound index verifies every byte
// of its sstables, segments (but the space of rewritten postings),
// vectors and tree files, and says so.
func TestCheckVerifiesEveryFile(t *testing.T) {
	f := newCorruptFixture(t)
	ix, err := Open(f.dir, &Options{MaintenancePaused: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	var st CheckStats
	if err := ix.CheckWithStats(&st); err != nil {
		t.Fatal(err)
	}
	sizes := func(patterns ...string) (n int, total int64) {
		var paths []string
		for _, pattern := range patterns {
			more, _ := filepath.Glob(filepath.Join(f.dir, pattern))
			paths = append(paths, more...)
		}
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			n++
			total += fi.Size()
		}
		return n, total
	}
	byKind := make(map[string]CheckedFiles)
	var verified, unverified int64
	for _, c := range st.Files {
		byKind[c.Kind] = c
		verified += c.Verified
		unverified += c.Unverified
	}
	if verified != st.Verified || unverified != st.Unverified {
		t.Errorf("CheckStats totals %d, %d; its files sum to %d, %d", st.Verified, st.Unverified, verified, unverified)
	}
	for _, want := range []struct {
		kind     string
		patterns []string
		all      bool // every byte verified
	}{
		{"sstables", []string{"*.sst"}, true},
		{"vectors", []string{"vectors.dat"}, true},
		{"tree", []string{"tree.shct"}, true},
		{"segments", []string{"postings-*.seg"}, false},
		{"pebble logs", []string{"*.log", "MANIFEST-*"}, false},
	} {
		n, total := sizes(want.patterns...)
		got := byKind[want.kind]
		switch {
		case got.Files != n || got.Verified+got.Unverified != total:
			t.Errorf("%s: %d files, %d+%d bytes; want the %d files of %d bytes on disk", want.kind, got.Files, got.Verified, got.Unverified, n, total)
		case want.all && got.Unverified != 0:
			t.Errorf("%s: %d bytes unverified, want none", want.kind, got.Unverified)
		case got.Verified == 0 && total > 0:
			t.Errorf("%s: no byte verified", want.kind)
		}
	}
}

// TestCorruptSegment: a flipped byte of a posting, or of the zero padding
// after it, is reported by Check (and the posting's by Search).
func TestCorruptSegment(t *testing.T) {
	const dim = 8
	data := clustered(3000, dim, 10, 9, 9)
	ix, dir := buildTest(t, data, dim, &Options{Ratio: 0.05})
	ix.Close()
	segs, err := filepath.Glob(filepath.Join(dir, "postings-*.seg"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("segment files %v, %v; want one", segs, err)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	// The first posting starts the file; its header gives its length.
	var p posting.Posting
	n := int(binary.LittleEndian.Uint32(b[4:]))
	length := posting.EncodedSize(vec.ElemType(b[1]), int(binary.LittleEndian.Uint16(b[2:])), n)
	if err := posting.Decode(b[:length], &p); err != nil || length%4096 == 0 {
		t.Fatalf("first posting of %d bytes: %v", length, err)
	}
	for _, c := range []struct {
		name string
		off  int64
	}{{"posting", 20}, {"padding", int64(length) + 1}} {
		t.Run(c.name, func(t *testing.T) {
			f := &corruptFixture{dir: dir, dim: dim, want: map[uint64][]float32{}}
			for i := 0; i < 3000; i += 7 {
				f.queries = append(f.queries, data[i*dim:(i+1)*dim])
			}
			damaged := f.damaged(t, filepath.Base(segs[0]), c.off)
			if reported := f.use(t, damaged); !slices.Contains(reported, "Check") {
				t.Errorf("byte %d (%s) of the segment flipped: reported by %v, want Check", c.off, c.name, reported)
			}
		})
	}
}
