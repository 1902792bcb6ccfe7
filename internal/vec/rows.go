package vec

import (
	"math"
	"unsafe"
)

// Query is a query prepared for scoring rows of one element type: the
// float32 vector and, for integer types, the query rounded and clamped to
// the type's range (distances between integers are computed exactly).
type Query struct {
	F32  []float32
	Raw  []byte
	f32s []float32 // aligned copy of float32 rows when needed
}

// Prepare sets q for rows of elem from x, which it keeps (not a copy):
// x must not change while q scores.
func (q *Query) Prepare(elem ElemType, x []float32) {
	q.F32 = x
	if cap(q.Raw) < len(x) {
		q.Raw = make([]byte, len(x))
	}
	q.Raw = q.Raw[:len(x)]
	switch elem {
	case Uint8:
		for i, v := range x {
			q.Raw[i] = uint8(math.Round(math.Max(0, math.Min(255, float64(v)))))
		}
	case Int8:
		for i, v := range x {
			q.Raw[i] = byte(int8(math.Round(math.Max(-128, math.Min(127, float64(v))))))
		}
	}
}

// ScoreRows writes to d[i] the distance from q to row i of rows (len(d)
// rows of dim elem values): squared L2 for L2, −dot otherwise (inner
// product, and cosine on normalised vectors).
func (q *Query) ScoreRows(elem ElemType, metric Metric, rows []byte, dim int, d []float32) {
	l2 := metric == L2
	switch elem {
	case Float32:
		data := q.alignedF32(rows)
		if l2 {
			L2SquaredF32Batch(q.F32, data, d)
		} else {
			DotF32Batch(q.F32, data, d)
			for i := range d {
				d[i] = -d[i]
			}
		}
	case Float16:
		for i := range d {
			r := BytesToF16(rows[2*i*dim : 2*(i+1)*dim])
			if l2 {
				d[i] = L2SquaredF16(q.F32, r)
			} else {
				d[i] = -DotF16(q.F32, r)
			}
		}
	case Uint8:
		for i := range d {
			r := rows[i*dim : (i+1)*dim]
			if l2 {
				d[i] = L2SquaredU8(q.Raw, r)
			} else {
				d[i] = -DotU8(q.Raw, r)
			}
		}
	case Int8:
		qi := BytesToI8(q.Raw)
		for i := range d {
			r := BytesToI8(rows[i*dim : (i+1)*dim])
			if l2 {
				d[i] = L2SquaredI8(qi, r)
			} else {
				d[i] = -DotI8(qi, r)
			}
		}
	}
}

// alignedF32 views b as float32s, copying into q's buffer only when b is
// not 4-byte aligned (Pebble's and the posting cache's buffers usually
// are).
func (q *Query) alignedF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return BytesToF32(b)
	}
	n := len(b) / 4
	if cap(q.f32s) < n {
		q.f32s = make([]float32, n)
	}
	f := q.f32s[:n]
	copy(F32ToBytes(f), b)
	return f
}
