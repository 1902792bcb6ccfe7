// Package vec defines the element types and distance metrics Shoal stores
// vectors in, and the CPU kernels that compute distances between them.
//
// # Kernels
//
// Every kernel exists in three forms, following RoaringBitmap/roaring and
// weaviate's distancer package:
//
//   - a naive pure-Go reference (distance_ref.go), always compiled, which
//     the tests hold the other forms to and the benchmarks measure against;
//   - a generic, 4-way unrolled Go loop (distance_generic.go), always
//     compiled, used where no assembly applies;
//   - hand-written AVX2+FMA assembly (*_amd64.s), chosen once at init()
//     when golang.org/x/sys/cpu reports both features; the float16
//     kernels also need F16C, and fall back to the generic loops alone
//     where it is missing.
//
// Building with -tags noasm leaves the assembly out so that the generic
// loops run everywhere; [Impl] reports which form was chosen.
//
// # Exactness
//
// The uint8 and int8 kernels are exact for every length: both the assembly
// and the generic loops sum blocks of at most 65536 elements in 32-bit lanes,
// which provably cannot overflow, add the block totals in 64 bits, and round
// to float32 once at the end, so every implementation returns the same bits.
// The float32 kernels sum in a different order from the reference and agree
// with it to within float32 rounding. The float16 kernels take a float32
// query and a stored vector of binary16 bit patterns; every half widens to
// float32 exactly, so they are the float32 kernels on the widened vector
// and agree with the reference in the same way. The loss of float16 is all
// in narrowing at ingest (Float16bits), never in the kernels.
//
// # Thread-safety
//
// All functions are safe for concurrent use; none keeps state between calls,
// and none allocates.
package vec
