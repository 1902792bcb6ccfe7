package tenant

import (
	"errors"
	"testing"
)

// FuzzListsLoad: loading any bytes as a tenant's list gives a list or an
// error wrapping ErrCorrupt, never a panic.
func FuzzListsLoad(f *testing.F) {
	l := NewLists()
	if err := l.Create(1); err != nil {
		f.Fatal(err)
	}
	if _, err := l.Add(1, 3, 5, 1<<40); err != nil {
		f.Fatal(err)
	}
	good, err := l.Marshal(1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := NewLists().Load(2, b); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Load error %v does not wrap ErrCorrupt", err)
		}
	})
}
