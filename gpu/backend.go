package gpu

import (
	"errors"

	"github.com/shoaldb/shoal/internal/vec"
)

// Metric is the distance a kernel computes: the index's metrics
// (vec.Metric, re-exported by package index). L2 is the squared Euclidean
// distance, InnerProduct the negated dot product and Cosine 1 − dot, for
// rows the caller has normalised.
type Metric = vec.Metric

// The metrics.
const (
	L2           = vec.L2
	InnerProduct = vec.InnerProduct
	Cosine       = vec.Cosine
)

// Errors. Each is wrapped with context; test with errors.Is.
var (
	// ErrNoDevice: no usable CUDA device (no libcuda.so.1, no GPU, a
	// driver that cannot run the kernels, or a binary built without cgo).
	ErrNoDevice = errors.New("gpu: no usable CUDA device")
	// ErrOutOfMemory: the device has too little free memory for an input
	// that must stay resident (Backend.LoadPoints, Backend.LoadTree).
	ErrOutOfMemory = errors.New("gpu: out of device memory")
	// ErrBadInput: slice lengths or parameters that do not fit together.
	ErrBadInput = errors.New("gpu: bad input")
	// ErrClosed: a call on a closed backend, point set or tree.
	ErrClosed = errors.New("gpu: closed")
)

// Backend runs the batched distance kernels of the build and of batch
// search. All matrices are row-major float32, dim floats per row; ids are
// row numbers.
//
// Results are deterministic for a given backend and input. The CUDA and
// CPU backends agree to within float32 rounding: distances differ by a few
// units in the last place of the operands' squared norms (the CUDA
// Distances and TopK use the GEMM form ‖x‖² − 2x·y + ‖y‖²), so rankings
// agree except between candidates that close.
//
// A Backend is safe for concurrent use; the CUDA backend serialises the
// device work of concurrent Distances and TopK calls, and runs concurrent
// TreeIndex searches on separate streams.
type Backend interface {
	// Info describes the backend: its kind, device and why it was chosen.
	Info() Info

	// Distances sets out[i*m+j] to the distance between row i of x and
	// row j of y, for the n = len(x)/dim rows of x and m = len(y)/dim of y.
	// len(out) must be n*m.
	Distances(metric Metric, x, y []float32, dim int, out []float32) error

	// TopK finds, for each row i of x, the k rows of y nearest to it:
	// ids[i*k+r] and dists[i*k+r] for r = 0..k-1, nearest first (ties by
	// lower id). Where y has fewer than k rows the rest are id -1, distance
	// +Inf. This is the fused distance + top-k of a flat (brute-force)
	// search; inputs larger than device memory are streamed in batches.
	TopK(metric Metric, x, y []float32, dim, k int, ids []int32, dists []float32) error

	// LoadPoints makes data (n = len(data)/dim rows) resident for k-means
	// (Points). data may be modified or reused once it returns.
	LoadPoints(data []float32, dim int) (Points, error)

	// LoadTree makes a clustering tree resident for batched nearest-leaf
	// search (TreeIndex). t may be modified or reused once it returns.
	LoadTree(t *Tree) (TreeIndex, error)

	// Close releases the backend's resources; Points and TreeIndexes
	// loaded from it must be closed first.
	Close() error
}

// Points is a point set held by a backend for many k-means problems at
// once (one per node of a clustering-tree level), as package cluster's
// Accelerator; it satisfies that interface.
//
// Both steps take the problems as segments: segment s covers positions
// pseg[s] .. pseg[s+1]-1 of idx (positions hold row numbers of the loaded
// data) and centroids cseg[s] .. cseg[s+1]-1 of centroids (dim floats
// each); pseg and cseg have the same length, start at 0 and never
// decrease, and every segment with points has at least one centroid.
//
// A Points is not safe for concurrent use.
type Points interface {
	// Len and Dim are the number of rows and their dimension.
	Len() int
	Dim() int

	// Assign sets labels[i], for position i of segment s, to the index
	// (within the segment) of the centroid j minimising
	// float64(‖x − c_j‖²) + penalty[j], the lowest j on ties, and
	// dists[i] to the unpenalised squared distance ‖x − c_j‖² (float32).
	// penalty may be nil (all zero). This is the assignment step of
	// balanced k-means (SPANN §3.1: the penalty is λ·|C_j|).
	Assign(idx, pseg []int32, centroids []float32, cseg []int32, penalty []float64, labels []int32, dists []float32) error

	// Sums sets, for every centroid slot c of every segment,
	// sums[c*dim : (c+1)*dim] to the float64 sum of the rows labelled
	// with it (labels as Assign writes them) and counts[c] to their
	// number: the update step of k-means. Rows are added in position
	// order, so the sums are the same bits on every backend.
	Sums(idx, pseg, labels, cseg []int32, sums []float64, counts []int) error

	// Close releases the points.
	Close() error
}

// LevelPoints is a Points that runs the whole balanced k-means of a
// clustering-tree level on the device: package cluster's
// LevelAccelerator, whose documentation is the contract. The CUDA
// backend's Points are LevelPoints; with them cluster.Build moves per
// level only the positions in and the labels and centroids out, and
// seeds, iterates, repairs empty clusters and stops each node on the
// device.
type LevelPoints interface {
	Points
	// LevelsOK reports whether levels of up to maxK clusters per
	// segment can run (false also with SHOAL_GPU_LEVELS=0).
	LevelsOK(maxK int) bool
	// StartLevel lays out the level (segments as for Assign; seeds[s]
	// keys segment s's random choices) and seeds every segment by
	// k-means++.
	StartLevel(idx, pseg, cseg []int32, seeds []uint64, iters int, lambda float64) error
	// Step runs one iteration of every active segment and returns how
	// many remain active.
	Step() (active int, err error)
	// Result copies each position's label and every centroid out.
	Result(labels []int32, centroids []float32) error
}

// Tree is a clustering tree in the flat form of package cluster's Tree:
// node 0 is the root, node i's children are ChildStart[i] ..
// ChildStart[i]+ChildCount[i]-1, LeafID[i] >= 0 names the leaf (head) a
// node is, -1 an inner node. Centroids holds dim floats per node.
type Tree struct {
	Dim        int
	Metric     Metric // routing metric: L2 or InnerProduct
	Centroids  []float32
	ChildStart []int32
	ChildCount []int32
	LeafID     []int32
}

// TreeIndex searches a resident Tree for many queries at once. It is safe
// for concurrent use.
type TreeIndex interface {
	// Search sets, for each query i (dim floats each), leaves[i*n+r] and
	// dists[i*n+r] (r < n) to the n nearest leaves found by a beam search
	// of width max(beam, n) down the tree, nearest first, -1/+Inf past the
	// leaves found: package cluster's Tree.Search, batched. Distances are
	// squared L2, or −dot for an InnerProduct tree.
	Search(queries []float32, n, beam int, leaves []int32, dists []float32) error

	// Close releases the tree.
	Close() error
}

// Kind is the kind of a backend.
type Kind uint8

// The kinds of backend.
const (
	KindCPU Kind = iota + 1
	KindCUDA
)

func (k Kind) String() string {
	switch k {
	case KindCPU:
		return "cpu"
	case KindCUDA:
		return "cuda"
	}
	return "Kind(?)"
}

// Info describes a backend.
type Info struct {
	Kind Kind
	// Name is a one-line description, e.g. "cuda: NVIDIA H100 80GB HBM3
	// (sm_90, 132 SMs, 79.2 GiB free, driver 13.0, cuBLAS 130000)" or
	// "cpu: avx2+fma".
	Name string
	// Reason says why Open chose this backend (empty for backends made
	// directly).
	Reason string
}
