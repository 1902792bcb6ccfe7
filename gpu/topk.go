package gpu

import "github.com/shoaldb/shoal/internal/topk"

// bounded keeps the limit nearest candidates, ranked by distance and then
// by id compared unsigned (int32 ids held as uint32), so that the -1 of
// an empty slot sorts last, as the CUDA kernels do.
type bounded = topk.Heap[float32, uint32]

// drain empties h into ids and dists, nearest first, padding with -1/+Inf
// up to len(ids).
func drain(h *bounded, ids []int32, dists []float32) {
	kept := h.Drain()
	for i, it := range kept {
		ids[i], dists[i] = int32(it.ID), it.Dist
	}
	for i := len(kept); i < len(ids); i++ {
		ids[i], dists[i] = -1, inf
	}
}
