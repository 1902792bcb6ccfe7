//go:build linux && cgo

package gpu

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// traceOn: SHOAL_GPU_TRACE=1 makes the CUDA backend print, for every
// k-means and tree-search call, how long each phase took (validation and
// host packing, device work including copies, unpacking) to stderr: the
// numbers docs/gpu.md's tuning notes come from.
var traceOn = os.Getenv("SHOAL_GPU_TRACE") != ""

// tracer times the phases of one call; a nil tracer does nothing.
type tracer struct {
	what  string
	last  time.Time
	start time.Time
	parts []string
}

func newTracer(format string, args ...any) *tracer {
	if !traceOn {
		return nil
	}
	now := time.Now()
	return &tracer{what: fmt.Sprintf(format, args...), start: now, last: now}
}

// mark ends a phase.
func (t *tracer) mark(phase string) {
	if t == nil {
		return
	}
	now := time.Now()
	t.parts = append(t.parts, fmt.Sprintf("%s %.2fms", phase, float64(now.Sub(t.last).Microseconds())/1000))
	t.last = now
}

// done prints the call's line.
func (t *tracer) done() {
	if t == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "gpu trace: %s: %.2fms (%s)\n", t.what, float64(time.Since(t.start).Microseconds())/1000, strings.Join(t.parts, ", "))
}
