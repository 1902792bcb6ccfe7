package vec

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCheckFinite(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	for _, c := range []struct {
		name    string
		in      []float32
		wantIdx string // "" means the vector is accepted
	}{
		{"empty", nil, ""},
		{"ordinary", []float32{0, -1, 1e-45, math.MaxFloat32, -math.MaxFloat32}, ""},
		{"nan", []float32{1, 2, nan}, "element 2 "},
		{"+inf", []float32{inf}, "element 0 "},
		{"-inf", []float32{1, -inf, nan}, "element 1 "},
	} {
		err := CheckFinite(c.in)
		if c.wantIdx == "" {
			if err != nil {
				t.Errorf("%s: CheckFinite(%v) = %v, want nil", c.name, c.in, err)
			}
			continue
		}
		if !errors.Is(err, ErrNotFinite) {
			t.Errorf("%s: CheckFinite(%v) = %v, want an ErrNotFinite", c.name, c.in, err)
		} else if !strings.Contains(err.Error(), c.wantIdx) {
			t.Errorf("%s: CheckFinite(%v) = %q, want it to name %q", c.name, c.in, err, c.wantIdx)
		}
	}
}
