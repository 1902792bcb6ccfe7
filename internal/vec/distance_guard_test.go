//go:build unix

package vec

import (
	"fmt"
	"math"
	"testing"

	"golang.org/x/sys/unix"
)

// guardedTail returns a slice of n bytes that ends where an inaccessible
// page begins, so that a kernel reading even one byte past its input
// faults instead of passing by chance. The memory lives until the test
// ends.
func guardedTail(t *testing.T, n int) []byte {
	t.Helper()
	page := unix.Getpagesize()
	data := (n + page - 1) / page * page
	m, err := unix.Mmap(-1, 0, data+page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	if err := unix.Mprotect(m[data:], unix.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	return m[data-n : data : data]
}

// TestF16KernelsReadNothingPastTheEnd runs the float16 kernels on inputs
// that end at a guard page. The tails are where a kernel is tempted to
// load a whole vector's width.
func TestF16KernelsReadNothingPastTheEnd(t *testing.T) {
	for _, k := range implsUnderTest(t) {
		if k.l2SquaredF16 == nil {
			continue
		}
		for _, n := range f16Lengths() {
			name := fmt.Sprintf("%s/n=%d", k.name, n)
			r := newRand(name)
			q := BytesToF32(guardedTail(t, 4*n))
			v := BytesToF16(guardedTail(t, 2*n))
			copy(q, randF32(r, n))
			copy(v, randF16(r, n))
			wide := widenF16(v)
			if got, want := k.l2SquaredF16(q, v), l2SquaredF16Ref(q, v); math.Abs(float64(got)-float64(want)) > f32Tolerance(q, wide, true) {
				t.Errorf("%s L2SquaredF16 = %v, want %v", name, got, want)
			}
			if got, want := k.dotF16(q, v), dotF16Ref(q, v); math.Abs(float64(got)-float64(want)) > f32Tolerance(q, wide, false) {
				t.Errorf("%s DotF16 = %v, want %v", name, got, want)
			}
		}
	}
}
