package server

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// TestCallMetricsNoAlloc: counting a call (in flight, then finished) does
// not allocate once its method and code have been seen.
func TestCallMetricsNoAlloc(t *testing.T) {
	s := &Server{started: time.Now()}
	s.initMetrics()
	call := func() {
		g := s.calls.series("/shoal.v1.VectorService/Search").inFlight
		g.Inc()
		g.Dec()
		s.calls.observe("/shoal.v1.VectorService/Search", codes.OK, time.Millisecond)
	}
	call()
	if n := testing.AllocsPerRun(100, call); n != 0 {
		t.Errorf("a call's metrics allocate %v times, want 0", n)
	}
}
