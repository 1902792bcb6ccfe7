//go:build unix

package rabitq

import (
	"fmt"
	"testing"
	"unsafe"

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

// TestKernelsReadNothingPastTheEnd runs every kernel on code and query
// planes that end at a guard page.
func TestKernelsReadNothingPastTheEnd(t *testing.T) {
	for _, k := range kernels {
		for _, words := range []int{1, 2, 3, 4, 5, 8, 13, 24} {
			for _, nbits := range []int{1, 4} {
				bq := 4
				name := fmt.Sprintf("%s/words=%d/B=%d", k.name, words, nbits)
				r := newRand(name)
				src, srcQ := randomPlanes(r, nbits, words, bq)
				planes := guardedTail(t, len(src))
				copy(planes, src)
				qb := guardedTail(t, 8*len(srcQ))
				qp := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(qb))), len(srcQ))
				copy(qp, srcQ)
				gi, gp := k.fn(planes, nbits, words, qp, bq)
				ri, rp := dotCodeRef(planes, nbits, words, qbarOf(qp, words, bq))
				if gi != ri || gp != rp {
					t.Errorf("%s: sums (%d, %d), reference (%d, %d)", name, gi, gp, ri, rp)
				}
			}
		}
	}
}
