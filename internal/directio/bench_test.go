//go:build linux

package directio

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkReadAt reads random, unaligned ranges of a 16 MiB file, directly
// and through the (warm) page cache for comparison.
func BenchmarkReadAt(b *testing.B) {
	const fileSize = 16 << 20
	dir := b.TempDir()
	path := dir + "/000001.sst"
	data := make([]byte, fileSize)
	fillRandom(data, 1)
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{4 << 10, 64 << 10} {
		for _, impl := range []struct {
			name string
			fs   vfs.FS
		}{{"Direct", NewFS(vfs.Default, nil)}, {"Buffered", vfs.Default}} {
			b.Run(fmt.Sprintf("%dKiB%s", size>>10, impl.name), func(b *testing.B) {
				f, err := impl.fs.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				p := make([]byte, size)
				r := rand.New(rand.NewPCG(1, 2))
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := f.ReadAt(p, int64(r.IntN(fileSize-size))); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
