package benchcli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/tools/internal/synth"
)

// TestImportBench: importbench imports a small data set both ways and
// reports done, settled and recall.
func TestImportBench(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.Generate(context.Background(), nil, synth.Spec{N: 1500, Queries: 20, Dim: 8, Seed: 3}, data); err != nil {
		t.Fatal(err)
	}
	for method, want := range map[string]string{"build": "IMPORT_METHOD_BUILD", "upsert": "IMPORT_METHOD_UPSERT"} {
		code, out, e := shoal(t, "importbench", "-q", "-data", filepath.Join(data, "base.fvecs"), "-method", method, "-settle", "300ms",
			"-queries", filepath.Join(data, "query.fvecs"), "-gt", filepath.Join(data, "groundtruth.ivecs"), "-nq", "20")
		if code != 0 {
			t.Fatalf("importbench -method %s exited %d: %s", method, code, e)
		}
		if !strings.Contains(out, "1500 rows × 8, method "+want+": done ") || !strings.Contains(out, "recall@10 at nprobe 32 over 20 queries: ") {
			t.Errorf("importbench -method %s printed %q", method, out)
		}
	}
}
