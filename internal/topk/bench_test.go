package topk

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// benchStream is the distances pushed per op: 64Ki, a posting's worth of
// scoring or a few levels of routing.
const benchStream = 1 << 16

// benchDists returns benchStream distances in the named order: random
// (after the first few, almost every push is rejected against the root),
// or descending (every push replaces the root and sifts down: the worst
// case).
func benchDists(order string) []float32 {
	rng := rand.New(rand.NewPCG(11, 12))
	d := make([]float32, benchStream)
	for i := range d {
		d[i] = rng.Float32()
	}
	if order == "descending" {
		slices.Sort(d)
		slices.Reverse(d)
	}
	return d
}

// benchPush pushes the named stream into a Heap of k, every item or, with
// admits, those that Admits lets through.
func benchPush(b *testing.B, order string, k int, admits bool) {
	d := benchDists(order)
	var h Heap[float32, uint32]
	b.SetBytes(int64(len(d)) * 4)
	b.ResetTimer()
	for range b.N {
		h.Reset(k)
		if admits {
			for j, v := range d {
				if h.Admits(v) {
					h.Push(v, uint32(j))
				}
			}
			continue
		}
		for j, v := range d {
			h.Push(v, uint32(j))
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(d))/b.Elapsed().Seconds()/1e6, "Mpush/s")
}

func BenchmarkPushRandomK16(b *testing.B)      { benchPush(b, "random", 16, false) }
func BenchmarkPushRandomK128(b *testing.B)     { benchPush(b, "random", 128, false) }
func BenchmarkPushRandomK1024(b *testing.B)    { benchPush(b, "random", 1024, false) }
func BenchmarkPushDescendingK16(b *testing.B)  { benchPush(b, "descending", 16, false) }
func BenchmarkPushDescendingK128(b *testing.B) { benchPush(b, "descending", 128, false) }

func BenchmarkPushAdmitsRandomK128(b *testing.B)     { benchPush(b, "random", 128, true) }
func BenchmarkPushAdmitsDescendingK128(b *testing.B) { benchPush(b, "descending", 128, true) }

func BenchmarkDrainK128(b *testing.B) {
	d := benchDists("random")[:128]
	var h Heap[float32, uint32]
	for range b.N {
		h.Reset(len(d))
		for j, v := range d {
			h.Push(v, uint32(j))
		}
		h.Drain()
	}
}
