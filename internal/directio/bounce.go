package directio

import (
	"fmt"
	"math/bits"
	"sync"
	"unsafe"
)

// Bounce buffers: direct reads need a buffer whose address, length and file
// offset are multiples of the device's alignment, and Pebble's buffers are
// none of these. A read therefore goes through a bounce buffer from a pool
// of power-of-two size classes, 4 KiB to 64 MiB, all aligned to poolAlign;
// the pools hold *bounce so that Get and Put do not allocate.
//
// The buffers are ordinary Go memory, over-allocated by the alignment and
// sliced at the first aligned address (Go's heap does not move objects).
// Memory from unix.Mmap would be page-aligned for free, but sync.Pool drops
// its entries silently at GC and would leak the mappings.

const (
	poolAlign     = 4096
	minClassShift = 12 // 4 KiB
	maxClassShift = 26 // 64 MiB
)

type bounce struct {
	b     []byte // aligned; len is the class size
	class int    // index into bouncePools, or -1 when not pooled
}

var bouncePools [maxClassShift - minClassShift + 1]sync.Pool

// getBounce returns a buffer of at least size bytes aligned to align. size
// must be at most 1<<maxClassShift; align must be a power of two.
func getBounce(size, align int) *bounce {
	if align > poolAlign {
		// A device with sectors above 4 KiB: rare enough not to pool.
		return &bounce{b: alignedAlloc(size, align), class: -1}
	}
	shift := max(bits.Len(uint(size-1)), minClassShift)
	if shift > maxClassShift {
		panic(fmt.Sprintf("directio: bounce buffer of %d bytes exceeds the largest class", size))
	}
	class := shift - minClassShift
	if v := bouncePools[class].Get(); v != nil {
		return v.(*bounce)
	}
	return &bounce{b: alignedAlloc(1<<shift, poolAlign), class: class}
}

func putBounce(b *bounce) {
	if b.class >= 0 {
		bouncePools[b.class].Put(b)
	}
}

// alignedAlloc returns size bytes whose first byte's address is a multiple
// of align (a power of two).
func alignedAlloc(size, align int) []byte {
	buf := make([]byte, size+align)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(buf))) & uintptr(align-1))
	return buf[off : off+size : off+size]
}

// isAligned reports whether b's address is a multiple of align.
func isAligned(b []byte, align int) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))&uintptr(align-1) == 0
}

// Pooled is an aligned buffer from the same size-class pools, for callers
// that issue their own direct reads (batched AIO). Release returns it;
// its bytes must not be used after that.
type Pooled struct{ bn *bounce }

// GetPooled returns a buffer of at least size bytes aligned to align (a
// power of two). Sizes above the largest class are allocated unpooled.
func GetPooled(size, align int) Pooled {
	if size > 1<<maxClassShift {
		return Pooled{&bounce{b: alignedAlloc(size, align), class: -1}}
	}
	return Pooled{getBounce(size, align)}
}

// Bytes returns the first n bytes of the buffer (n at most the size asked
// for).
func (p Pooled) Bytes(n int) []byte { return p.bn.b[:n] }

// Release returns the buffer to its pool.
func (p Pooled) Release() { putBounce(p.bn) }
