package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// LogicalVector is one vector of a logical snapshot that
// WriteLogicalSnapshot writes.
type LogicalVector struct {
	ID      uint64
	Values  []float32
	Owner   uint32
	Granted []uint32
	Labels  []uint32
}

// WriteLogicalSnapshot writes a version 2 (logical) snapshot, as servers
// before physical snapshots wrote them, of a float32 L2 collection of
// dimension dim with the given tenants (name → number) and vectors (in
// increasing id order), perChunk vectors a chunk file, into dir.
func WriteLogicalSnapshot(dir string, dim int, tenants map[string]uint32, vs []LogicalVector, perChunk int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		return err
	}
	defer enc.Close()
	m := &manifest{
		Format: snapshotFormat, Version: 2, Collection: "old",
		Config: snapshotConfig{Dim: dim, Metric: "METRIC_L2", Elem: "ELEMENT_TYPE_FLOAT32", PostingCap: 0, Replicas: 0},
	}
	for name, id := range tenants {
		m.Tenants = append(m.Tenants, tenantRecord{Version: catalogVersion, Name: name, ID: id})
	}
	for first := 0; first < len(vs); first += perChunk {
		var ch chunk
		ch.reset(dim)
		part := vs[first:min(first+perChunk, len(vs))]
		for _, v := range part {
			ch.add(v.ID, v.Owner, v.Granted, v.Labels, v.Values)
		}
		raw := ch.encode()
		out := enc.EncodeAll(raw, nil)
		name := fmt.Sprintf("vectors-%06d.zst", len(m.Files))
		if err := os.WriteFile(filepath.Join(dir, name), out, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(out)
		m.Files = append(m.Files, snapshotFileMD{Name: name, Vectors: uint64(len(part)), RawBytes: uint64(len(raw)), Bytes: uint64(len(out)), SHA256: hex.EncodeToString(sum[:])})
		m.Vectors += uint64(len(part))
		m.RawBytes += uint64(len(raw))
		m.Bytes += uint64(len(out))
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, snapshotManifest), b, 0o644)
}

// HoldImportSwap makes the build jobs of import (imports_build.go) wait,
// once their index is built and before it is swapped in, until release
// is called; reached receives each job's id as it starts waiting. The
// hold ends (release) when the test ends, if not before.
func HoldImportSwap(t testing.TB) (reached <-chan string, release func()) {
	ch := make(chan string, 16)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	testHookImportSwap = func(id string) {
		select {
		case ch <- id:
		default:
		}
		<-gate
	}
	t.Cleanup(release)
	return ch, release
}

// HoldImportBatch makes the upsert jobs of import (imports_upsert.go)
// wait before their batch number after (counting from 0, over all jobs)
// until release is called; reached is closed when a job starts waiting.
// The hold ends (release) when the test ends, if not before.
func HoldImportBatch(t testing.TB, after int) (reached <-chan struct{}, release func()) {
	ch := make(chan struct{})
	gate := make(chan struct{})
	var once, reach sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	var batches atomic.Int64
	testHookImportBatch = func() {
		if batches.Add(1)-1 == int64(after) {
			reach.Do(func() { close(ch) })
			<-gate
		}
	}
	t.Cleanup(release)
	return ch, release
}

// OnImportsStop returns a channel that receives once each time a server
// closing has stopped its import jobs (before it waits for them).
func OnImportsStop(t testing.TB) <-chan struct{} {
	ch := make(chan struct{}, 4)
	testHookImportsStop = func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { testHookImportsStop = nil })
	return ch
}

// OnImportCancel returns a channel that receives the id of each job
// CancelImport has cancelled (before it waits for the job to stop).
func OnImportCancel(t testing.TB) <-chan string {
	ch := make(chan string, 4)
	testHookImportCancel = func(id string) {
		select {
		case ch <- id:
		default:
		}
	}
	t.Cleanup(func() { testHookImportCancel = nil })
	return ch
}

// SetRESTBodyIdle sets how long a REST request body may go without a
// byte, until the test ends.
func SetRESTBodyIdle(t testing.TB, d time.Duration) {
	old := restBodyIdle
	restBodyIdle = d
	t.Cleanup(func() { restBodyIdle = old })
}
