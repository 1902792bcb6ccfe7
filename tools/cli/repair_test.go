package cli

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/index"
)

// repairCrashedIndex makes an index, upserts n vectors one synced write
// at a time, and returns a copy of its directory taken before Close (a
// crash after every write was acknowledged) and the copy's newest log.
func repairCrashedIndex(t *testing.T, n int) (string, string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "ix")
	if _, err := index.Create(src, 4, nil); err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(src, &index.Options{MaintenancePaused: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for id := range uint64(n) {
		v := []float32{rng.Float32(), rng.Float32(), rng.Float32(), rng.Float32()}
		if err := ix.Upsert([]uint64{id}, [][]float32{v}); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "ix")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), ".log") {
			logs = append(logs, filepath.Join(dir, e.Name()))
		}
	}
	ix.Close()
	slices.Sort(logs)
	return dir, logs[len(logs)-1]
}

func TestRepair(t *testing.T) {
	dir, log := repairCrashedIndex(t, 300)

	code, out, errOut := shoal(t, "repair", dir)
	if code != 0 || !strings.Contains(out, "no damage") {
		t.Fatalf("repair of an intact index: exit %d, %q, %q; want 0, no damage", code, out, errOut)
	}

	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x20
	if err := os.WriteFile(log, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := shoal(t, "check", "-index", dir); code != 1 || !strings.Contains(errOut, "corrupt") || !strings.Contains(errOut, filepath.Base(log)) {
		t.Fatalf("check of the damaged index: exit %d, %q; want 1 and an error naming %s", code, errOut, filepath.Base(log))
	}

	code, out, errOut = shoal(t, "repair", dir)
	if code != 1 || !strings.Contains(out, "damage: "+log+" at offset ") || !strings.Contains(out, "nothing changed") || !strings.Contains(out, "upserts lost: ") {
		t.Fatalf("repair (report only): exit %d\n%s%s\nwant exit 1, the damage named, the ids a salvage drops, nothing changed", code, out, errOut)
	}
	if code, _, _ := shoal(t, "check", "-index", dir); code != 1 {
		t.Fatalf("a report-only repair changed the index: check exits %d", code)
	}

	code, out, errOut = shoal(t, "repair", "-salvage", dir)
	if code != 0 || !strings.Contains(out, "salvaged: ") || !strings.Contains(out, "checked: "+dir+" OK") {
		t.Fatalf("repair -salvage: exit %d\n%s%s\nwant exit 0, salvaged and checked", code, out, errOut)
	}
	t.Logf("shoal repair -salvage %s:\n%s", dir, out)
	// The ids listed as lost are exactly those Get no longer returns: each
	// was upserted once, in order.
	var lost []string
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "upserts lost: ") {
			for _, m := range lines[i+1:] {
				if !strings.HasPrefix(m, "  ") {
					break
				}
				lost = append(lost, strings.Fields(m)...)
			}
		}
	}
	ix, err := index.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for id := range uint64(300) {
		if _, err := ix.Get(id); err != nil {
			missing = append(missing, strconv.FormatUint(id, 10))
		}
	}
	ix.Close()
	if len(missing) == 0 || len(missing) > len(lost)+1 || !isSuffix(lost, missing) {
		t.Fatalf("ids missing after salvage %v; listed as lost %v (the damaged record's id may be missing too, unlisted)", missing, lost)
	}
	if code, _, errOut := shoal(t, "check", "-index", dir); code != 0 {
		t.Fatalf("check after salvage: exit %d, %s", code, errOut)
	}
}

// isSuffix reports whether lost is missing, or missing without its first
// id (the one in the damaged record).
func isSuffix(lost, missing []string) bool {
	return slices.Equal(lost, missing) || slices.Equal(lost, missing[1:])
}
