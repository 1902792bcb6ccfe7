package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shoaldb/shoal/internal/vecfile"
)

// readIDs reads the vector ids of an int32 file (.ivecs, .ibin or an .npy
// of '<i4'), all rows flattened in order: an .ivecs of one id per row and
// a single row of many ids read alike. Negative ids are an error.
func readIDs(path string) ([]uint64, error) {
	data, _, err := vecfile.ReadInt32(path)
	if err != nil {
		return nil, err
	}
	ids := make([]uint64, len(data))
	for i, v := range data {
		if v < 0 {
			return nil, fmt.Errorf("%s: id #%d is %d; ids are non-negative", path, i, v)
		}
		ids[i] = uint64(v)
	}
	return ids, nil
}

// idRange is the -range flag of `shoal delete`: the half-open id range
// A:B, that is ids A, A+1, …, B-1.
type idRange struct {
	lo, hi uint64
	set    bool
}

func (r *idRange) String() string {
	if !r.set {
		return ""
	}
	return fmt.Sprintf("%d:%d", r.lo, r.hi)
}

func (r *idRange) Set(v string) error {
	a, b, ok := strings.Cut(v, ":")
	lo, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 64)
	hi, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 64)
	if !ok || err1 != nil || err2 != nil || lo >= hi {
		return fmt.Errorf("bad range %q (want A:B with 0 <= A < B, the ids A..B-1)", v)
	}
	*r = idRange{lo: lo, hi: hi, set: true}
	return nil
}

// distinct sorts ids and removes repeats in place, returning the distinct
// ids and how many repeats were dropped.
func distinct(ids []uint64) ([]uint64, int) {
	slices.Sort(ids)
	d := slices.Compact(ids)
	return d, len(ids) - len(d)
}

// Type implements pflag.Value.
func (r *idRange) Type() string { return "A:B" }
