package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestScoreRowsMatchesReference: every element type and metric, float32
// rows aligned and not, against the per-row reference kernels.
func TestScoreRowsMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dim := range []int{1, 3, 16, 17, 100} {
		for _, elem := range []ElemType{Float32, Float16, Uint8, Int8} {
			for _, metric := range []Metric{L2, InnerProduct} {
				const n = 9
				x := make([]float32, dim)
				for i := range x {
					x[i] = float32(rng.IntN(200) - 60)
				}
				rows := make([]byte, 1+n*dim*elem.Size()) // +1: room to misalign
				v := make([]float32, dim)
				for r := range n {
					for i := range v {
						switch elem {
						case Uint8:
							v[i] = float32(rng.IntN(256))
						case Int8:
							v[i] = float32(rng.IntN(256) - 128)
						default:
							v[i] = float32(rng.NormFloat64())
						}
					}
					rb := dim * elem.Size()
					row := make([]byte, rb)
					if err := FromFloat32(elem, v, row); err != nil {
						t.Fatal(err)
					}
					copy(rows[1+r*rb:], row)
				}
				var q Query
				q.Prepare(elem, x)
				// Float32 rows may come unaligned (they are copied); the
				// others come aligned to their element size.
				offs := []int{0}
				if elem == Float32 {
					offs = append(offs, 1)
				}
				for _, off := range offs {
					data := rows[1 : 1+n*dim*elem.Size()]
					if off == 0 {
						data = append([]byte(nil), data...) // aligned copy
					}
					got := make([]float32, n)
					q.ScoreRows(elem, metric, data, dim, got)
					for r := range n {
						rb := dim * elem.Size()
						want := refScore(elem, metric, &q, data[r*rb:(r+1)*rb], dim)
						if math.Abs(float64(got[r]-want)) > 1e-3*(1+math.Abs(float64(want))) {
							t.Fatalf("dim %d %v %v off %d row %d: %v, want %v", dim, elem, metric, off, r, got[r], want)
						}
					}
				}
			}
		}
	}
}

func refScore(elem ElemType, metric Metric, q *Query, row []byte, dim int) float32 {
	var l2, dot float32
	switch elem {
	case Float32:
		r := make([]float32, dim)
		ToFloat32(elem, row, r)
		l2, dot = l2SquaredF32Ref(q.F32, r), dotF32Ref(q.F32, r)
	case Float16:
		r := make([]uint16, dim)
		for i := range r {
			r[i] = uint16(row[2*i]) | uint16(row[2*i+1])<<8
		}
		l2, dot = l2SquaredF16Ref(q.F32, r), dotF16Ref(q.F32, r)
	case Uint8:
		l2, dot = l2SquaredU8Ref(q.Raw, row), dotU8Ref(q.Raw, row)
	case Int8:
		a, b := make([]int8, dim), make([]int8, dim)
		for i := range a {
			a[i], b[i] = int8(q.Raw[i]), int8(row[i])
		}
		l2, dot = l2SquaredI8Ref(a, b), dotI8Ref(a, b)
	}
	if metric == L2 {
		return l2
	}
	return -dot
}
