package tail

import (
	"testing"

	"github.com/shoaldb/shoal/internal/keys"
)

// FuzzDecode: any key and value decode to an update-log record or an
// error, never a panic, and a record that decodes encodes back to its value.
func FuzzDecode(f *testing.F) {
	f.Add(keys.U32U64(keys.Append, 1, 2), Value(3, 4, []byte{5, 6}))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{'a'}, []byte{1})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		r, err := Decode(k, v, 2)
		if err != nil {
			return
		}
		if got := Value(r.ID, r.Ver, r.Row); string(got) != string(v) {
			t.Fatalf("value %x decodes to %+v, which encodes to %x", v, r, got)
		}
	})
}
