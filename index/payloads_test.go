package index

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/index/filter"
	"github.com/shoaldb/shoal/internal/keys"
)

// createTest creates an empty index of dim and opens it with o.
func createTest(t *testing.T, dim int, o *Options) (*Index, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ix")
	if _, err := Create(dir, dim, nil); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix, dir
}

func vecs(n, dim int, seed float32) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, dim)
		for j := range out[i] {
			out[i][j] = seed + float32(i*dim+j)
		}
	}
	return out
}

func payloadOf(t *testing.T, ix *Index, id uint64) string {
	t.Helper()
	p, err := ix.Payload(id)
	if err != nil {
		t.Fatalf("Payload(%d): %v", id, err)
	}
	return string(p)
}

// countRecords counts the records of kind k in the index's store.
func countRecords(t *testing.T, ix *Index, k keys.Kind) int {
	t.Helper()
	n := 0
	if err := ix.store.ScanPrefix(keys.Prefix(k), func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPayloadRoundTrip(t *testing.T) {
	ix, dir := createTest(t, 4, nil)
	ids := []uint64{1, 2, 3}
	ps := [][]byte{[]byte(` { "color" : "red", "n": 1.50, "tags": ["a", "b"] } `), nil, []byte(`{}`)}
	if err := ix.UpsertWithPayloads(0, ids, vecs(3, 4, 1), nil, ps); err != nil {
		t.Fatal(err)
	}
	check := func(ix *Index, when string) {
		t.Helper()
		for id, want := range map[uint64]string{1: `{"color":"red","n":1.50,"tags":["a","b"]}`, 2: "", 3: `{}`} {
			if got := payloadOf(t, ix, id); got != want {
				t.Errorf("%s: payload of %d = %q, want %q (compact, as given)", when, id, got, want)
			}
		}
	}
	check(ix, "after upsert")
	// An upsert without a payload keeps it.
	if err := ix.Upsert([]uint64{1}, vecs(1, 4, 9)); err != nil {
		t.Fatal(err)
	}
	if err := ix.UpsertWithPayloads(0, []uint64{3}, vecs(1, 4, 9), nil, [][]byte{nil}); err != nil {
		t.Fatal(err)
	}
	check(ix, "after upserts without payloads")
	got, err := ix.Payloads([]uint64{3, 99, 1})
	if err != nil || string(got[0]) != "{}" || got[1] != nil || !strings.HasPrefix(string(got[2]), `{"color"`) {
		t.Errorf("Payloads = %q, %v", got, err)
	}
	if _, err := ix.Payload(99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Payload of a missing id: %v, want ErrNotFound", err)
	}
	ix.Close()
	ix, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	check(ix, "after reopen")
	// SetPayloads: replace and remove.
	if err := ix.SetPayloads([]uint64{1, 3}, [][]byte{[]byte(`{"a":true}`), nil}); err != nil {
		t.Fatal(err)
	}
	if a, b := payloadOf(t, ix, 1), payloadOf(t, ix, 3); a != `{"a":true}` || b != "" {
		t.Errorf("after SetPayloads: %q, %q", a, b)
	}
	if err := ix.SetPayloads([]uint64{1, 77}, [][]byte{[]byte(`{}`), []byte(`{}`)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPayloads of a missing id: %v, want ErrNotFound", err)
	}
	if got := payloadOf(t, ix, 1); got != `{"a":true}` {
		t.Errorf("a refused SetPayloads changed id 1 to %q", got)
	}
	// Delete removes the payload: upserted again, the id has none.
	if _, err := ix.Delete([]uint64{1}); err != nil {
		t.Fatal(err)
	}
	if n := countRecords(t, ix, keys.Payload); n != 0 {
		t.Errorf("%d payload records after the delete, want 0", n)
	}
	if err := ix.Upsert([]uint64{1}, vecs(1, 4, 1)); err != nil {
		t.Fatal(err)
	}
	if got := payloadOf(t, ix, 1); got != "" {
		t.Errorf("payload of a deleted and upserted id: %q, want none", got)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestPayloadBadInput(t *testing.T) {
	ix, _ := createTest(t, 4, &Options{MaxPayloadBytes: 32})
	if err := ix.UpsertWithPayloads(0, []uint64{1}, vecs(1, 4, 1), nil, [][]byte{[]byte(`{"keep":1}`)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, p, msg string }{
		{"invalid JSON", `{"a":`, "not valid JSON"},
		{"not an object", `[1,2]`, "not a JSON object"},
		{"a string", `"x"`, "not a JSON object"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "not valid UTF-8"},
		{"too large", `{"a":"` + strings.Repeat("x", 40) + `"}`, "at most 32"},
		{"empty", ``, "not valid JSON"},
		{"number beyond float64", `{"n":1e400}`, "does not fit a float64"},
		{"duplicate key", `{"a":1,"a":2}`, "key \"a\" appears twice"},
		{"duplicate nested key", `{"o":{"b":[{"c":1,"c":1}]}}`, "key \"c\" appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ix.UpsertWithPayloads(0, []uint64{1, 2}, vecs(2, 4, 5), nil, [][]byte{nil, []byte(tc.p)})
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "id 2") {
				t.Errorf("upsert: %v, want ErrBadInput naming id 2 and %q", err, tc.msg)
			}
			err = ix.SetPayloads([]uint64{1}, [][]byte{[]byte(tc.p)})
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("SetPayloads: %v, want ErrBadInput", err)
			}
			// Nothing stored: id 2 absent, id 1 unchanged.
			if ix.Contains(2) || ix.Len() != 1 {
				t.Errorf("a refused upsert stored id 2 (Len %d)", ix.Len())
			}
			if got := payloadOf(t, ix, 1); got != `{"keep":1}` {
				t.Errorf("payload of id 1 = %q after a refused write", got)
			}
		})
	}
	if err := ix.SetPayloads([]uint64{1}, nil); !errors.Is(err, ErrBadInput) {
		t.Errorf("SetPayloads with no payloads: %v", err)
	}
	// The same key in sibling objects, keys equal to values, nesting:
	// all fine.
	ok := `{"a":{"k":"k"},"k":[{"k":1}]}` // 30 bytes
	if err := ix.SetPayloads([]uint64{1}, [][]byte{[]byte(ok)}); err != nil {
		t.Errorf("SetPayloads %s: %v", ok, err)
	}
}

func TestLabelNames(t *testing.T) {
	ix, dir := createTest(t, 4, nil)
	ids, err := ix.LabelIDs([]string{"color=red", "7", "size=x l", "color=red"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{NamedLabelBase, 7, NamedLabelBase + 1, NamedLabelBase}; !slices.Equal(ids, want) {
		t.Fatalf("LabelIDs = %v, want %v", ids, want)
	}
	for _, tc := range []struct{ label, msg string }{
		{"4294967296", "not a label id"},
		{"99999999999999999999", "not a label id"},
		{"", "0 bytes"},
		{strings.Repeat("x", 257), "257 bytes"},
		{"a\xffb", "UTF-8"},
	} {
		if _, err := ix.LabelIDs([]string{"new", tc.label}); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("LabelIDs(%q): %v, want ErrBadInput with %q", tc.label, err, tc.msg)
		}
	}
	if _, ok := ix.LabelID("new"); ok {
		t.Error("a refused LabelIDs created a name")
	}
	if err := ix.UpsertLabeled(0, []uint64{1, 2}, vecs(2, 4, 1), [][]uint32{{ids[0], 7}, {ids[2]}}); err != nil {
		t.Fatal(err)
	}
	// A number in the named range that no name has is the caller's:
	// names' ids go above it from now on, also after a reopen.
	if err := ix.SetLabels([]uint64{3}, [][]uint32{{NamedLabelBase + 5}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetLabels of a missing id: %v", err)
	}
	if err := ix.UpsertLabeled(0, []uint64{3}, vecs(1, 4, 3), [][]uint32{{NamedLabelBase + 5}}); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	ix, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if got := ix.LabelNames(); !slices.Equal(got, []LabelName{{"color=red", NamedLabelBase}, {"size=x l", NamedLabelBase + 1}}) {
		t.Errorf("LabelNames after reopen = %v", got)
	}
	if n, ok := ix.LabelName(NamedLabelBase + 1); !ok || n != "size=x l" {
		t.Errorf("LabelName = %q, %v", n, ok)
	}
	// The next name goes above the number used in the named range.
	if ids, err := ix.LabelIDs([]string{"z"}); err != nil || ids[0] != NamedLabelBase+6 {
		t.Errorf("LabelIDs after reopen = %v, %v; want %d", ids, err, NamedLabelBase+6)
	}
	// A name's id written by number is that name's label.
	if err := ix.SetLabels([]uint64{3}, [][]uint32{{NamedLabelBase}}); err != nil {
		t.Fatal(err)
	}
	if e, err := ix.ParseFilter("color=red"); err != nil {
		t.Fatal(err)
	} else if res, err := ix.Search(make([]float32, 4), 10, &SearchParams{Filter: e}); err != nil || len(res) != 2 {
		t.Errorf("color=red after labelling 3 by its number = %v, %v; want ids 1 and 3", res, err)
	}
	if err := ix.SetLabels([]uint64{3}, [][]uint32{nil}); err != nil {
		t.Fatal(err)
	}
	e, err := ix.ParseFilter(`color=red AND NOT "size=x l"`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ix.Search(make([]float32, 4), 10, &SearchParams{Filter: e})
	if err != nil || len(res) != 1 || res[0].ID != 1 {
		t.Errorf("filtered search = %v, %v, want id 1", res, err)
	}
	if _, err := ix.ParseFilter("color=blue"); !errors.Is(err, ErrBadInput) || !errors.Is(err, filter.ErrUnknownLabel) {
		t.Errorf("unknown name: %v, want ErrBadInput and filter.ErrUnknownLabel", err)
	}
	if _, ok := ix.LabelID("color=blue"); ok {
		t.Error("a filter read created a name")
	}
}

func TestIndexedFields(t *testing.T) {
	ix, dir := createTest(t, 4, nil)
	if err := ix.SetIndexedFields([]string{"color", "n", "tags", "ok"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{""}, {"a=b"}, {"a", "a"}, {strings.Repeat("f", 129)}} {
		if err := ix.SetIndexedFields(bad); !errors.Is(err, ErrBadInput) {
			t.Errorf("SetIndexedFields(%q): %v, want ErrBadInput", bad, err)
		}
	}
	labelNames := func(id uint64) []string {
		t.Helper()
		ls, err := ix.Labels(id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range ls {
			if n, ok := ix.LabelName(l); ok {
				out = append(out, n)
			} else {
				out = append(out, "#"+string(rune('0'+l)))
			}
		}
		slices.Sort(out)
		return out
	}
	ps := [][]byte{
		[]byte(`{"color":"red","n":3.0,"tags":["x",2,true,null,{}],"ok":false,"other":"y"}`),
		[]byte(`{"color":"blue","n":1e21}`),
		[]byte(`{"color":{"nested":1}}`),
	}
	if err := ix.UpsertWithPayloads(0, []uint64{1, 2, 3}, vecs(3, 4, 1), [][]uint32{{7}, nil, nil}, ps); err != nil {
		t.Fatal(err)
	}
	want1 := []string{"#7", "color=red", "n=3", "ok=false", "tags=2", "tags=true", "tags=x"}
	if got := labelNames(1); !slices.Equal(got, want1) {
		t.Errorf("labels of 1 = %q, want %q", got, want1)
	}
	if got := labelNames(2); !slices.Equal(got, []string{"color=blue", "n=1e+21"}) {
		t.Errorf("labels of 2 = %q", got)
	}
	if got := labelNames(3); len(got) != 0 {
		t.Errorf("labels of 3 = %q, want none", got)
	}
	// A filter on a derived label.
	e, err := ix.ParseFilter("color=red")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ix.Search(make([]float32, 4), 10, &SearchParams{Filter: e})
	if err != nil || len(res) != 1 || res[0].ID != 1 {
		t.Errorf("search color=red = %v, %v, want id 1 alone", res, err)
	}
	// Explicit labels replaced: derived ones stay.
	if err := ix.SetLabels([]uint64{1}, [][]uint32{{8}}); err != nil {
		t.Fatal(err)
	}
	if got := labelNames(1); !slices.Equal(got, append([]string{"#8"}, want1[1:]...)) {
		t.Errorf("after SetLabels, labels of 1 = %q", got)
	}
	// Payload replaced: explicit ones stay, derived ones follow.
	if err := ix.SetPayloads([]uint64{1}, [][]byte{[]byte(`{"color":"green"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := labelNames(1); !slices.Equal(got, []string{"#8", "color=green"}) {
		t.Errorf("after SetPayloads, labels of 1 = %q", got)
	}
	// An upsert with neither keeps both.
	if err := ix.Upsert([]uint64{1}, vecs(1, 4, 3)); err != nil {
		t.Fatal(err)
	}
	if got := labelNames(1); !slices.Equal(got, []string{"#8", "color=green"}) {
		t.Errorf("after a plain upsert, labels of 1 = %q", got)
	}
	// Removing the payload removes its labels.
	if err := ix.SetPayloads([]uint64{1}, [][]byte{nil}); err != nil {
		t.Fatal(err)
	}
	if got := labelNames(1); !slices.Equal(got, []string{"#8"}) {
		t.Errorf("after removing the payload, labels of 1 = %q", got)
	}
	// Changing the fields re-derives every vector's labels, and persists.
	if err := ix.SetIndexedFields([]string{"n"}); err != nil {
		t.Fatal(err)
	}
	if got := labelNames(2); !slices.Equal(got, []string{"n=1e+21"}) {
		t.Errorf("after SetIndexedFields, labels of 2 = %q", got)
	}
	ix.Close()
	ix, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if got := ix.IndexedFields(); !slices.Equal(got, []string{"n"}) {
		t.Errorf("IndexedFields after reopen = %q", got)
	}
	if err := ix.UpsertWithPayloads(0, []uint64{4}, vecs(1, 4, 9), nil, [][]byte{[]byte(`{"n":-0.5,"color":"red"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := labelNames(4); !slices.Equal(got, []string{"n=-0.5"}) {
		t.Errorf("labels of 4 after reopen = %q", got)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestPayloadsInCheckpoint: a physical checkpoint (a copy of the Pebble
// store) carries payloads, the label-name dictionary and the indexed
// fields.
func TestPayloadsInCheckpoint(t *testing.T) {
	ix, _ := createTest(t, 4, nil)
	if err := ix.SetIndexedFields([]string{"color"}); err != nil {
		t.Fatal(err)
	}
	if err := ix.UpsertWithPayloads(0, []uint64{1, 2}, vecs(2, 4, 1), nil, [][]byte{[]byte(`{"color":"red"}`), []byte(`{"color":"blue"}`)}); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "ckpt")
	if _, err := ix.Checkpoint(dst, nil); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := payloadOf(t, c, 2); got != `{"color":"blue"}` {
		t.Errorf("payload in the checkpoint = %q", got)
	}
	if !slices.Equal(c.LabelNames(), ix.LabelNames()) || !slices.Equal(c.IndexedFields(), []string{"color"}) {
		t.Errorf("checkpoint names %v fields %v, source %v", c.LabelNames(), c.IndexedFields(), ix.LabelNames())
	}
	e, err := c.ParseFilter("color=red")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(make([]float32, 4), 10, &SearchParams{Filter: e})
	if err != nil || len(res) != 1 || res[0].ID != 1 {
		t.Errorf("search of the checkpoint = %v, %v", res, err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestDropTenantRemovesPayloads(t *testing.T) {
	ix, _ := createTest(t, 4, nil)
	if err := ix.CreateTenant(5); err != nil {
		t.Fatal(err)
	}
	if err := ix.UpsertWithPayloads(5, []uint64{1, 2}, vecs(2, 4, 1), nil, [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`)}); err != nil {
		t.Fatal(err)
	}
	if err := ix.UpsertWithPayloads(0, []uint64{3}, vecs(1, 4, 1), nil, [][]byte{[]byte(`{"a":3}`)}); err != nil {
		t.Fatal(err)
	}
	if err := ix.DropTenant(5); err != nil {
		t.Fatal(err)
	}
	if n := countRecords(t, ix, keys.Payload); n != 1 {
		t.Errorf("%d payload records after the drop, want 1 (id 3's)", n)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestLabelIDsAboveNumbers(t *testing.T) {
	ix, _ := createTest(t, 4, nil)
	ids, err := ix.LabelIDs([]string{"a", "3000000000", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{3000000001, 3000000000, 3000000002}; !slices.Equal(ids, want) {
		t.Errorf("LabelIDs = %v, want %v (names above the number of the call)", ids, want)
	}
	if err := ix.UpsertLabeled(0, []uint64{1}, vecs(1, 4, 1), [][]uint32{{1<<32 - 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.LabelIDs([]string{"c"}); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "no label id is left") {
		t.Errorf("a name after 4294967295 was used by number: %v, want ErrBadInput", err)
	}
	if ids, err := ix.LabelIDs([]string{"a", "7"}); err != nil || ids[0] != 3000000001 {
		t.Errorf("known names still resolve: %v, %v", ids, err)
	}
}

func TestIndexedFieldsOption(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ix")
	if _, err := Create(dir, 4, &Options{IndexedPayloadFields: []string{"a=b"}}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Create with a field holding =: %v, want ErrInvalidOptions", err)
	}
	if _, err := Create(dir, 4, &Options{IndexedPayloadFields: []string{"color"}}); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if got := ix.IndexedFields(); !slices.Equal(got, []string{"color"}) {
		t.Errorf("IndexedFields of a created index = %q", got)
	}
	built, _ := buildTest(t, clustered(200, 4, 3, 1, 1), 4, &Options{Ratio: 0.1, IndexedPayloadFields: []string{"n"}})
	if got := built.IndexedFields(); !slices.Equal(got, []string{"n"}) {
		t.Errorf("IndexedFields of a built index = %q", got)
	}
}

// TestOwnedWrites: SetPayloadsOwned and SetLabelsOwned write only the
// vectors their tenant owns, checked with the write: another tenant's,
// an unowned or a missing id refuses the whole batch.
func TestOwnedWrites(t *testing.T) {
	ix, _ := createTest(t, 4, nil)
	for _, tn := range []uint32{1, 2} {
		if err := ix.CreateTenant(tn); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.UpsertWithPayloads(1, []uint64{10}, vecs(1, 4, 1), nil, [][]byte{[]byte(`{"o":1}`)}); err != nil {
		t.Fatal(err)
	}
	if err := ix.UpsertWithPayloads(2, []uint64{20}, vecs(1, 4, 2), nil, [][]byte{[]byte(`{"o":2}`)}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert([]uint64{30}, vecs(1, 4, 3)); err != nil {
		t.Fatal(err)
	}
	p := []byte(`{"x":1}`)
	for _, tc := range []struct {
		ids  []uint64
		want error
	}{
		{[]uint64{10, 20}, ErrNotOwned}, // 20 is tenant 2's
		{[]uint64{10, 30}, ErrNotOwned}, // 30 has no owner
		{[]uint64{10, 40}, ErrNotFound}, // 40 holds no vector
	} {
		ps := make([][]byte, len(tc.ids))
		ls := make([][]uint32, len(tc.ids))
		for i := range ps {
			ps[i], ls[i] = p, []uint32{7}
		}
		if err := ix.SetPayloadsOwned(1, tc.ids, ps); !errors.Is(err, tc.want) {
			t.Errorf("SetPayloadsOwned(1, %v): %v, want %v", tc.ids, err, tc.want)
		}
		if err := ix.SetLabelsOwned(1, tc.ids, ls); !errors.Is(err, tc.want) {
			t.Errorf("SetLabelsOwned(1, %v): %v, want %v", tc.ids, err, tc.want)
		}
	}
	if got := payloadOf(t, ix, 10); got != `{"o":1}` {
		t.Errorf("payload of 10 after refused owned writes: %q", got)
	}
	if l, _ := ix.Labels(10); len(l) != 0 {
		t.Errorf("labels of 10 after refused owned writes: %v", l)
	}
	if err := ix.SetPayloadsOwned(1, []uint64{10}, [][]byte{p}); err != nil {
		t.Errorf("SetPayloadsOwned of its own: %v", err)
	}
	if err := ix.SetLabelsOwned(1, []uint64{10}, [][]uint32{{7}}); err != nil {
		t.Errorf("SetLabelsOwned of its own: %v", err)
	}
	if got := payloadOf(t, ix, 10); got != `{"x":1}` {
		t.Errorf("payload of 10 = %q, want the owned write's", got)
	}
	if err := ix.SetPayloadsOwned(0, []uint64{30}, [][]byte{p}); !errors.Is(err, ErrBadInput) {
		t.Errorf("SetPayloadsOwned with owner 0: %v, want ErrBadInput", err)
	}
}
