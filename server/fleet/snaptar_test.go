package fleet

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestPackUnpack: a snapshot directory survives packDir and unpackDir
// byte for byte; an archive with a path leading outside, or a link, is
// refused with errBadArchive and writes nothing outside.
func TestPackUnpack(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{"manifest.json": `{"v":3}`, "index/a.sst": "abc", "index/sub/b": string(make([]byte, 1<<20))}
	for name, body := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := packDir(&buf, src); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 64<<10 {
		t.Errorf("packed %d bytes: the zeros were not compressed", buf.Len())
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := unpackDir(bytes.NewReader(buf.Bytes()), dst); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		got, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(name)))
		if err != nil || string(got) != body {
			t.Errorf("%s: %d bytes (%v), want %d", name, len(got), err, len(body))
		}
	}

	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeReg, Name: "../escape", Size: 1},
		{Typeflag: tar.TypeReg, Name: "/abs", Size: 1},
		{Typeflag: tar.TypeSymlink, Name: "link", Linkname: "/etc"},
	} {
		var raw bytes.Buffer
		zw, _ := zstd.NewWriter(&raw)
		tw := tar.NewWriter(zw)
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte("x"))
		}
		tw.Close()
		zw.Close()
		root := t.TempDir()
		err := unpackDir(bytes.NewReader(raw.Bytes()), filepath.Join(root, "out"))
		if !errors.Is(err, errBadArchive) {
			t.Errorf("%s %q: %v, want errBadArchive", string(h.Typeflag), h.Name, err)
		}
		if _, err := os.Stat(filepath.Join(root, "escape")); err == nil {
			t.Errorf("%q was written outside", h.Name)
		}
	}
	if err := unpackDir(bytes.NewReader([]byte("not zstd at all")), filepath.Join(t.TempDir(), "out")); err == nil {
		t.Error("garbage unpacked without an error")
	}
}
