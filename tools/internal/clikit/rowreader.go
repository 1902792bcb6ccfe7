package clikit

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shoaldb/shoal/index"
)

// ToFloat32 converts raw little-endian rows of elem (as a Source holds
// them: float32, uint8 or int8) to float32 in dst.
func ToFloat32(elem index.ElemType, raw []byte, dst []float32) {
	switch elem {
	case index.Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case index.Uint8:
		for i := range dst {
			dst[i] = float32(raw[i])
		}
	case index.Int8:
		for i := range dst {
			dst[i] = float32(int8(raw[i]))
		}
	default:
		panic(fmt.Sprintf("clikit: a source of %v elements", elem))
	}
}

// RowReader reads rows of a Source as float32 vectors through reused
// buffers. Not safe for concurrent use.
type RowReader struct {
	src index.Source
	raw []byte
	f32 []float32
}

// NewRowReader returns a RowReader of src.
func NewRowReader(src index.Source) *RowReader { return &RowReader{src: src} }

// Read returns rows [start, start+n) of the source, one slice per row;
// the slices are valid until the next Read.
func (r *RowReader) Read(start, n int) ([][]float32, error) {
	dim, rb := r.src.Dim(), r.src.Dim()*r.src.Elem().Size()
	if cap(r.raw) < n*rb {
		r.raw = make([]byte, n*rb)
		r.f32 = make([]float32, n*dim)
	}
	raw, f32 := r.raw[:n*rb], r.f32[:n*dim]
	if err := r.src.ReadRows(start, n, raw); err != nil {
		return nil, err
	}
	ToFloat32(r.src.Elem(), raw, f32)
	out := make([][]float32, n)
	for i := range out {
		out[i] = f32[i*dim : (i+1)*dim]
	}
	return out, nil
}
