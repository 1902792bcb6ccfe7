package synth

import (
	"slices"
	"testing"
)

func TestTopKTiesGoToLowerID(t *testing.T) {
	tk := NewTopK(3)
	for _, c := range []Neighbor{{2, 9}, {1, 8}, {2, 3}, {2, 5}, {3, 0}, {1, 7}, {2, 4}} {
		tk.Push(c.Dist, c.ID)
	}
	want := []Neighbor{{1, 7}, {1, 8}, {2, 3}}
	if got := tk.Sorted(); !slices.Equal(got, want) {
		t.Errorf("top 3 = %v, want %v", got, want)
	}
}
