package vec

// The generic kernels run wherever the assembly does not: on other
// architectures, on amd64 CPUs without AVX2+FMA, and under -tags noasm.
// Four independent accumulators let consecutive additions overlap instead
// of each waiting out the previous one's latency, which is most of what the
// compiler leaves on the table in the reference loops. Reslicing in steps
// of four with both lengths checked in the loop condition lets the compiler
// drop every bounds check in the unrolled float body; in the integer
// bodies, three-index slices of length four leave one check per four
// elements.

func l2SquaredF32Generic(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for len(a) >= 4 && len(b) >= 4 {
		d0 := a[0] - b[0]
		d1 := a[1] - b[1]
		d2 := a[2] - b[2]
		d3 := a[3] - b[3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		a, b = a[4:], b[4:]
	}
	for i := range a {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func dotF32Generic(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for len(a) >= 4 && len(b) >= 4 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		a, b = a[4:], b[4:]
	}
	for i := range a {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// The float16 kernels are the float32 ones with each stored half widened
// on the way in. Float16frombits inlines, and its branches for the rare
// zero, subnormal, Inf or NaN are well predicted, but the widening still
// costs several times the arithmetic: these loops run at a third to a
// quarter of the float32 ones' speed, where VCVTPH2PS widens eight
// components in one instruction.

func l2SquaredF16Generic(q []float32, v []uint16) float32 {
	v = v[:len(q)]
	var s0, s1, s2, s3 float32
	for len(q) >= 4 && len(v) >= 4 {
		d0 := q[0] - Float16frombits(v[0])
		d1 := q[1] - Float16frombits(v[1])
		d2 := q[2] - Float16frombits(v[2])
		d3 := q[3] - Float16frombits(v[3])
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		q, v = q[4:], v[4:]
	}
	for i := range q {
		d := q[i] - Float16frombits(v[i])
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func dotF16Generic(q []float32, v []uint16) float32 {
	v = v[:len(q)]
	var s0, s1, s2, s3 float32
	for len(q) >= 4 && len(v) >= 4 {
		s0 += q[0] * Float16frombits(v[0])
		s1 += q[1] * Float16frombits(v[1])
		s2 += q[2] * Float16frombits(v[2])
		s3 += q[3] * Float16frombits(v[3])
		q, v = q[4:], v[4:]
	}
	for i := range q {
		s0 += q[i] * Float16frombits(v[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// genericIntBlock is how many elements the integer kernels sum in int32
// before adding the partial sums to an int64 total. Each accumulator gains
// two terms of at most 255*255 = 65025 in magnitude per four elements, so
// a block adds at most 2*65025*genericIntBlock/4 = 2130739200 < 2^31 to it.
// Summing in int32 with pairs combined before the add is about a third
// faster than int64 accumulators, which gain nothing from unrolling since
// integer adds already take a single cycle.
const genericIntBlock = 1 << 16

func l2SquaredU8Generic(a, b []uint8) float32 {
	b = b[:len(a)]
	var total int64
	for len(a) > 0 {
		n := min(len(a), genericIntBlock)
		total += l2SquaredU8Block(a[:n], b[:n])
		a, b = a[n:], b[n:]
	}
	return float32(total)
}

func l2SquaredU8Block(a, b []uint8) int64 {
	b = b[:len(a)]
	var s0, s1 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x, y := a[i:i+4:i+4], b[i:i+4:i+4]
		d0 := int32(x[0]) - int32(y[0])
		d1 := int32(x[1]) - int32(y[1])
		d2 := int32(x[2]) - int32(y[2])
		d3 := int32(x[3]) - int32(y[3])
		s0 += d0*d0 + d1*d1
		s1 += d2*d2 + d3*d3
	}
	for ; i < len(a); i++ {
		d := int32(a[i]) - int32(b[i])
		s0 += d * d
	}
	return int64(s0) + int64(s1)
}

func dotU8Generic(a, b []uint8) float32 {
	b = b[:len(a)]
	var total int64
	for len(a) > 0 {
		n := min(len(a), genericIntBlock)
		total += dotU8Block(a[:n], b[:n])
		a, b = a[n:], b[n:]
	}
	return float32(total)
}

func dotU8Block(a, b []uint8) int64 {
	b = b[:len(a)]
	var s0, s1 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x, y := a[i:i+4:i+4], b[i:i+4:i+4]
		s0 += int32(x[0])*int32(y[0]) + int32(x[1])*int32(y[1])
		s1 += int32(x[2])*int32(y[2]) + int32(x[3])*int32(y[3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return int64(s0) + int64(s1)
}

func l2SquaredI8Generic(a, b []int8) float32 {
	b = b[:len(a)]
	var total int64
	for len(a) > 0 {
		n := min(len(a), genericIntBlock)
		total += l2SquaredI8Block(a[:n], b[:n])
		a, b = a[n:], b[n:]
	}
	return float32(total)
}

func l2SquaredI8Block(a, b []int8) int64 {
	b = b[:len(a)]
	var s0, s1 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x, y := a[i:i+4:i+4], b[i:i+4:i+4]
		d0 := int32(x[0]) - int32(y[0])
		d1 := int32(x[1]) - int32(y[1])
		d2 := int32(x[2]) - int32(y[2])
		d3 := int32(x[3]) - int32(y[3])
		s0 += d0*d0 + d1*d1
		s1 += d2*d2 + d3*d3
	}
	for ; i < len(a); i++ {
		d := int32(a[i]) - int32(b[i])
		s0 += d * d
	}
	return int64(s0) + int64(s1)
}

func dotI8Generic(a, b []int8) float32 {
	b = b[:len(a)]
	var total int64
	for len(a) > 0 {
		n := min(len(a), genericIntBlock)
		total += dotI8Block(a[:n], b[:n])
		a, b = a[n:], b[n:]
	}
	return float32(total)
}

func dotI8Block(a, b []int8) int64 {
	b = b[:len(a)]
	var s0, s1 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x, y := a[i:i+4:i+4], b[i:i+4:i+4]
		s0 += int32(x[0])*int32(y[0]) + int32(x[1])*int32(y[1])
		s1 += int32(x[2])*int32(y[2]) + int32(x[3])*int32(y[3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return int64(s0) + int64(s1)
}

func l2SquaredF32BatchGeneric(q, data, out []float32) {
	dim := len(q)
	for i := range out {
		out[i] = l2SquaredF32Generic(q, data[i*dim:(i+1)*dim])
	}
}

func dotF32BatchGeneric(q, data, out []float32) {
	dim := len(q)
	for i := range out {
		out[i] = dotF32Generic(q, data[i*dim:(i+1)*dim])
	}
}
