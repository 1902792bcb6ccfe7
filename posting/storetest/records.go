package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// keys are the caller keys of the record tests: prefixes of each other,
// the empty key, and keys of 0xff bytes (the end of a prefix range cannot
// be had by incrementing their last byte).
var keys = []string{"", "a", "a1", "a2", "a3", "ab", "b", "\xff\xff", "\xff\xff\x01"}

func testGetMissingKeyIsNotFound(t *testing.T, open Opener) {
	s, _ := open(t)
	ExpectKey(t, s, "a", "")
	setKeys(t, s, "a1", "b")
	ExpectKey(t, s, "a", "")
	ExpectKey(t, s, "a1", "va1")
}

func testGetReturnsCopy(t *testing.T, open Opener) {
	s, _ := open(t)
	setKeys(t, s, "k")
	v, err := s.Get([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	copy(v, "XX")
	ExpectKey(t, s, "k", "vk")
}

func testGetSortedInOrderSkippingMissing(t *testing.T, open Opener) {
	s, _ := open(t)
	setKeys(t, s, keys...)
	ask := []string{"", "0", "a", "a0", "a2", "ab", "abc", "b", "c", "\xff\xff", "\xff\xff\x01", "\xff\xff\xff"}
	var got []string
	last := -1
	err := s.GetSorted(bytesOf(ask), func(i int, v []byte) error {
		if i <= last {
			return fmt.Errorf("GetSorted: key %d after %d", i, last)
		}
		last = i
		if string(v) != "v"+ask[i] {
			return fmt.Errorf("GetSorted: %q holds %q, want %q", ask[i], v, "v"+ask[i])
		}
		got = append(got, ask[i])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "a", "a2", "ab", "b", "\xff\xff", "\xff\xff\x01"}
	if !slices.Equal(got, want) {
		t.Errorf("GetSorted found %q, want %q", got, want)
	}
	if err := s.GetSorted(nil, func(int, []byte) error { return errors.New("called") }); err != nil {
		t.Errorf("GetSorted of no keys: %v, want nil and no calls", err)
	}
}

func testGetSortedRejectsKeysOutOfOrder(t *testing.T, open Opener) {
	s, _ := open(t)
	setKeys(t, s, keys...)
	for _, ask := range [][]string{{"b", "a"}, {"a", "a"}, {"a", "ab", "a2"}} {
		if err := s.GetSorted(bytesOf(ask), func(int, []byte) error { return nil }); err == nil {
			t.Errorf("GetSorted(%q) succeeded, want an error for keys out of order", ask)
		}
	}
}

func testGetSortedStopsAtCallbackError(t *testing.T, open Opener) {
	s, _ := open(t)
	setKeys(t, s, keys...)
	n := 0
	err := s.GetSorted(bytesOf([]string{"a", "a1", "b"}), func(int, []byte) error { n++; return errStop })
	if !errors.Is(err, errStop) || n != 1 {
		t.Errorf("GetSorted returned %v after %d calls, want the callback's error after 1", err, n)
	}
}

func testScanPrefixBounds(t *testing.T, open Opener) {
	s, _ := open(t)
	Load(t, s, 0) // postings and metadata are not caller keys
	if err := s.SetMeta("a", []byte("meta")); err != nil {
		t.Fatal(err)
	}
	setKeys(t, s, keys...)
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"a", []string{"a", "a1", "a2", "a3", "ab"}},
		{"a2", []string{"a2"}},
		{"a4", nil},
		{"c", nil},
		{"\xff", []string{"\xff\xff", "\xff\xff\x01"}},
		{"\xff\xff\x01", []string{"\xff\xff\x01"}},
		{"", keys},
	} {
		if got := scanKeys(t, s, c.prefix); !slices.Equal(got, c.want) {
			t.Errorf("ScanPrefix(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
}

func testScanPrefixStopsAtCallbackError(t *testing.T, open Opener) {
	s, _ := open(t)
	setKeys(t, s, keys...)
	n := 0
	if err := s.ScanPrefix([]byte("a"), func(k, v []byte) error { n++; return errStop }); !errors.Is(err, errStop) || n != 1 {
		t.Errorf("ScanPrefix returned %v after %d calls, want the callback's error after 1", err, n)
	}
}

func testDeleteRangeBounds(t *testing.T, open Opener) {
	for _, c := range []struct {
		start, end []byte
		left       []string
	}{
		{[]byte("a1"), []byte("a3"), []string{"", "a", "a3", "ab", "b", "\xff\xff", "\xff\xff\x01"}},
		{[]byte("a"), []byte("b"), []string{"", "b", "\xff\xff", "\xff\xff\x01"}},
		{[]byte("ab"), nil, []string{"", "a", "a1", "a2", "a3"}},
		{nil, []byte("a2"), []string{"a2", "a3", "ab", "b", "\xff\xff", "\xff\xff\x01"}},
		{[]byte("\xff\xff"), []byte("\xff\xff\x01"), []string{"", "a", "a1", "a2", "a3", "ab", "b", "\xff\xff\x01"}},
		{[]byte("b"), []byte("b"), keys},
		{[]byte("z"), []byte("a"), keys},
		{nil, nil, nil},
	} {
		t.Run(fmt.Sprintf("%q-%q", c.start, c.end), func(t *testing.T) {
			s, _ := open(t)
			setKeys(t, s, keys...)
			b := s.NewBatch()
			b.DeleteRange(c.start, c.end)
			commit(t, b, false)
			if got := scanKeys(t, s, ""); !slices.Equal(got, c.left) {
				t.Errorf("after DeleteRange(%q, %q): keys %q, want %q", c.start, c.end, got, c.left)
			}
		})
	}
}

// bytesOf returns keys as byte slices.
func bytesOf(keys []string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}
