package vectors

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/shoaldb/shoal/internal/errs"
)

// TestAlignedFile: a version 2 file puts every block on its own pages,
// reads back through every path (Built, Rows, Reader, ReadRerank),
// verifies clean, and ReadRerank catches a damaged block.
func TestAlignedFile(t *testing.T) {
	for _, rb := range []int{12, 300, 512, 4092, 5000} {
		const count = 53
		dir, rows := writeFileWith(t, count, rb, NewAlignedWriter)
		s, err := Open(dir, count, rb, noRecords{}, errMissing)
		if err != nil {
			t.Fatalf("rowBytes %d: %v", rb, err)
		}
		l := s.l
		if l.version != alignedVersion || l.blockOff(0)%pageSize != 0 || l.stride()%pageSize != 0 || l.size()%pageSize != 0 {
			t.Fatalf("rowBytes %d: layout %+v not page-aligned", rb, l)
		}
		if fi, _ := os.Stat(filepath.Join(dir, File)); fi.Size() != l.size() {
			t.Fatalf("rowBytes %d: file of %d bytes, layout %d", rb, fi.Size(), l.size())
		}
		checkRows(t, s, rows, rb)
		ids := []uint64{0, 1, 7, 8, 30, count - 1}
		vers := make([]uint8, len(ids))
		err = s.ReadRerank(ids, vers, func(got []byte, gids []uint64, _ []uint8) error {
			if len(gids) != len(ids) {
				t.Fatalf("rowBytes %d: %d rows back, want %d", rb, len(gids), len(ids))
			}
			for i, id := range gids {
				if !bytes.Equal(got[i*rb:(i+1)*rb], rows[int(id)*rb:int(id+1)*rb]) {
					t.Fatalf("rowBytes %d: ReadRerank row %d differs", rb, id)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("rowBytes %d: ReadRerank: %v", rb, err)
		}
		v, u, err := s.Verify(func(p string) bool { t.Errorf("rowBytes %d: Verify: %s", rb, p); return true })
		if err != nil || v != l.size() || u != 0 {
			t.Errorf("rowBytes %d: Verify = %d, %d, %v; want %d, 0", rb, v, u, err, l.size())
		}
		if ops, bytes := s.DirectStats(); ops == 0 || bytes%pageSize != 0 {
			t.Errorf("rowBytes %d: %d direct reads of %d bytes", rb, ops, bytes)
		}
		s.Close()

		// A flipped byte in row 30's block fails its rerank read.
		path := filepath.Join(dir, File)
		b, _ := os.ReadFile(path)
		b[l.rowOff(30)+1] ^= 1
		os.WriteFile(path, b, 0o644)
		s, err = Open(dir, count, rb, noRecords{}, errMissing)
		if err != nil {
			t.Fatal(err)
		}
		err = s.ReadRerank([]uint64{30}, []uint8{0}, func([]byte, []uint64, []uint8) error { return nil })
		if !errors.Is(err, errs.Corrupt) {
			t.Errorf("rowBytes %d: damaged block read: %v, want errs.Corrupt", rb, err)
		}
		s.Close()
	}
}
