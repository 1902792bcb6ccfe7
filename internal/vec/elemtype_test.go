package vec

import (
	"errors"
	"testing"
)

func TestElemTypeProperties(t *testing.T) {
	for _, c := range []struct {
		e     ElemType
		name  string
		size  int
		valid bool
	}{
		{Float32, "float32", 4, true},
		{Uint8, "uint8", 1, true},
		{Int8, "int8", 1, true},
		{Float16, "float16", 2, true},
		{0, "ElemType(0)", 0, false},
		{5, "ElemType(5)", 0, false},
	} {
		if got := c.e.String(); got != c.name {
			t.Errorf("ElemType(%d).String() = %q, want %q", uint8(c.e), got, c.name)
		}
		if got := c.e.Size(); got != c.size {
			t.Errorf("%v.Size() = %d, want %d", c.e, got, c.size)
		}
		if got := c.e.Valid(); got != c.valid {
			t.Errorf("%v.Valid() = %v, want %v", c.e, got, c.valid)
		}
	}
}

func TestParseElemType(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ElemType
	}{
		{"float32", Float32}, {"f32", Float32}, {"FLOAT32", Float32},
		{"uint8", Uint8}, {"u8", Uint8},
		{"int8", Int8}, {"I8", Int8},
		{"float16", Float16}, {"f16", Float16}, {"F16", Float16},
	} {
		got, err := ParseElemType(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseElemType(%q) = %v, %v; want %v, nil", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "float64", "ElemType(1)", " float32", "half", "fp16"} {
		if got, err := ParseElemType(in); !errors.Is(err, ErrUnknownElemType) {
			t.Errorf("ParseElemType(%q) = %v, %v; want an ErrUnknownElemType", in, got, err)
		}
	}
}

func TestElemTypeStringRoundTrips(t *testing.T) {
	for _, e := range []ElemType{Float32, Uint8, Int8, Float16} {
		if got, err := ParseElemType(e.String()); err != nil || got != e {
			t.Errorf("ParseElemType(%q) = %v, %v; want %v", e.String(), got, err, e)
		}
	}
}
