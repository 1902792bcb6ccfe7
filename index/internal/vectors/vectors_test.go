package vectors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/shoaldb/shoal/internal/errs"
)

var errMissing = errors.New("missing")

// noRecords is a KV without upserted vectors.
type noRecords struct{}

func (noRecords) Get([]byte) ([]byte, error) { return nil, errMissing }
func (noRecords) GetSorted([][]byte, func(int, []byte) error) error {
	return nil
}

// writeFile writes a vectors file of count random rows to a new
// directory of t's and returns the directory and the rows.
func writeFile(t *testing.T, count, rowBytes int) (string, []byte) {
	return writeFileWith(t, count, rowBytes, NewWriter)
}

func writeFileWith(t *testing.T, count, rowBytes int, newWriter func(io.Writer, int, int) (*Writer, error)) (string, []byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(count), uint64(rowBytes)))
	rows := make([]byte, count*rowBytes)
	for i := range rows {
		rows[i] = byte(rng.Uint32())
	}
	var buf bytes.Buffer
	w, err := newWriter(&buf, count, rowBytes)
	if err != nil {
		t.Fatal(err)
	}
	// Uneven writes: whole rows, across block boundaries.
	for off := 0; off < len(rows); {
		n := min(len(rows)-off, (1+rng.IntN(7))*rowBytes)
		if err := w.Write(rows[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, File), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, rows
}

// checkRows reads every row of s one by one, all together and through a
// Reader, and compares them with rows.
func checkRows(t *testing.T, s *Store, rows []byte, rowBytes int) {
	t.Helper()
	count := len(rows) / rowBytes
	ids := make([]uint64, count)
	vers := make([]uint8, count)
	row := make([]byte, rowBytes)
	for i := range count {
		ids[i] = uint64(i)
		if err := s.Built(uint64(i), row); err != nil {
			t.Fatalf("Built(%d): %v", i, err)
		}
		if !bytes.Equal(row, rows[i*rowBytes:(i+1)*rowBytes]) {
			t.Fatalf("Built(%d) differs from the row written", i)
		}
	}
	got, err := s.Rows(ids)
	if err != nil || !bytes.Equal(got, rows) {
		t.Fatalf("Rows: %v, or rows differ", err)
	}
	var r Reader
	got, gotIDs, _, err := r.Read(s, ids, vers)
	if err != nil || !bytes.Equal(got, rows) || len(gotIDs) != count {
		t.Fatalf("Reader.Read: %v, or rows differ", err)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, rb := range []int{1, 3, 512, 4096, 5000} {
		b := max(1, blockBytes/rb)
		for _, count := range []int{1, b - 1, b, b + 1, 3*b + 2} {
			if count < 1 {
				continue
			}
			t.Run(fmt.Sprintf("%dx%d", count, rb), func(t *testing.T) {
				dir, rows := writeFile(t, count, rb)
				s, err := Open(dir, count, rb, noRecords{}, errMissing)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if !s.Checksummed() {
					t.Error("a file written by Writer is not checksummed")
				}
				checkRows(t, s, rows, rb)
				verified, unverified, err := s.Verify(func(p string) bool {
					t.Errorf("Verify: %s", p)
					return true
				})
				if err != nil || verified != s.l.size() || unverified != 0 {
					t.Errorf("Verify = %d verified, %d unverified, %v; want %d, 0, nil", verified, unverified, err, s.l.size())
				}
			})
		}
	}
}

// TestFormatDamage: a flipped byte anywhere is caught: by Open (header),
// by every read of a row of the damaged block (and no other), and by
// Verify.
func TestFormatDamage(t *testing.T) {
	const count, rb = 70, 300 // 13 rows a block, 6 blocks
	dir, rows := writeFile(t, count, rb)
	path := filepath.Join(dir, File)
	clean, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := newLayout(count, rb, false)
	row := make([]byte, rb)
	for off := int64(0); off < int64(len(clean)); off += 97 {
		b := bytes.Clone(clean)
		b[off] ^= 0x10
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, count, rb, noRecords{}, errMissing)
		if off < headerSize {
			if !errors.Is(err, errs.Corrupt) {
				t.Errorf("byte %d (header) flipped: Open = %v, want errs.Corrupt", off, err)
			}
			if s != nil {
				s.Close()
			}
			continue
		}
		if err != nil {
			t.Fatalf("byte %d flipped: Open: %v", off, err)
		}
		damaged := uint64((off - headerSize) / (l.blockOff(1) - l.blockOff(0)))
		for i := range uint64(count) {
			err := s.Built(i, row)
			if i/l.blockRows == damaged {
				if !errors.Is(err, errs.Corrupt) {
					t.Errorf("byte %d flipped: Built(%d) = %v, want errs.Corrupt", off, i, err)
				}
			} else if err != nil || !bytes.Equal(row, rows[i*rb:(i+1)*rb]) {
				t.Errorf("byte %d flipped: Built(%d) of another block: %v", off, i, err)
			}
		}
		var problems []string
		if _, _, err := s.Verify(func(p string) bool { problems = append(problems, p); return true }); err != nil {
			t.Fatal(err)
		}
		if len(problems) != 1 {
			t.Errorf("byte %d flipped: Verify found %q, want one damaged block", off, problems)
		}
		s.Close()
	}
}

// TestFormatVersion0: a file of rows only, as written before checksums,
// is still read, without checks, and Verify counts it unverified.
func TestFormatVersion0(t *testing.T) {
	const count, rb = 50, 12
	dir := t.TempDir()
	rows := make([]byte, count*rb)
	for i := range rows {
		rows[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(dir, File), rows, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, count, rb, noRecords{}, errMissing)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Checksummed() {
		t.Error("a file of version 0 says it is checksummed")
	}
	checkRows(t, s, rows, rb)
	verified, unverified, err := s.Verify(func(p string) bool { t.Errorf("Verify: %s", p); return true })
	if err != nil || verified != 0 || unverified != count*rb {
		t.Errorf("Verify = %d verified, %d unverified, %v; want 0, %d, nil", verified, unverified, err, count*rb)
	}
}

func TestOpenWrongSize(t *testing.T) {
	dir, _ := writeFile(t, 10, 8)
	for _, count := range []int{9, 11} {
		if _, err := Open(dir, count, 8, noRecords{}, errMissing); !errors.Is(err, errs.Corrupt) {
			t.Errorf("Open for %d rows of a file of 10: %v, want errs.Corrupt", count, err)
		}
	}
}

// FuzzReadLayout: any bytes as a vectors file's header decode to an
// error or to a layout that matches the size, never a panic.
func FuzzReadLayout(f *testing.F) {
	f.Add(newLayout(10, 8, false).header(), int64(newLayout(10, 8, false).size()), uint64(10), 8)
	f.Add([]byte("SHVD"), int64(80), uint64(10), 8)
	f.Fuzz(func(t *testing.T, h []byte, size int64, count uint64, rb int) {
		if rb <= 0 || rb > 1<<20 || count > 1<<40 {
			return
		}
		l, err := readLayout(bytes.NewReader(h), size, count, rb)
		if err == nil && l.size() != size {
			t.Fatalf("layout of %d bytes accepted for a file of %d", l.size(), size)
		}
	})
}
