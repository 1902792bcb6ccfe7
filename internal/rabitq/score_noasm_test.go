//go:build noasm || !amd64

package rabitq

import "testing"

func TestNoasmUsesGenericKernel(t *testing.T) {
	if got := Impl(); got != "generic" {
		t.Errorf("Impl() = %q without assembly, want \"generic\"", got)
	}
}
