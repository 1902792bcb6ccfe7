//go:build !amd64 || noasm

package vec

// archImplName is what Impl reports when archKernels is in use.
const archImplName = ""

// archKernels returns the assembly kernels to test; this build has none.
func archKernels() []kernels { return nil }
