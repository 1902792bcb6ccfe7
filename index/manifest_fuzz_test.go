package index

import (
	"errors"
	"testing"

	"github.com/shoaldb/shoal/internal/keys"
)

// FuzzUnmarshalManifest: any bytes give a manifest or an error wrapping
// ErrCorrupt, never a panic.
func FuzzUnmarshalManifest(f *testing.F) {
	m := &Manifest{Version: manifestVersion, Dim: 8, Elem: Float32, Metric: L2, Heads: 3, Count: 10}
	f.Add(m.marshal())
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"dim":-1}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := unmarshalManifest(b); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("unmarshalManifest error %v does not wrap ErrCorrupt", err)
		}
	})
}

// FuzzDecodeRetire: any key and value give a retire record or an error
// wrapping ErrCorrupt, never a panic.
func FuzzDecodeRetire(f *testing.F) {
	f.Add(keys.U32(keys.Retire, 3), encodeKeep([]uint64{1, 2}))
	f.Add(keys.U32(keys.Retire, 3), []byte{})
	f.Add([]byte{}, []byte{1})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		r, err := decodeRetire(k, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeRetire error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(r.keep) > len(v)/8 {
			t.Fatalf("%d ids kept from %d bytes", len(r.keep), len(v))
		}
	})
}
