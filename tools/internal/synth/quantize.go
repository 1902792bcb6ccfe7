package synth

import (
	"math"
)

// streamQuant is the random stream of the sample that fixes the uint8
// scale; it is apart from the others so that the float32 data of a seed
// stay what they were before uint8 existed.
const streamQuant = streamQuery + 1

// quantRows is the size of that sample: enough for the mean and the
// standard deviation to three digits, small enough to cost nothing.
const quantRows = 4 * blockRows

// The uint8 mapping puts the mixture's mean at quantCentre and one
// standard deviation at quantStep units, then rounds and clips to
// [0, 255]. SIFT descriptors are bytes with a mean in the tens, many
// zeros and a long tail to the low hundreds; 64 ± 32 gives the same
// shape (about 2 % of the values clip to 0, almost none to 255) while
// one unit stays a small fraction of a cluster's spread, so rounding does
// not merge neighbours: the clusters survive quantisation.
const (
	quantCentre = 64
	quantStep   = 32
)

// quantizer maps the model's float32 values to bytes: round(Scale·x +
// Offset), clipped to [0, 255]. One affine map for every coordinate keeps
// the L2 geometry (distances scale by Scale²) away from the clipped tails.
type quantizer struct{ scale, offset float64 }

// newQuantizer fits the map to a fixed sample of the model, so the same
// seed always gives the same bytes however the data are chunked.
func newQuantizer(m *model) quantizer {
	sample := make([]float32, quantRows*m.dim)
	m.fill(streamQuant, 0, sample)
	var sum, sum2 float64
	for _, x := range sample {
		sum += float64(x)
		sum2 += float64(x) * float64(x)
	}
	n := float64(len(sample))
	mean := sum / n
	sd := math.Sqrt(max(sum2/n-mean*mean, 1e-30))
	scale := quantStep / sd
	return quantizer{scale: scale, offset: quantCentre - scale*mean}
}

// quantize writes the bytes of src into dst (len(dst) ≥ len(src)).
func (q quantizer) quantize(src []float32, dst []byte) {
	for i, x := range src {
		v := math.Round(q.scale*float64(x) + q.offset)
		dst[i] = byte(min(max(v, 0), 255))
	}
}
