// Package topk keeps the k best of a stream of scored candidates: the
// bounded heap behind every "k nearest" in Shoal (query routing in
// cluster, the CPU top-k and tree search in gpu, result scoring in index).
//
// A candidate is an Item: a distance and an integer ID. Items rank by
// distance and then by ID, a total order, so the k kept are the k smallest
// under it whatever the push order, and ties come out the same way on
// every run.
//
// # Design
//
// The order is fixed rather than supplied by the caller: both fields are
// type parameters constrained to basic ordered types, so each
// instantiation compares with plain < and == on registers and performs
// like a hand-written heap of that type. A comparator reached through a
// method of a type parameter or a function value is an indirect call per
// comparison that the compiler does not inline: measured on a stream that
// sifts on every push (BenchmarkPushDescending's), those forms took 1.6x
// the CPU time of this one, and container/heap 1.9x. Callers that need
// another tie-break map their IDs onto an integer type that orders as
// they want.
//
// Admits inlines, Push does not: a hot loop in which most candidates miss
// tests Admits first (BenchmarkPushAdmits).
package topk
