package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/shoaldb/shoal/posting"
)

func testMetaRoundTrips(t *testing.T, open Opener) {
	s, _ := open(t)
	if _, err := s.GetMeta("x"); !errors.Is(err, posting.ErrNotFound) {
		t.Fatalf("GetMeta of a missing key: %v, want ErrNotFound", err)
	}
	big := bytes.Repeat([]byte("0123456789"), 1<<20) // 10 MiB: the routing tree is this large
	for _, v := range [][]byte{[]byte("a"), big, {}} {
		if err := s.SetMeta("x", v); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetMeta("x")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, v) {
			t.Fatalf("GetMeta returned %d bytes, want the %d set", len(got), len(v))
		}
	}
	// GetMeta returns a copy.
	if err := s.SetMeta("y", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetMeta("y")
	copy(got, "XXXX")
	if got, err := s.GetMeta("y"); err != nil || string(got) != "kept" {
		t.Fatalf("GetMeta after modifying a returned value = %q, %v; want %q", got, err, "kept")
	}
}

// testMetaApartFromCallerKeys: metadata and caller keys of the same name
// are distinct, and deleting every caller key leaves metadata and
// postings.
func testMetaApartFromCallerKeys(t *testing.T, open Opener) {
	s, _ := open(t)
	want := Load(t, s, 0)
	if err := s.SetMeta("k", []byte("meta")); err != nil {
		t.Fatal(err)
	}
	ExpectKey(t, s, "k", "")
	setKeys(t, s, "k")
	if m, err := s.GetMeta("k"); err != nil || string(m) != "meta" {
		t.Fatalf("GetMeta(k) = %q, %v after setting caller key k; want %q", m, err, "meta")
	}
	ExpectKey(t, s, "k", "vk")
	b := s.NewBatch()
	b.DeleteRange(nil, nil)
	commit(t, b, false)
	ExpectKey(t, s, "k", "")
	if m, err := s.GetMeta("k"); err != nil || string(m) != "meta" {
		t.Fatalf("GetMeta(k) = %q, %v after deleting every caller key; want %q", m, err, "meta")
	}
	ExpectPostings(t, s, want)
}
