//go:build linux

package directio

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux native AIO (io_setup/io_submit/io_getevents), the interface SPTAG
// reads its postings with. Submitting all of a query's posting reads in one
// io_submit and reaping them together costs a fraction of the CPU of one
// blocking pread per posting: on the development VM, 16 KiB O_DIRECT reads
// cost ~57 µs of CPU each with pread and ~11 µs with batched AIO (fio,
// docs/BENCHMARKS.md), because the blocking reads pay a context switch each.

// iocb mirrors struct iocb of <linux/aio_abi.h> (little-endian layout).
type iocb struct {
	data      uint64
	key       uint32
	rwFlags   int32
	opcode    uint16
	reqprio   int16
	fildes    uint32
	buf       uint64
	nbytes    uint64
	offset    int64
	reserved2 uint64
	flags     uint32
	resfd     uint32
}

// ioEvent mirrors struct io_event.
type ioEvent struct {
	data uint64
	obj  uint64
	res  int64
	res2 int64
}

const iocbCmdPread = 0

// Batch submits positioned reads together and reaps their completions.
// The buffers of pending reads must stay alive and untouched until their
// completion is returned (Go's heap does not move objects). A Batch is
// not safe for concurrent use; keep one per goroutine.
type Batch struct {
	ctx    uintptr
	max    int
	iocbs  []iocb
	ptrs   []*iocb
	events []ioEvent
	done   []Completion
	n      int // reads queued, not yet submitted
	inv    int // reads submitted, not yet reaped
	stats  *Stats
}

// Completion is a finished read: the tag given to Add and the bytes read
// (or the error).
type Completion struct {
	Tag uint64
	N   int
	Err error
}

// ErrBatchFull is returned by Add when max reads are queued or in flight.
var ErrBatchFull = errors.New("directio: batch full")

// NewBatch returns a Batch for up to max reads in flight. It fails if the
// kernel has no AIO (then use preads).
func NewBatch(max int, stats *Stats) (*Batch, error) {
	var ctx uintptr
	if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, uintptr(max), uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		return nil, fmt.Errorf("directio: io_setup(%d): %w", max, e)
	}
	b := &Batch{ctx: ctx, max: max, iocbs: make([]iocb, max), ptrs: make([]*iocb, max), events: make([]ioEvent, max), stats: stats}
	if b.stats == nil {
		b.stats = new(Stats)
	}
	return b, nil
}

// Add queues a read of len(buf) bytes at off from fd. For O_DIRECT files,
// buf, len(buf) and off must be aligned.
func (b *Batch) Add(fd int, buf []byte, off int64, tag uint64) error {
	if b.n+b.inv >= b.max {
		return ErrBatchFull
	}
	cb := &b.iocbs[b.n]
	*cb = iocb{data: tag, opcode: iocbCmdPread, fildes: uint32(fd), buf: uint64(uintptr(unsafe.Pointer(&buf[0]))), nbytes: uint64(len(buf)), offset: off}
	b.ptrs[b.n] = cb
	b.n++
	return nil
}

// Submit sends every queued read to the kernel with one io_submit.
func (b *Batch) Submit() error {
	for b.n > 0 {
		r, _, e := unix.Syscall(unix.SYS_IO_SUBMIT, b.ctx, uintptr(b.n), uintptr(unsafe.Pointer(&b.ptrs[0])))
		if e == unix.EINTR || e == unix.EAGAIN {
			continue
		}
		if e != 0 {
			return fmt.Errorf("directio: io_submit: %w", e)
		}
		k := int(r)
		b.inv += k
		copy(b.ptrs, b.ptrs[k:b.n])
		// The kernel copied the submitted iocbs; shift the rest down.
		copy(b.iocbs, b.iocbs[k:b.n])
		b.n -= k
		for i := 0; i < b.n; i++ {
			b.ptrs[i] = &b.iocbs[i]
		}
	}
	return nil
}

// Pending returns the number of submitted reads not yet reaped.
func (b *Batch) Pending() int { return b.inv }

// Wait blocks until at least atLeast submitted reads (at most all pending)
// have completed and returns the completions. The slice is reused by the
// next call.
func (b *Batch) Wait(atLeast int) ([]Completion, error) {
	b.done = b.done[:0]
	if b.inv == 0 {
		return b.done, nil
	}
	atLeast = max(1, min(atLeast, b.inv))
	for {
		r, _, e := unix.Syscall6(unix.SYS_IO_GETEVENTS, b.ctx, uintptr(atLeast), uintptr(b.inv), uintptr(unsafe.Pointer(&b.events[0])), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return nil, fmt.Errorf("directio: io_getevents: %w", e)
		}
		for _, ev := range b.events[:int(r)] {
			c := Completion{Tag: ev.data}
			if ev.res < 0 {
				c.Err = fmt.Errorf("directio: aio read: %w", unix.Errno(-ev.res))
			} else {
				c.N = int(ev.res)
				b.stats.readOps.Add(1)
				b.stats.readBytes.Add(ev.res)
			}
			b.done = append(b.done, c)
		}
		b.inv -= int(r)
		return b.done, nil
	}
}

// Close reaps outstanding reads and releases the AIO context.
func (b *Batch) Close() error {
	for b.inv > 0 {
		if _, err := b.Wait(b.inv); err != nil {
			break
		}
	}
	_, _, e := unix.Syscall(unix.SYS_IO_DESTROY, b.ctx, 0, 0)
	if e != 0 {
		return fmt.Errorf("directio: io_destroy: %w", e)
	}
	return nil
}
