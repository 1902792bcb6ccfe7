package tail

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
)

// log is an in-memory update log: the records a Set is loaded from.
type log map[string][]byte

func (l log) scan(prefix []byte, fn func(k, v []byte) error) error {
	var ks []string
	for k := range l {
		if strings.HasPrefix(k, string(prefix)) {
			ks = append(ks, k)
		}
	}
	// Key order, as a store scans.
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	for _, k := range ks {
		if err := fn([]byte(k), l[k]); err != nil {
			return err
		}
	}
	return nil
}

func (l log) add(p uint32, seq, id uint64, ver uint8, row []byte) {
	l[string(keys.U32U64(keys.Append, p, seq))] = Value(id, ver, row)
}

func TestSetAddTrimOf(t *testing.T) {
	s := NewSet()
	s.Add(3, 10, 1, 1, []byte{1, 2})
	s.Add(3, 11, 1, 2, []byte{3, 4})
	s.Add(5, 12, 2, 3, []byte{5, 6})
	if got, want := s.Bytes(), int64(3*(2+17)); got != want {
		t.Fatalf("Bytes = %d, want %d", got, want)
	}
	old := s.Get(3)
	s.Trim(3, 1, 2)
	if got := s.Get(3); got.Len() != 1 || got.IDs[0] != 11 || got.Last() != 2 {
		t.Fatalf("after Trim(3, 1): %+v, want only id 11 at seq 2", got)
	}
	if old.Len() != 2 {
		t.Fatal("Trim changed a published tail")
	}
	s.Trim(5, 3, 2)
	if s.Get(5) != nil {
		t.Fatal("a tail trimmed to nothing is still there")
	}
	if got, want := s.Bytes(), int64(2+17); got != want {
		t.Fatalf("Bytes after trims = %d, want %d", got, want)
	}
	of := s.Of([]uint32{5, 3, 9}, nil)
	if len(of) != 3 || of[0] != nil || of[1].Len() != 1 || of[2] != nil {
		t.Fatalf("Of = %v", of)
	}
}

func TestLoadAndCheckLog(t *testing.T) {
	l := log{}
	l.add(1, 4, 100, 1, []byte{1, 1})
	l.add(1, 9, 101, 1, []byte{2, 2})
	l.add(7, 5, 102, 2, []byte{3, 3})
	s, top, err := Load(l.scan, 2)
	if err != nil || top != 9 || s.Get(1).Len() != 2 || s.Get(7).Len() != 1 {
		t.Fatalf("Load = %v, top %d, err %v", s, top, err)
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	isHead := func(p uint32) bool { return p != 7 }
	if err := s.CheckLog(l.scan, 2, isHead, bad); err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "no head") {
		t.Fatalf("CheckLog problems %q, want one about posting 7", problems)
	}
	// A record the memory lacks, and a copy the log lacks.
	problems = nil
	l.add(1, 12, 103, 1, []byte{4, 4})
	delete(l, string(keys.U32U64(keys.Append, 7, 5)))
	if err := s.CheckLog(l.scan, 2, func(uint32) bool { return true }, bad); err != nil {
		t.Fatal(err)
	}
	// The record not in memory, and posting 1's and 7's counts.
	if len(problems) != 3 {
		t.Fatalf("CheckLog problems %q, want 3", problems)
	}
}

func TestDecodeRejectsBadRecords(t *testing.T) {
	k := keys.U32U64(keys.Append, 1, 2)
	for _, tc := range []struct {
		k, v []byte
	}{
		{k, []byte{1, 2, 3}},
		{k[:12], Value(1, 0, []byte{0, 0})},
		{append(bytes.Clone(k), 0), Value(1, 0, []byte{0, 0})},
		{keys.U32U64(keys.Vector, 1, 2), Value(1, 0, []byte{0, 0})},
	} {
		if _, err := Decode(tc.k, tc.v, 2); !errors.Is(err, errs.Corrupt) {
			t.Errorf("Decode(%x, %x) = %v, want errs.Corrupt", tc.k, tc.v, err)
		}
	}
	r, err := Decode(k, Value(77, 5, []byte{9, 8}), 2)
	if err != nil || r.Posting != 1 || r.Seq != 2 || r.ID != 77 || r.Ver != 5 || !bytes.Equal(r.Row, []byte{9, 8}) {
		t.Fatalf("Decode = %+v, %v", r, err)
	}
}
