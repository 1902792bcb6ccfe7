package cli

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoaldb/shoal/index"
)

// TestSearchFilter: shoal search -filter returns only vectors whose
// labels match, a full k per query while enough match, and a malformed
// filter is an error before any search.
func TestSearchFilter(t *testing.T) {
	data := updateData(t, 2000, 8)
	ix := filepath.Join(t.TempDir(), "ix")
	mustShoal(t, []string{"build", "-q", "-data", filepath.Join(data, "base.fvecs"), "-out", ix})
	// Label 7 on ids 0..99, label 8 on 50..149: "7 AND NOT 8" is 0..49.
	x, err := index.Open(ix, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	var labels [][]uint32
	for id := range uint64(150) {
		var ls []uint32
		if id < 100 {
			ls = append(ls, 7)
		}
		if id >= 50 {
			ls = append(ls, 8)
		}
		ids, labels = append(ids, id), append(labels, ls)
	}
	if err := x.SetLabels(ids, labels); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}

	queries := filepath.Join(data, "query.fvecs")
	res := filepath.Join(t.TempDir(), "res.u64bin")
	for _, expr := range []string{"7 AND NOT 8", "!8 & 7", "(7) and not (8 or 9)"} {
		mustShoal(t, []string{"search", "-index", ix, "-queries", queries, "-k", "5", "-filter", expr, "-out", res}, "50 queries")
		got, err := readResults(res)
		if err != nil {
			t.Fatalf("-filter %q: %v (a row short of 5 results?)", expr, err)
		}
		if len(got) != 50*5 {
			t.Fatalf("-filter %q: %d ids, want 5 for each of 50 queries", expr, len(got))
		}
		for _, id := range got {
			if id >= 50 {
				t.Fatalf("-filter %q returned id %d; want only ids 0..49 (label 7, not 8)", expr, id)
			}
		}
	}
	// No match: every row is padded with NoResult.
	mustShoal(t, []string{"search", "-index", ix, "-queries", queries, "-k", "5", "-filter", "9", "-out", res})
	if _, err := readResults(res); err == nil {
		t.Errorf("-filter 9 (no vector has label 9) returned ids, want only NoResult padding")
	}
	for _, bad := range []string{"7 AND", "(7", "red", "4294967296", "7 8"} {
		code, _, e := shoal(t, "search", "-index", ix, "-queries", queries, "-filter", bad)
		if code == 0 || !strings.Contains(e, "-filter") {
			t.Errorf("search -filter %q exited %d (%q), want an error naming -filter", bad, code, e)
		}
	}
}

// readResults reads a result file of shoal search -out (.u64bin): all
// ids, in order; NoResult padding is an error.
func readResults(path string) ([]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: %d bytes, no header", path, len(b))
	}
	rows, k := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	if want := 8 + 8*int(rows)*int(k); len(b) != want {
		return nil, fmt.Errorf("%s: %d bytes, want %d for %d rows of %d ids", path, len(b), want, rows, k)
	}
	ids := make([]uint64, 0, int(rows)*int(k))
	for i := 8; i < len(b); i += 8 {
		id := binary.LittleEndian.Uint64(b[i:])
		if id == NoResult {
			return nil, fmt.Errorf("%s: id #%d is padding", path, len(ids))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// TestSearchOutUint64: ids past 2^40 come back whole from -out, in both
// layouts; an int32 -out file is refused, naming what to use.
func TestSearchOutUint64(t *testing.T) {
	data := updateData(t, 1000, 8)
	ix := filepath.Join(t.TempDir(), "ix")
	mustShoal(t, []string{"create", "-index", ix, "-dim", "8"})
	const first = 1<<40 + 5
	mustShoal(t, []string{"upsert", "-q", "-index", ix, "-data", filepath.Join(data, "base.fvecs"), "-first-id", strconv.Itoa(first)})
	queries := filepath.Join(data, "query.fvecs")
	res := filepath.Join(t.TempDir(), "res.u64bin")
	mustShoal(t, []string{"search", "-index", ix, "-queries", queries, "-k", "3", "-out", res})
	ids, err := readResults(res)
	if err != nil || len(ids) != 50*3 {
		t.Fatalf("results: %v, %d ids; want 150", err, len(ids))
	}
	for _, id := range ids {
		if id < first || id >= first+1000 {
			t.Fatalf("id %d in the results, want ids in [2^40+5, 2^40+1005)", id)
		}
	}
	npy := filepath.Join(t.TempDir(), "res.npy")
	mustShoal(t, []string{"search", "-index", ix, "-queries", queries, "-k", "3", "-out", npy})
	b, err := os.ReadFile(npy)
	if err != nil || !bytes.HasPrefix(b, []byte("\x93NUMPY\x01\x00")) || !bytes.Contains(b, []byte("'descr': '<u8'")) || !bytes.Contains(b, []byte("'shape': (50, 3)")) {
		t.Fatalf("npy header of %q: %v", b[:min(len(b), 80)], err)
	}
	if got := b[len(b)-8*150:]; binary.LittleEndian.Uint64(got) != ids[0] {
		t.Errorf("npy first id %d, .u64bin first id %d: want the same", binary.LittleEndian.Uint64(got), ids[0])
	}
	// -out -: the ids on stdout, the summary on stderr.
	code, out, e := shoal(t, "search", "-index", ix, "-queries", queries, "-k", "3", "-out", "-")
	if code != 0 || len(out) != 8+150*8 || binary.LittleEndian.Uint64([]byte(out[8:])) != ids[0] || !strings.Contains(e, "50 queries") {
		t.Errorf("-out -: exit %d, %d bytes on stdout, stderr %q; want 0, %d bytes of ids and the summary on stderr", code, len(out), e, 8+150*8)
	}
	code, _, e = shoal(t, "search", "-index", ix, "-queries", queries, "-out", filepath.Join(t.TempDir(), "r.ivecs"))
	if code != 1 || !strings.Contains(e, ".u64bin") {
		t.Errorf("-out r.ivecs: exit %d, %q; want 1 and a pointer to .u64bin", code, e)
	}
}

// TestSearchOutWriteError: a write that fails (a full disk: /dev/full)
// fails the search, with the error.
func TestSearchOutWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	data := updateData(t, 1000, 8)
	ix := filepath.Join(t.TempDir(), "ix")
	mustShoal(t, []string{"build", "-q", "-data", filepath.Join(data, "base.fvecs"), "-out", ix})
	code, _, e := shoal(t, "search", "-index", ix, "-queries", filepath.Join(data, "query.fvecs"), "-out", "/dev/full")
	if code != 1 || !strings.Contains(e, "no space left") {
		t.Errorf("-out /dev/full: exit %d, %q; want 1 and the write error", code, e)
	}
}

// TestSearchOutClosedPipe: -out to a pipe whose reader stops early (as
// `| head -c 16` does) ends the search quietly with status 0, promptly:
// it used to hang, because the pipe was opened read-write.
func TestSearchOutClosedPipe(t *testing.T) {
	data := updateData(t, 2000, 8)
	ix := filepath.Join(t.TempDir(), "ix")
	mustShoal(t, []string{"build", "-q", "-data", filepath.Join(data, "base.fvecs"), "-out", ix})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	go func() { // head -c 16
		io.ReadFull(r, make([]byte, 16))
		r.Close()
	}()
	// 50 queries × 200 ids × 8 bytes: more than a pipe holds, so the
	// search writes after the reader has gone.
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, _, e := shoal(t, "search", "-index", ix, "-queries", filepath.Join(data, "query.fvecs"), "-k", "200", "-nprobe", "64",
			"-out", fmt.Sprintf("/dev/fd/%d", w.Fd()))
		done <- result{code, e}
	}()
	select {
	case got := <-done:
		if got.code != 0 || got.stderr != "" {
			t.Errorf("search to a closed pipe: exit %d, stderr %q; want 0 and nothing", got.code, got.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("search to a closed pipe still running after 60 s: it hangs")
	}
}
