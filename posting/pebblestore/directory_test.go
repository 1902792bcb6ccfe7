package pebblestore

import (
	"bytes"
	"testing"
)

func TestOverrideRoundTrip(t *testing.T) {
	for _, l := range []location{{seg: 3, length: 5000, off: 8192}, {}} {
		key := overrideKey(nil, 42)
		id, got, err := decodeOverride(key, appendLocation(nil, l))
		if err != nil || id != 42 || got != l {
			t.Errorf("decodeOverride(encode(42, %+v)) = %d, %+v, %v", l, id, got, err)
		}
	}
	if a, b := overrideKey(nil, 1), overrideKey(nil, 256); bytes.Compare(a, b) >= 0 {
		t.Errorf("override keys do not sort by id: %x ≥ %x", a, b)
	}
}

// FuzzDecodeOverride: bad override records are errors, never panics.
func FuzzDecodeOverride(f *testing.F) {
	f.Add(overrideKey(nil, 7), appendLocation(nil, location{seg: 1, length: 10, off: 4096}))
	f.Add([]byte{prefixOverride}, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		id, l, err := decodeOverride(key, value)
		if err == nil && (id > MaxPostingID || l.off%pageSize != 0) {
			t.Fatalf("decodeOverride accepted posting %d at %+v", id, l)
		}
	})
}
