package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/codes"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/server"
)

// zeros reads n zero bytes.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), z.n))
	clear(p[:k])
	z.n -= int64(k)
	return k, nil
}

// TestSnapshotRestoreBomb: a logical (version 2) snapshot whose chunk
// file (checksums and manifest consistent) decompresses to 512 MiB is
// refused as DataLoss without the restore allocating anywhere near that.
// (Physical snapshots are copied, not decompressed: their memory is the
// copy buffer's.)
func TestSnapshotRestoreBomb(t *testing.T) {
	snaps := t.TempDir()
	ts := start(t, "", &server.Options{SnapshotDir: snaps})
	admin := ts.dial("admin")
	ctx := context.Background()
	dir := filepath.Join(snaps, "bomb")
	vs := []server.LogicalVector{{ID: 1, Values: []float32{1, 2, 3, 4}}}
	if err := server.WriteLogicalSnapshot(dir, 4, nil, vs, 1); err != nil {
		t.Fatal(err)
	}
	mb, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	files := m["files"].([]any)
	f0 := files[0].(map[string]any)
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(enc, &zeros{512 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, f0["name"].(string)), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	f0["bytes"], f0["sha256"], f0["raw_bytes"] = buf.Len(), hex.EncodeToString(sum[:]), 512<<20
	if mb, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mb, 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = admin.Admin.RestoreSnapshot(ctx, &shoalv1.RestoreSnapshotRequest{Directory: "bomb", Collection: "restored"})
	runtime.ReadMemStats(&after)
	wantCode(t, "RestoreSnapshot of a chunk that decompresses to 512 MiB", err, codes.DataLoss)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 128<<20 {
		t.Fatalf("the refused restore allocated %d MiB", grew>>20)
	}
}
