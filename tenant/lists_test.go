package tenant

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestListsTenants(t *testing.T) {
	l := NewLists()
	if err := l.Create(7); err != nil {
		t.Fatal(err)
	}
	if err := l.Create(7); !errors.Is(err, ErrExists) {
		t.Fatalf("Create twice: %v, want ErrExists", err)
	}
	if err := l.Create(3); err != nil {
		t.Fatal(err)
	}
	if got := l.Tenants(); !slices.Equal(got, []ID{3, 7}) || l.Len() != 2 || !l.Exists(3) || l.Exists(4) {
		t.Fatalf("Tenants %v, Len %d", got, l.Len())
	}
	for name, err := range map[string]error{
		"Add":    func() error { _, err := l.Add(4, 1); return err }(),
		"Remove": func() error { _, err := l.Remove(4, 1); return err }(),
		"View":   func() error { _, err := l.View(4); return err }(),
		"Count":  func() error { _, err := l.Count(4); return err }(),
		"Drop":   func() error { _, err := l.Drop(4); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of an unknown tenant: %v, want ErrNotFound", name, err)
		}
	}
	if l.Can(4, 1) {
		t.Error("an unknown tenant can read")
	}
	if n, err := l.Add(7, 1, 2, 2, 1<<40); err != nil || n != 3 {
		t.Fatalf("Add = %d, %v; want 3 new", n, err)
	}
	if n, _ := l.Add(7, 2); n != 0 {
		t.Fatalf("Add of an id on the list counted %d", n)
	}
	if n, _ := l.Remove(7, 2, 5); n != 1 {
		t.Fatalf("Remove counted %d, want 1", n)
	}
	if !l.Can(7, 1<<40) || l.Can(7, 2) || l.Can(3, 1) {
		t.Fatal("Can disagrees with the adds and removes")
	}
	ids, err := l.Drop(7)
	if err != nil || !slices.Equal(ids, []uint64{1, 1 << 40}) || l.Exists(7) {
		t.Fatalf("Drop = %v, %v", ids, err)
	}
}

func TestViewIsASnapshot(t *testing.T) {
	l := NewLists()
	l.Create(1)
	l.Add(1, 10, 20)
	v1, _ := l.View(1)
	if v2, _ := l.View(1); v2 != v1 {
		t.Fatal("two views without a change between them are not shared")
	}
	l.Add(1, 30)
	l.Remove(1, 10)
	if !slices.Equal(v1.ToArray(), []uint64{10, 20}) {
		t.Fatalf("old view changed: %v", v1.ToArray())
	}
	v3, _ := l.View(1)
	if !slices.Equal(v3.ToArray(), []uint64{20, 30}) {
		t.Fatalf("new view %v, want [20 30]", v3.ToArray())
	}
	// A no-op change keeps the view.
	l.Add(1, 20)
	if v4, _ := l.View(1); v4 != v3 {
		t.Fatal("a no-op Add dropped the view")
	}
}

func TestMarshalLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := NewLists()
	l.Create(9)
	var want []uint64
	for i := 0; i < 5000; i++ {
		id := rng.Uint64N(1 << 20)
		if i%10 == 0 {
			id = rng.Uint64() // sparse high ids too
		}
		want = append(want, id)
	}
	// A dense run as well, which run-optimisation encodes compactly.
	for id := uint64(1 << 30); id < 1<<30+100000; id++ {
		want = append(want, id)
	}
	l.Add(9, want...)
	b, err := l.Marshal(9)
	if err != nil {
		t.Fatal(err)
	}
	m := NewLists()
	if err := m.Load(9, b); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	v, _ := m.View(9)
	if !slices.Equal(v.ToArray(), want) {
		t.Fatalf("loaded list has %d ids, want %d", v.GetCardinality(), len(want))
	}
	t.Logf("%d ids in %d bytes", len(want), len(b))
	if err := m.Load(10, b[:len(b)/2]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Load of a truncated list: %v, want ErrCorrupt", err)
	}
	if m.Exists(10) {
		t.Fatal("a failed Load created the tenant")
	}
}

// TestConcurrent changes lists while readers take views and iterate them
// (run with -race): a view never changes under its reader.
func TestConcurrent(t *testing.T) {
	l := NewLists()
	for tn := ID(0); tn < 4; tn++ {
		l.Create(tn)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for i := 0; i < 20000; i++ {
				tn, id := ID(rng.IntN(4)), rng.Uint64N(1000)
				if rng.IntN(3) == 0 {
					l.Remove(tn, id)
				} else {
					l.Add(tn, id)
				}
			}
		}(w)
	}
	var rg sync.WaitGroup
	for r := 0; r < 2; r++ {
		rg.Add(1)
		go func(r int) {
			defer rg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v, err := l.View(ID(i % 4))
				if err != nil {
					t.Error(err)
					return
				}
				n := v.GetCardinality()
				if got := uint64(len(v.ToArray())); got != n {
					t.Errorf("view changed while read: %d ids, cardinality %d", got, n)
					return
				}
				l.Can(ID(i%4), uint64(i%1000))
			}
		}(r)
	}
	wg.Wait()
	close(stop)
	rg.Wait()
}
