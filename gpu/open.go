package gpu

import (
	"fmt"
	"os"
	"strings"
)

// Options configure Open. The zero value is Mode Off.
type Options struct {
	// Mode chooses the backend: Off gives the CPU backend without probing
	// for a GPU, Auto the CUDA backend when a device is usable and the CPU
	// backend otherwise, On the CUDA backend or an error.
	Mode Mode
	// Device is the CUDA device ordinal. Default 0.
	Device int
	// MemoryFraction bounds the device memory the backend allocates, as a
	// fraction of the memory free when it opens. Default 0.9.
	MemoryFraction float64
	// NoCuBLAS keeps cuBLAS unloaded even where it is installed: the
	// package's own GEMM kernel then computes every distance tile. The
	// environment variable SHOAL_GPU_CUBLAS=0 does the same.
	NoCuBLAS bool
	// Logf, if set, receives one line saying which backend Open chose and
	// why (Mode Auto and On).
	Logf func(format string, args ...any)
}

// Open returns the backend o.Mode asks for. With Mode Auto it never fails
// for want of a GPU: the CPU backend comes back, and Info().Reason (and
// Logf) says why. With Mode On and no usable device the error wraps
// ErrNoDevice and names the cause (libcuda.so.1 not found, no device, a
// driver too old for the kernels, a build without cgo).
func Open(o *Options) (Backend, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if !opts.Mode.Valid() {
		return nil, fmt.Errorf("%w: mode %d", ErrBadInput, opts.Mode)
	}
	if opts.MemoryFraction <= 0 || opts.MemoryFraction > 1 {
		opts.MemoryFraction = 0.9
	}
	if os.Getenv("SHOAL_GPU_CUBLAS") == "0" {
		opts.NoCuBLAS = true
	}
	logf := func(format string, args ...any) {
		if opts.Logf != nil {
			opts.Logf(format, args...)
		}
	}
	if opts.Mode == Off {
		c := newCPU("gpu mode off")
		return c, nil
	}
	b, err := openCUDA(&opts)
	if err == nil {
		logf("gpu: %s: using %s", opts.Mode, b.Info().Name)
		return b, nil
	}
	if opts.Mode == On {
		return nil, err
	}
	c := newCPU(err.Error())
	// err reads "gpu: no usable CUDA device: …": one "gpu:" prefix.
	logf("gpu: %s; running on the CPU kernels (%s)", strings.TrimPrefix(err.Error(), "gpu: "), c.Info().Name)
	return c, nil
}
