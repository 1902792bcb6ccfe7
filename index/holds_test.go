package index

import (
	"testing"
	"time"
)

func TestHoldHistQuantile(t *testing.T) {
	var h holdHist
	if got := h.quantile(0.99); got != 0 {
		t.Fatalf("empty quantile = %v, want 0", got)
	}
	for range 98 {
		h.add(3 * time.Microsecond) // bucket [2, 4) µs
	}
	h.add(100 * time.Microsecond) // bucket [64, 128) µs
	h.add(5 * time.Millisecond)
	if got := h.quantile(0.5); got != 4*time.Microsecond {
		t.Errorf("p50 = %v, want 4µs (the bound of 3µs's bucket)", got)
	}
	if got := h.quantile(0.99); got != 128*time.Microsecond {
		t.Errorf("p99 = %v, want 128µs", got)
	}
	if got := h.quantile(1); got != 5*time.Millisecond {
		t.Errorf("p100 = %v, want the longest hold, 5ms", got)
	}
}
