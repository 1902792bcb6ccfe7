package gpu

import (
	"errors"
	"testing"
)

func oneLeaf() *Tree {
	return &Tree{Dim: 2, Metric: L2, Centroids: []float32{0, 0}, ChildStart: []int32{0}, ChildCount: []int32{0}, LeafID: []int32{0}}
}

// TestRouterLoadsByGeneration: a backend's tree is loaded on first use
// and again only when the generation changes.
func TestRouterLoadsByGeneration(t *testing.T) {
	r := NewRouter(Off, CPU(), nil)
	defer r.Close()
	loads := 0
	load := func() *Tree { loads++; return oneLeaf() }
	for _, gen := range []uint64{1, 1, 2, 2, 2, 3} {
		tr, err := r.Tree(gen, load)
		if err != nil || tr == nil {
			t.Fatalf("gen %d: Tree = %v, %v", gen, tr, err)
		}
	}
	if loads != 3 || !r.Resident() {
		t.Fatalf("%d loads for 3 generations (resident %v)", loads, r.Resident())
	}
}

// TestRouterOffIsCPU: mode Off without a backend routes on the CPU.
func TestRouterOffIsCPU(t *testing.T) {
	r := NewRouter(Off, nil, nil)
	defer r.Close()
	if tr, err := r.Tree(1, oneLeaf); tr != nil || err != nil {
		t.Fatalf("Off: Tree = %v, %v; want nil, nil", tr, err)
	}
}

// TestRouterFail: Auto falls back to the CPU after a failure; On reports
// it.
func TestRouterFail(t *testing.T) {
	boom := errors.New("boom")
	r := NewRouter(Auto, CPU(), nil)
	if _, err := r.Tree(1, oneLeaf); err != nil {
		t.Fatal(err)
	}
	if err := r.Fail("routing", boom); err != nil {
		t.Fatalf("Auto: Fail = %v, want nil", err)
	}
	if tr, err := r.Tree(2, oneLeaf); tr != nil || err != nil || r.Resident() {
		t.Fatalf("Auto after a failure: Tree = %v, %v; want the CPU", tr, err)
	}
	r = NewRouter(On, CPU(), nil)
	defer r.Close()
	if err := r.Fail("routing", boom); !errors.Is(err, boom) {
		t.Fatalf("On: Fail = %v, want %v", err, boom)
	}
}
