package benchcli

import (
	"slices"
	"testing"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// TestRowSource checks that a subset source reads the rows it names, in
// runs and alone, and that a range source is an offset window.
func TestRowSource(t *testing.T) {
	const n, dim = 20, 3
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = float32(i)
	}
	src := index.SliceSource(data, dim)
	rows := []int{0, 1, 2, 5, 7, 8, 19}
	sub := subsetSource(src, rows)
	rr := clikit.NewRowReader(sub)
	for start := range rows {
		for m := 0; start+m <= len(rows); m++ {
			got, err := rr.Read(start, m)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got {
				want := data[rows[start+i]*dim : (rows[start+i]+1)*dim]
				if !slices.Equal(v, want) {
					t.Fatalf("rows [%d,%d): row %d reads %v, want file row %d %v", start, start+m, i, v, rows[start+i], want)
				}
			}
		}
	}
	if err := sub.ReadRows(5, 3, make([]byte, 3*dim*4)); err == nil {
		t.Errorf("reading past the end of a %d-row subset succeeded", len(rows))
	}
	got, err := clikit.NewRowReader(rangeSource(src, 10, 5)).Read(1, 2)
	if err != nil || !slices.Equal(got[0], data[11*dim:12*dim]) || !slices.Equal(got[1], data[12*dim:13*dim]) {
		t.Errorf("range source rows 1,2 of [10,15): %v, %v; want file rows 11, 12", got, err)
	}
}
