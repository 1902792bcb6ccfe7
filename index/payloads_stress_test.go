package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/shoaldb/shoal/internal/keys"
)

// TestPayloadWritesConcurrent: upserts with and without payloads and
// labels, SetPayloads, SetLabels and deletes race on a few ids of an
// index with an indexed field. Afterwards every live id's named labels
// are exactly those its stored payload derives, its explicit (numbered)
// labels are ones a writer set, and no id without a vector keeps a
// payload (Check agrees).
func TestPayloadWritesConcurrent(t *testing.T) {
	ix, _ := createTest(t, 4, nil)
	if err := ix.SetIndexedFields([]string{"c"}); err != nil {
		t.Fatal(err)
	}
	const ids, writers = 6, 4
	iters := 300
	if testing.Short() {
		iters = 60
	}
	payload := func(r *rand.Rand) []byte {
		if r.IntN(4) == 0 {
			return nil
		}
		return fmt.Appendf(nil, `{"c":"v%d","n":%d}`, r.IntN(3), r.IntN(100))
	}
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range iters {
				id := uint64(1 + r.IntN(ids))
				var err error
				switch r.IntN(5) {
				case 0:
					var labels [][]uint32
					if r.IntN(2) == 0 {
						labels = [][]uint32{{uint32(r.IntN(5))}}
					}
					err = ix.UpsertWithPayloads(0, []uint64{id}, vecs(1, 4, float32(r.IntN(9))), labels, [][]byte{payload(r)})
				case 1:
					err = ix.Upsert([]uint64{id}, vecs(1, 4, float32(r.IntN(9))))
				case 2:
					err = ix.SetPayloads([]uint64{id}, [][]byte{payload(r)})
				case 3:
					err = ix.SetLabels([]uint64{id}, [][]uint32{{uint32(r.IntN(5))}})
				case 4:
					_, err = ix.Delete([]uint64{id})
				}
				if err != nil && !errors.Is(err, ErrNotFound) {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	live := 0
	for id := uint64(1); id <= ids; id++ {
		p, err := ix.Payload(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		live++
		ls, err := ix.Labels(id)
		if err != nil {
			t.Fatal(err)
		}
		want := derivedNames(p, []string{"c"})
		var named []string
		for _, l := range ls {
			if n, ok := ix.LabelName(l); ok {
				named = append(named, n)
			} else if l >= 5 {
				t.Errorf("id %d: label %d no writer set", id, l)
			}
		}
		slices.Sort(want)
		slices.Sort(named)
		if !slices.Equal(named, want) {
			t.Errorf("id %d: payload %s, named labels %q, want %q", id, p, named, want)
		}
	}
	if n := countRecords(t, ix, keys.Payload); n > live {
		t.Errorf("%d payload records for %d live ids", n, live)
	}
	if err := ix.Check(); err != nil {
		t.Fatal(err)
	}
}
