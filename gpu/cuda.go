//go:build linux && cgo

package gpu

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "cuda_driver.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// cudaBackend runs the kernels of kernels.cu on one CUDA device through
// the driver API, loaded at run time (cuda_driver.c).
//
// Concurrency: the backend is safe for concurrent use. Device work runs
// on a small set of streams (slots), each with its own pinned staging
// buffers; a call takes the slots it needs for its duration, so calls from
// different goroutines overlap on the device (one's copies with another's
// kernels) while each call's own work stays ordered. Device memory comes
// from a pool shared by all calls. Every cgo sequence runs on a locked OS
// thread with the backend's (primary) context current.
type cudaBackend struct {
	info   Info
	dev    C.CUdevice
	ctx    C.CUcontext
	mod    C.CUmodule
	fn     kernelSet
	smemOK int   // the most dynamic shared memory a block may opt in to
	budget int64 // device bytes the backend plans its tiles within
	pool   devPool
	slots  chan *slot
	blas   unsafe.Pointer // cuBLAS handle, nil without cuBLAS
	blasMu sync.Mutex     // cuBLAS handles are not safe for concurrent use
	cpu    *cpuBackend    // for shapes the kernels do not take

	// life is held shared by every call for its duration and exclusively
	// by Close, which so waits for the calls in flight; closed is set
	// under it.
	life   sync.RWMutex
	closed bool
}

var _ Backend = (*cudaBackend)(nil)

// kernelSet holds the module's kernels.
type kernelSet struct {
	rowNorms, fillBest, distGEMM, topkMerge, kmeansAssign, kmeansSums, kmeansSumsWide, treeSearch C.CUfunction
	// the level-resident k-means (cuda_level.go)
	lvSegfill, lvSeed, lvAssign, lvUpdate, lvReduce, lvFinish C.CUfunction
}

// numSlots is the number of streams a backend keeps.
const numSlots = 4

// driver is the process-wide state of the dlopen'd driver.
var driver struct {
	once sync.Once
	err  error
}

func loadDriver() error {
	driver.once.Do(func() {
		buf := make([]byte, 512)
		if C.sc_open((*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))) != 0 {
			driver.err = fmt.Errorf("%w: %s", ErrNoDevice, cstr(buf)) // dlerror names libcuda.so.1
			return
		}
		if r := C.sc_init(); r != 0 {
			driver.err = fmt.Errorf("%w: cuInit: %s", ErrNoDevice, cuMessage(r))
		}
	})
	return driver.err
}

func cstr(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

func cuMessage(r C.CUresult) string {
	return fmt.Sprintf("%s (%s)", C.GoString(C.sc_error_name(r)), C.GoString(C.sc_error_string(r)))
}

// cuErr turns a driver result into an error naming the operation.
func cuErr(r C.CUresult, what string) error {
	if r == 0 {
		return nil
	}
	if r == C.SC_ERROR_OUT_OF_MEMORY {
		return fmt.Errorf("%w: %s: %s", ErrOutOfMemory, what, cuMessage(r))
	}
	return fmt.Errorf("gpu: %s: %s", what, cuMessage(r))
}

// ptxEnv names a PTX file that replaces the embedded kernels (for
// developing kernels on a machine with nvcc but no Go).
const ptxEnv = "SHOAL_GPU_PTX"

func openCUDA(o *Options) (Backend, error) {
	if err := loadDriver(); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var count C.int
	if r := C.sc_device_count(&count); r != 0 {
		return nil, fmt.Errorf("%w: cuDeviceGetCount: %s", ErrNoDevice, cuMessage(r))
	}
	if count == 0 {
		return nil, fmt.Errorf("%w: the driver sees no CUDA device", ErrNoDevice)
	}
	if o.Device < 0 || o.Device >= int(count) {
		return nil, fmt.Errorf("%w: device %d, the driver sees %d", ErrNoDevice, o.Device, count)
	}
	b := &cudaBackend{cpu: newCPU("fallback")}
	// Out-parameters are locals: cgo forbids passing the address of a
	// field of a struct that holds Go pointers.
	var dev C.CUdevice
	if r := C.sc_device_get(&dev, C.int(o.Device)); r != 0 {
		return nil, fmt.Errorf("%w: cuDeviceGet: %s", ErrNoDevice, cuMessage(r))
	}
	b.dev = dev
	var ctx C.CUcontext
	if r := C.sc_primary_ctx_retain(&ctx, b.dev); r != 0 {
		return nil, fmt.Errorf("%w: cuDevicePrimaryCtxRetain: %s", ErrNoDevice, cuMessage(r))
	}
	b.ctx = ctx
	ok := false
	defer func() {
		if !ok {
			b.release()
		}
	}()
	if r := C.sc_ctx_set_current(b.ctx); r != 0 {
		return nil, fmt.Errorf("%w: cuCtxSetCurrent: %s", ErrNoDevice, cuMessage(r))
	}
	name := make([]byte, 256)
	C.sc_device_name((*C.char)(unsafe.Pointer(&name[0])), C.int(len(name)), b.dev)
	attr := func(a C.int) int {
		var v C.int
		C.sc_device_attr(&v, a, b.dev)
		return int(v)
	}
	major, minor, sms := attr(C.SC_ATTR_CC_MAJOR), attr(C.SC_ATTR_CC_MINOR), attr(C.SC_ATTR_MULTIPROCESSOR_COUNT)
	b.smemOK = attr(C.SC_ATTR_SMEM_OPTIN)
	var drv C.int
	C.sc_driver_version(&drv)
	if err := b.loadModule(); err != nil {
		return nil, err
	}
	var free, total C.size_t
	if r := C.sc_mem_get_info(&free, &total); r != 0 {
		return nil, cuErr(r, "cuMemGetInfo")
	}
	b.budget = int64(float64(free) * o.MemoryFraction)
	b.pool.limit = b.budget
	b.slots = make(chan *slot, numSlots)
	for i := 0; i < numSlots; i++ {
		var st C.CUstream
		if r := C.sc_stream_create(&st); r != 0 {
			return nil, cuErr(r, "cuStreamCreate")
		}
		b.slots <- &slot{b: b, stream: st}
	}
	blas := "no cuBLAS"
	if o.NoCuBLAS {
		blas = "cuBLAS off"
	} else if v, err := b.openCuBLAS(); err != nil {
		blas = "no cuBLAS: " + err.Error()
	} else {
		blas = fmt.Sprintf("cuBLAS %d", v)
	}
	b.info = Info{
		Kind: KindCUDA,
		Name: fmt.Sprintf("cuda: %s (sm_%d%d, %d SMs, %.1f GiB free of %.1f, driver %d.%d, %s)",
			cstr(name), major, minor, sms, float64(free)/(1<<30), float64(total)/(1<<30), drv/1000, drv%1000/10, blas),
	}
	ok = true
	return b, nil
}

// loadModule JIT-compiles the embedded PTX (or $SHOAL_GPU_PTX) and finds
// the kernels.
func (b *cudaBackend) loadModule() error {
	src := kernelsPTX
	if p := os.Getenv(ptxEnv); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("gpu: %s: %w", ptxEnv, err)
		}
		src = string(data)
	}
	image := C.CString(src)
	defer C.free(unsafe.Pointer(image))
	log := make([]byte, 8192)
	var mod C.CUmodule
	r := C.sc_module_load(&mod, unsafe.Pointer(image), (*C.char)(unsafe.Pointer(&log[0])), C.int(len(log)))
	if r != 0 {
		return fmt.Errorf("%w: loading the kernels (PTX JIT; a driver older than the PTX needs?): %s: %s", ErrNoDevice, cuMessage(r), cstr(log))
	}
	b.mod = mod
	for _, k := range []struct {
		name string
		fn   *C.CUfunction
	}{
		{"row_norms", &b.fn.rowNorms},
		{"fill_best", &b.fn.fillBest},
		{"dist_gemm", &b.fn.distGEMM},
		{"topk_merge", &b.fn.topkMerge},
		{"kmeans_assign", &b.fn.kmeansAssign},
		{"kmeans_sums", &b.fn.kmeansSums},
		{"kmeans_sums_wide", &b.fn.kmeansSumsWide},
		{"tree_search", &b.fn.treeSearch},
		{"lv_segfill", &b.fn.lvSegfill},
		{"lv_seed", &b.fn.lvSeed},
		{"lv_assign", &b.fn.lvAssign},
		{"lv_update", &b.fn.lvUpdate},
		{"lv_reduce", &b.fn.lvReduce},
		{"lv_finish", &b.fn.lvFinish},
	} {
		cname := C.CString(k.name)
		var f C.CUfunction
		r := C.sc_module_function(&f, b.mod, cname)
		C.free(unsafe.Pointer(cname))
		if r != 0 {
			return fmt.Errorf("%w: kernel %s: %s", ErrNoDevice, k.name, cuMessage(r))
		}
		*k.fn = f
	}
	return nil
}

// cublasNames are the cuBLAS libraries tried, newest first; SHOAL_CUBLAS
// names another.
var cublasNames = []string{
	"libcublas.so.13", "libcublas.so.12", "libcublas.so",
	"/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12",
}

func (b *cudaBackend) openCuBLAS() (int, error) {
	names := cublasNames
	if p := os.Getenv("SHOAL_CUBLAS"); p != "" {
		names = []string{p}
	}
	list := C.CString(strings.Join(names, "\x00") + "\x00")
	defer C.free(unsafe.Pointer(list))
	buf := make([]byte, 512)
	if C.sc_cublas_open(list, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))) != 0 {
		return 0, errors.New(cstr(buf))
	}
	var h unsafe.Pointer
	if st := C.sc_cublas_create(&h); st != 0 {
		return 0, fmt.Errorf("cublasCreate: status %d", st)
	}
	var v C.int
	C.sc_cublas_version(h, &v)
	b.blas = h
	return int(v), nil
}

func (b *cudaBackend) Info() Info { return b.info }

// enter makes the backend's context current on a locked OS thread and
// marks the call in flight; the returned function undoes both. Calls must
// not nest.
func (b *cudaBackend) enter() (func(), error) {
	b.life.RLock()
	if b.closed {
		b.life.RUnlock()
		return nil, ErrClosed
	}
	runtime.LockOSThread()
	if r := C.sc_ctx_set_current(b.ctx); r != 0 {
		runtime.UnlockOSThread()
		b.life.RUnlock()
		return nil, cuErr(r, "cuCtxSetCurrent")
	}
	return func() {
		runtime.UnlockOSThread()
		b.life.RUnlock()
	}, nil
}

// enterSlot is enter followed by taking one stream slot: the prologue of
// most calls. The returned function gives the slot back and leaves.
func (b *cudaBackend) enterSlot() (*slot, func(), error) {
	leave, err := b.enter()
	if err != nil {
		return nil, nil, err
	}
	sl := b.takeSlots(1)[0]
	return sl, func() {
		b.giveSlots([]*slot{sl})
		leave()
	}, nil
}

// multiSlot serialises the calls that take more than one slot, so that
// two such calls never each hold half of what they need.
var multiSlot sync.Mutex

// takeSlots takes n stream slots (n <= numSlots), waiting for them.
func (b *cudaBackend) takeSlots(n int) []*slot {
	if n > 1 {
		multiSlot.Lock()
		defer multiSlot.Unlock()
	}
	out := make([]*slot, n)
	for i := range out {
		out[i] = <-b.slots
	}
	return out
}

func (b *cudaBackend) giveSlots(ss []*slot) {
	for _, s := range ss {
		b.slots <- s
	}
}

// Close frees every device and pinned buffer and releases the context. It
// waits for calls in flight.
func (b *cudaBackend) Close() error {
	b.life.Lock()
	defer b.life.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.sc_ctx_set_current(b.ctx)
	b.release()
	return nil
}

// release frees what openCUDA acquired; the context must be current.
func (b *cudaBackend) release() {
	if b.slots != nil {
		close(b.slots)
		for s := range b.slots {
			s.free()
			C.sc_stream_destroy(s.stream)
		}
	}
	b.pool.drain()
	if b.blas != nil {
		C.sc_cublas_destroy(b.blas)
		b.blas = nil
	}
	if b.mod != nil {
		C.sc_module_unload(b.mod)
		b.mod = nil
	}
	C.sc_primary_ctx_release(b.dev)
}

// ld returns the padded row stride (floats) for rows of dim floats: a
// multiple of 8, as the kernels require.
func ldFor(dim int) int { return (dim + 7) &^ 7 }

// pow2 returns the smallest power of two >= x (and >= 2).
func pow2(x int) int {
	p := 2
	for p < x {
		p <<= 1
	}
	return p
}
