package cluster

// Accelerator runs the two heavy steps of Build's balanced k-means — the
// assignment of points to centroids and the per-cluster sums of the update
// — for many k-means problems at once, over the point set Build clusters.
// Package gpu's Points (from a Backend's LoadPoints) satisfies it with
// CUDA kernels; cluster itself never imports gpu (DESIGN.md: imports
// point down, and gpu sits beside cluster).
//
// With an Accelerator, Build runs level by level instead of node by node
// (buildLevels): every node of a tree level runs its k-means iterations in
// lockstep, one Assign and one Sums call per iteration for the whole
// level, so a GPU sees thousands of small problems in one launch.
//
// Both methods take the problems as segments: segment s covers positions
// pseg[s] .. pseg[s+1]-1 of idx (positions hold row numbers of the data
// given to Build) and centroids cseg[s] .. cseg[s+1]-1 (dim floats each).
// Implementations must compute what the CPU code of this package does:
// Assign picks, per position, the centroid j of its segment minimising
// float64(‖x − c_j‖²) + penalty[j], the first on ties, writing its index
// within the segment to labels and ‖x − c_j‖² to dists; Sums adds, in
// float64 and position order, the rows of each (segment, label) cluster
// into sums[c*dim:(c+1)*dim] and counts them in counts[c], c =
// cseg[s]+label. Given the same labels, the sums are then bit-identical to
// the CPU's, and an Accelerator that computes distances as
// internal/vec does yields the very tree the CPU build yields.
//
// Build calls the methods from one goroutine at a time.
type Accelerator interface {
	// Len and Dim describe the point set the accelerator holds; Build
	// checks them against its data.
	Len() int
	Dim() int
	Assign(idx, pseg []int32, centroids []float32, cseg []int32, penalty []float64, labels []int32, dists []float32) error
	Sums(idx, pseg, labels, cseg []int32, sums []float64, counts []int) error
}
