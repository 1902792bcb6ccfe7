package statemap

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMatchesModel: random sets over dense, growing and sparse ids give
// the states a plain map holds, through Get and Each.
func TestMatchesModel(t *testing.T) {
	m := New()
	model := map[uint64]uint8{}
	m.SetRange(1000, 0x80)
	for id := range uint64(1000) {
		model[id] = 0x80
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var id uint64
		switch rng.IntN(3) {
		case 0:
			id = rng.Uint64N(2000) // dense, or just past the range
		case 1:
			id = rng.Uint64N(200000) // grows the range
		default:
			id = 1<<40 + rng.Uint64N(100) // sparse
		}
		s := uint8(rng.IntN(256))
		m.Set(id, s)
		if s == 0 {
			delete(model, id)
		} else {
			model[id] = s
		}
	}
	for id, s := range model {
		if got := m.Get(id); got != s {
			t.Fatalf("Get(%d) = %#x, want %#x", id, got, s)
		}
	}
	var seen []uint64
	m.Each(func(id uint64, s uint8) {
		if model[id] != s {
			t.Fatalf("Each gave %d = %#x, want %#x", id, s, model[id])
		}
		seen = append(seen, id)
	})
	if len(seen) != len(model) {
		t.Fatalf("Each gave %d ids, want %d", len(seen), len(model))
	}
	slices.Sort(seen)
	if len(slices.Compact(seen)) != len(model) {
		t.Fatal("Each gave an id twice")
	}
	if m.Get(1<<50) != 0 {
		t.Fatal("an id never set has a state")
	}
}
