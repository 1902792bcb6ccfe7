package vec

// The reference kernels are the plainest correct loops. They are the oracle
// the tests hold every other kernel to and the baseline the benchmarks
// report speed-ups against; nothing outside tests calls them. Keep them
// naive: their value is being obviously right.

func l2SquaredF32Ref(a, b []float32) float32 {
	if len(a) != len(b) {
		panicLengths("l2SquaredF32Ref", len(a), len(b))
	}
	var s float32
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

func dotF32Ref(a, b []float32) float32 {
	if len(a) != len(b) {
		panicLengths("dotF32Ref", len(a), len(b))
	}
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func l2SquaredU8Ref(a, b []uint8) float32 {
	if len(a) != len(b) {
		panicLengths("l2SquaredU8Ref", len(a), len(b))
	}
	var s int64
	for i := range a {
		d := int64(a[i]) - int64(b[i])
		s += d * d
	}
	return float32(s)
}

func dotU8Ref(a, b []uint8) float32 {
	if len(a) != len(b) {
		panicLengths("dotU8Ref", len(a), len(b))
	}
	var s int64
	for i := range a {
		s += int64(a[i]) * int64(b[i])
	}
	return float32(s)
}

func l2SquaredI8Ref(a, b []int8) float32 {
	if len(a) != len(b) {
		panicLengths("l2SquaredI8Ref", len(a), len(b))
	}
	var s int64
	for i := range a {
		d := int64(a[i]) - int64(b[i])
		s += d * d
	}
	return float32(s)
}

func dotI8Ref(a, b []int8) float32 {
	if len(a) != len(b) {
		panicLengths("dotI8Ref", len(a), len(b))
	}
	var s int64
	for i := range a {
		s += int64(a[i]) * int64(b[i])
	}
	return float32(s)
}

func l2SquaredF16Ref(q []float32, v []uint16) float32 {
	if len(q) != len(v) {
		panicLengths("l2SquaredF16Ref", len(q), len(v))
	}
	var s float32
	for i := range q {
		d := q[i] - Float16frombits(v[i])
		s += d * d
	}
	return s
}

func dotF16Ref(q []float32, v []uint16) float32 {
	if len(q) != len(v) {
		panicLengths("dotF16Ref", len(q), len(v))
	}
	var s float32
	for i := range q {
		s += q[i] * Float16frombits(v[i])
	}
	return s
}

func l2SquaredF32BatchRef(q, data, out []float32) {
	for i := range out {
		out[i] = l2SquaredF32Ref(q, data[i*len(q):(i+1)*len(q)])
	}
}

func dotF32BatchRef(q, data, out []float32) {
	for i := range out {
		out[i] = dotF32Ref(q, data[i*len(q):(i+1)*len(q)])
	}
}
