package filter

import (
	"errors"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/internal/errs"
)

func TestDecodeLabels(t *testing.T) {
	for _, tc := range []struct {
		b  []byte
		ok bool
	}{
		{encodeLabels([]uint32{1, 5}), true},
		{nil, false},
		{[]byte{labelFormat}, false},
		{[]byte{2, 1, 0, 0, 0}, false},
		{[]byte{labelFormat, 1, 0, 0}, false},
		{encodeLabels([]uint32{5, 1}), false},
		{encodeLabels([]uint32{5, 5}), false},
	} {
		if _, err := decodeLabels(tc.b); (err == nil) != tc.ok || (err != nil && !errors.Is(err, errs.Corrupt)) {
			t.Errorf("decodeLabels(%x) = %v, want ok=%v", tc.b, err, tc.ok)
		}
	}
}

func FuzzDecodeLabels(f *testing.F) {
	f.Add(encodeLabels([]uint32{1, 2, 3}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ls, err := decodeLabels(b)
		if err == nil && !slices.Equal(encodeLabels(ls), b) {
			t.Fatalf("%x decodes to %v, which encodes otherwise", b, ls)
		}
	})
}
