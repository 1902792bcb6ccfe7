package vec

import (
	"errors"
	"testing"
)

func TestMetricProperties(t *testing.T) {
	for _, c := range []struct {
		m     Metric
		name  string
		valid bool
	}{
		{L2, "l2", true},
		{InnerProduct, "ip", true},
		{Cosine, "cosine", true},
		{0, "Metric(0)", false},
		{9, "Metric(9)", false},
	} {
		if got := c.m.String(); got != c.name {
			t.Errorf("Metric(%d).String() = %q, want %q", uint8(c.m), got, c.name)
		}
		if got := c.m.Valid(); got != c.valid {
			t.Errorf("%v.Valid() = %v, want %v", c.m, got, c.valid)
		}
	}
}

func TestParseMetric(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Metric
	}{
		{"l2", L2}, {"euclidean", L2}, {"L2", L2},
		{"ip", InnerProduct}, {"dot", InnerProduct}, {"inner_product", InnerProduct},
		{"cosine", Cosine}, {"angular", Cosine}, {"Cosine", Cosine},
	} {
		got, err := ParseMetric(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseMetric(%q) = %v, %v; want %v, nil", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "l1", "hamming", "inner-product"} {
		if got, err := ParseMetric(in); !errors.Is(err, ErrUnknownMetric) {
			t.Errorf("ParseMetric(%q) = %v, %v; want an ErrUnknownMetric", in, got, err)
		}
	}
}

func TestMetricStringRoundTrips(t *testing.T) {
	for _, m := range []Metric{L2, InnerProduct, Cosine} {
		if got, err := ParseMetric(m.String()); err != nil || got != m {
			t.Errorf("ParseMetric(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
}
