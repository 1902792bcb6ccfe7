package clikit

import (
	"strings"
	"testing"
)

// TestLogfNoGPU: the GPU backend's fallback to the CPU is said once, as
// a plain statement, however often an index logs it; other lines pass
// through as they are.
func TestLogfNoGPU(t *testing.T) {
	var e strings.Builder
	env := &Env{Stderr: &e}
	for range 3 {
		env.Logf("gpu: %s; running on the CPU kernels (%s)", "no usable CUDA device: libcuda.so.1: cannot open shared object file", "cpu: avx2+fma")
	}
	env.Logf("build: %s took %.2fs", "sample", 0.01)
	if want := "no GPU found: running on the CPU\nbuild: sample took 0.01s\n"; e.String() != want {
		t.Errorf("Logf wrote %q, want %q", e.String(), want)
	}
}
