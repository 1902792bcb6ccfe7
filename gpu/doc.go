// Package gpu runs Shoal's batched distance kernels on a CUDA GPU, with
// the CPU (internal/vec's SIMD kernels) as reference and fallback.
//
// A Backend offers what the offline build and batch search need:
//
//   - Distances: all distances between two sets of rows;
//   - TopK: the fused distance + top-k of a flat search;
//   - LoadPoints → Points: the assignment and update steps of many
//     balanced k-means problems at once (one per node of a clustering-tree
//     level; package cluster's Accelerator);
//   - LoadTree → TreeIndex: the beam search down the clustering tree for
//     many vectors at once (the nearest heads of SPANN's closure
//     assignment, and query routing).
//
// # Backends
//
// Open picks one by Mode (Off, Auto, On). The CUDA backend loads
// libcuda.so.1 with dlopen at run time, so a binary builds without the
// CUDA toolkit and starts on machines without a GPU; its kernels
// (kernels.cu) are embedded as PTX that the driver compiles for the GPU it
// finds, and cuBLAS, when it can be loaded, computes the dot products of
// TopK's distance tiles. Device memory is pooled; inputs are copied through
// pinned buffers on several streams so that copies overlap kernels; flat
// inputs larger than the device are streamed in tiles. A binary built
// without cgo has only the CPU backend (CPU).
//
// The two backends agree to within float32 rounding (see Backend), and
// Points.Sums agrees bit for bit. The tests compare each backend with
// float64 references and the CUDA backend with the CPU one; on a machine
// without a usable GPU the CUDA tests skip. README.md ("GPU tests") and
// docs/gpu.md say how to run them on a GPU machine, and what was measured.
package gpu
