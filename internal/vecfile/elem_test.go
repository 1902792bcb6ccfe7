package vecfile

import "testing"

func TestElemSizeAndString(t *testing.T) {
	tests := []struct {
		e    Elem
		size int
		name string
	}{
		{Float32, 4, "float32"},
		{Uint8, 1, "uint8"},
		{Int8, 1, "int8"},
		{Int32, 4, "int32"},
		{0, 0, "Elem(0)"},
		{9, 0, "Elem(9)"},
	}
	for _, tt := range tests {
		if got := tt.e.Size(); got != tt.size {
			t.Errorf("%v.Size() = %d, want %d", tt.e, got, tt.size)
		}
		if got := tt.e.String(); got != tt.name {
			t.Errorf("Elem(%d).String() = %q, want %q", uint8(tt.e), got, tt.name)
		}
	}
}
