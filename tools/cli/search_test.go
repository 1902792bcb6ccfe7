package cli

import (
	"path/filepath"
	"strings"
	"testing"

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
	res := filepath.Join(t.TempDir(), "res.ivecs")
	for _, expr := range []string{"7 AND NOT 8", "!8 & 7", "(7) and not (8 or 9)"} {
		mustShoal(t, []string{"search", "-index", ix, "-queries", queries, "-k", "5", "-filter", expr, "-out", res}, "50 queries")
		got, err := readIDs(res)
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
	// No match: every row is padded with -1.
	mustShoal(t, []string{"search", "-index", ix, "-queries", queries, "-k", "5", "-filter", "9", "-out", res})
	if _, err := readIDs(res); err == nil {
		t.Errorf("-filter 9 (no vector has label 9) returned ids, want only -1 padding")
	}
	for _, bad := range []string{"7 AND", "(7", "red", "4294967296", "7 8"} {
		code, _, e := shoal(t, "search", "-index", ix, "-queries", queries, "-filter", bad)
		if code == 0 || !strings.Contains(e, "-filter") {
			t.Errorf("search -filter %q exited %d (%q), want an error naming -filter", bad, code, e)
		}
	}
}
