// Package cluster builds Shoal's shared clustering tree: hierarchical
// balanced k-means (SPANN §3.1) whose leaves are the heads that own posting
// lists and whose inner nodes route queries down to them.
//
// The same tree is the routing index of the SPANN core, the structure
// SPFresh's splits and merges edit in place (mutate.go), and the shared tree
// whose sub-trees index each Curator tenant.
package cluster

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/internal/vec"
)

// Options configure Build. Zero values take the documented defaults.
type Options struct {
	// K is the branching factor of inner nodes (SPANN/SPTAG: 32).
	K int
	// Leaves is the number of leaves (heads) wanted. Build reaches it
	// approximately; the tree never has more leaves than points. Required.
	Leaves int
	// Iters bounds the k-means iterations per node. Default 12.
	Iters int
	// Lambda is the balance penalty factor (SPANN §3.1): a cluster of the
	// average size pays Lambda × the mean squared distance on top of a
	// point's distance to it. 0 disables balancing; default 0.1 (set a
	// negative value to get 0).
	Lambda float64
	// Seed makes the build deterministic: the same data, options and seed
	// give the same tree, whatever Workers is.
	Seed uint64
	// Workers is the number of goroutines. Default GOMAXPROCS.
	Workers int
	// Metric is the routing metric: L2 and Cosine route by squared L2 to
	// centroids (for Cosine the data must already be normalised), and
	// InnerProduct by −dot. Default L2.
	Metric vec.Metric
	// Progress, if set, is called with the number of points placed in
	// leaves so far and the total. It may be called from several goroutines
	// but never concurrently.
	Progress func(done, total int)
	// Accel, if set, runs the k-means assignment and update steps (e.g. on
	// a GPU: package gpu's Points, loaded with the same data). Build then
	// goes level by level (accel.go). Nil runs everything on the CPU.
	Accel Accelerator
}

// EnsureDefaults fills unset fields.
func (o *Options) EnsureDefaults() {
	if o.K == 0 {
		o.K = 32
	}
	if o.Iters == 0 {
		o.Iters = 12
	}
	if o.Lambda == 0 {
		o.Lambda = 0.1
	} else if o.Lambda < 0 {
		o.Lambda = 0
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Metric == 0 {
		o.Metric = vec.L2
	}
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	switch {
	case o.K < 2:
		return fmt.Errorf("cluster: K %d, want >= 2", o.K)
	case o.Leaves < 1:
		return fmt.Errorf("cluster: Leaves %d, want >= 1", o.Leaves)
	case o.Iters < 1:
		return fmt.Errorf("cluster: Iters %d, want >= 1", o.Iters)
	case !o.Metric.Valid():
		return fmt.Errorf("cluster: unknown metric %d", o.Metric)
	}
	return nil
}

// ErrEmpty is returned by Build for a data set with no points.
var ErrEmpty = errors.New("cluster: no points to cluster")

// MaxChildren is the most children SplitLeaf gives an inner node: a leaf
// whose parent already has MaxChildren children is split by deepening the
// tree instead of adding a sibling. It is 2× the default K, so a node built
// with the default branching factor can absorb as many splits again before
// the tree grows a level under it. Build may exceed it when Options.K does.
const MaxChildren = 64

// Tree is the shared clustering tree, stored flat. Node 0 is the root.
// The children of a node are contiguous, so their centroids can be scored
// with one batch kernel. Build numbers nodes breadth-first and leaves
// depth-first, 0..NumLeaves()-1, so postings of nearby heads get nearby ids
// (and nearby disk locations).
//
// # Online edits
//
// SplitLeaf, RemoveLeaf and SetHead edit the tree in place as SPFresh
// splits and merges postings (mutate.go). After edits the leaf ids are the
// caller's and may have holes (LeafNode[p] == -1 for a free id), and the
// node arrays may hold dead slots: nodes unreachable from the root, with no
// children and no leaf id, which a later edit reuses and Compact drops.
// Children need no longer come after their parent. Edits are deterministic:
// the same calls on the same tree (however it was loaded) give the same
// tree, byte for byte.
//
// # Thread-safety
//
// Reading methods (Search, Distance, Head, Marshal, ...) are safe for
// concurrent use. Mutations must not run concurrently with any other
// method; callers serialise with a RWMutex. Mutations may reallocate the
// arrays, so slices from Head or Centroid are invalid after one.
type Tree struct {
	Dim    int
	Metric vec.Metric
	// Centroids holds NumNodes() rows of Dim floats.
	Centroids []float32
	// ChildStart and ChildCount give node i's children
	// [ChildStart[i], ChildStart[i]+ChildCount[i]); ChildCount is 0 for
	// leaves and dead slots.
	ChildStart []int32
	ChildCount []int32
	// LeafID is the leaf (posting) id of node i, or -1 for inner nodes and
	// dead slots.
	LeafID []int32
	// Parent is the parent of node i, or -1 for the root and dead slots.
	Parent []int32
	// LeafNode is the node index of leaf id p, or -1 for a free id.
	LeafNode []int32
	// LeafSize is the number of clustered points that fell in leaf p at
	// Build (statistics only; the posting sizes are decided by assignment,
	// and leaves made by SplitLeaf and free ids have 0).
	LeafSize []int32

	live int      // live leaves
	dead int      // dead node slots, all listed in free
	free freeRuns // runs of dead slots, for reuse (slots.go)
}

// NumNodes returns the number of node slots, dead ones included.
func (t *Tree) NumNodes() int { return len(t.ChildCount) }

// NumLeaves returns one more than the largest leaf id ever used: the size
// of LeafNode and LeafSize, to size per-posting arrays with. Without edits
// it is the number of leaves; LiveLeaves counts them after edits.
func (t *Tree) NumLeaves() int { return len(t.LeafNode) }

// LiveLeaves returns the number of live leaves (heads).
func (t *Tree) LiveLeaves() int { return t.live }

// DeadNodes returns the number of dead node slots: memory that Compact
// would return.
func (t *Tree) DeadNodes() int { return t.dead }

// IsLeaf reports whether p is a live leaf id.
func (t *Tree) IsLeaf(p uint32) bool {
	return uint64(p) < uint64(len(t.LeafNode)) && t.LeafNode[p] >= 0
}

// Centroid returns node i's centroid.
func (t *Tree) Centroid(i int) []float32 { return t.Centroids[i*t.Dim : (i+1)*t.Dim] }

// Head returns live leaf p's centroid.
func (t *Tree) Head(p int) []float32 { return t.Centroid(int(t.LeafNode[p])) }

// Depth returns the number of levels (1 for a tree that is only a root).
func (t *Tree) Depth() int {
	level := []int32{0}
	depth := 0
	for len(level) > 0 {
		depth++
		var next []int32
		for _, i := range level {
			for c := t.ChildStart[i]; c < t.ChildStart[i]+t.ChildCount[i]; c++ {
				next = append(next, c)
			}
		}
		level = next
	}
	return depth
}

// node is the pointer form of the tree while it is built.
type node struct {
	centroid []float32
	children []*node
	size     int
}

// Build clusters the n = len(data)/dim points of data (row-major) into a
// tree with about o.Leaves leaves. data is not modified or retained.
//
// Each node with L wanted leaves below it is split by balanced k-means into
// k = L children when L ≤ K (the children are leaves), into k = ⌈L/K⌉ when
// L ≤ K², else into K; each child then wants L × its share of the points.
func Build(data []float32, dim int, o Options) (*Tree, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if dim <= 0 || len(data)%dim != 0 {
		return nil, fmt.Errorf("cluster: %d floats is not a whole number of %d-dim points", len(data), dim)
	}
	n := len(data) / dim
	if n == 0 {
		return nil, ErrEmpty
	}
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	// k-means partitions in L2 whatever the metric; routing uses the metric.
	b := &builder{data: data, dim: dim, o: o, total: n}
	b.sem = make(chan struct{}, o.Workers)
	root := &node{}
	if o.Accel != nil {
		if o.Accel.Len() != n || o.Accel.Dim() != dim {
			return nil, fmt.Errorf("cluster: accelerator holds %d points of dim %d, Build has %d of dim %d", o.Accel.Len(), o.Accel.Dim(), n, dim)
		}
		if err := b.buildLevels(root, idx, min(o.Leaves, n), o.Seed, o.Accel); err != nil {
			return nil, err
		}
		return flattenTree(root, dim, o.Metric, o.Workers), nil
	}
	var wg sync.WaitGroup
	b.split(root, idx, min(o.Leaves, n), o.Seed, &wg, true)
	wg.Wait()
	return flattenTree(root, dim, o.Metric, o.Workers), nil
}

type builder struct {
	data  []float32
	dim   int
	o     Options
	sem   chan struct{}
	total int
	done  atomic.Int64
	mu    sync.Mutex // serialises Progress calls
}

// fanout decides how node nd (whose points are idx) splits to get about
// want leaves below it: into k children, or not at all (leaf), in which
// case nd is finished as a leaf here.
func (b *builder) fanout(nd *node, idx []int32, want int) (k int, leaf bool) {
	nd.size = len(idx)
	if want <= 1 || len(idx) <= 1 {
		nd.centroid = make([]float32, b.dim)
		mean(b.data, b.dim, idx, nd.centroid)
		b.progress(len(idx))
		return 0, true
	}
	k = b.o.K
	switch {
	case want <= k:
		k = want
	case want <= k*k:
		k = (want + k - 1) / k
	}
	return min(k, len(idx)), false
}

// split fills nd (whose points are idx) and its sub-tree with about want
// leaves. Sub-trees run concurrently, bounded by b.sem; big nodes also
// parallelise their own assignment steps.
func (b *builder) split(nd *node, idx []int32, want int, seed uint64, wg *sync.WaitGroup, top bool) {
	k, leaf := b.fanout(nd, idx, want)
	if leaf {
		return
	}
	rng := rand.New(rand.NewPCG(seed, uint64(len(idx))))
	workers := 1
	if len(idx) >= parallelMin {
		workers = b.o.Workers
	}
	cents, labels := balancedKMeans(b.data, b.dim, idx, k, kmeansParams{iters: b.o.Iters, lambda: b.o.Lambda, workers: workers}, rng)
	if nd.centroid == nil {
		nd.centroid = make([]float32, b.dim)
		mean(b.data, b.dim, idx, nd.centroid)
	}
	// Partition idx by label (counting sort keeps the order deterministic).
	counts := make([]int, k+1)
	for _, l := range labels {
		counts[l+1]++
	}
	for j := 1; j <= k; j++ {
		counts[j] += counts[j-1]
	}
	parts := make([]int32, len(idx))
	pos := append([]int(nil), counts[:k]...)
	for i, l := range labels {
		parts[pos[l]] = idx[i]
		pos[l]++
	}
	for j := 0; j < k; j++ {
		members := parts[counts[j]:counts[j+1]]
		if len(members) == 0 {
			continue
		}
		child := &node{centroid: cents[j*b.dim : (j+1)*b.dim]}
		nd.children = append(nd.children, child)
		childWant := 1
		if want > k {
			childWant = max(1, int(math.Round(float64(want)*float64(len(members))/float64(len(idx)))))
		}
		childSeed := seed*0x9E3779B97F4A7C15 + uint64(j) + 1
		if childWant <= 1 || len(members) <= 1 {
			child.size = len(members)
			if childWant > 1 || len(members) > 1 {
				mean(b.data, b.dim, members, child.centroid)
			}
			b.progress(len(members))
			continue
		}
		select {
		case b.sem <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.split(child, members, childWant, childSeed, wg, false)
				<-b.sem
			}()
		default:
			b.split(child, members, childWant, childSeed, wg, false)
		}
	}
	if len(nd.children) == 1 {
		// A node with one child routes nowhere: hoist the child.
		only := nd.children[0]
		nd.children = only.children
		if len(nd.children) == 0 {
			nd.centroid = only.centroid
		}
	}
}

func (b *builder) progress(n int) {
	if b.o.Progress == nil {
		b.done.Add(int64(n))
		return
	}
	b.mu.Lock() // adding under the lock keeps the reported counts increasing
	b.o.Progress(int(b.done.Add(int64(n))), b.total)
	b.mu.Unlock()
}
