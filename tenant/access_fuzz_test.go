package tenant

import (
	"bytes"
	"testing"
)

// FuzzDecodeAccess: any bytes decode to an access record or an error,
// never a panic, and a record that decodes encodes back to the same bytes.
func FuzzDecodeAccess(f *testing.F) {
	f.Add((&accessRec{vv: 3, owner: 7, granted: []ID{1, 2}}).encode())
	f.Add((&accessRec{}).encode())
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAccess(b)
		if err != nil {
			return
		}
		if got := a.encode(); !bytes.Equal(got, b) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", b, a, got)
		}
	})
}
