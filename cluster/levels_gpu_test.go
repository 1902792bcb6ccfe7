package cluster_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/gpu"
)

// BenchmarkBuildDevice times cluster.Build of a million 128-d points on
// a CUDA device (the level-resident k-means) into a million leaves (the
// shape of the 10M build's tree) and into 120k (the 1M build's), the
// upload of the points included, as the build's cluster stage counts it.
// With -test.cpuprofile it shows the host's share. It skips without a
// device.
func BenchmarkBuildDevice(b *testing.B) {
	be, err := gpu.Open(&gpu.Options{Mode: gpu.On})
	if errors.Is(err, gpu.ErrNoDevice) {
		b.Skipf("no CUDA device: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	const n, dim = 1000000, 128
	rng := rand.New(rand.NewPCG(1, 2))
	centres := make([]float32, 1000*dim)
	for i := range centres {
		centres[i] = rng.Float32() * 10
	}
	data := make([]float32, n*dim)
	for i := 0; i < n; i++ {
		c := rng.IntN(1000)
		for d := 0; d < dim; d++ {
			data[i*dim+d] = centres[c*dim+d] + float32(rng.NormFloat64())
		}
	}
	for _, leaves := range []int{n, 120000} {
		b.Run(fmt.Sprint(leaves), func(b *testing.B) {
			for b.Loop() {
				t0 := time.Now()
				pts, err := be.LoadPoints(data, dim)
				if err != nil {
					b.Fatal(err)
				}
				load := time.Since(t0)
				tr, err := cluster.Build(data, dim, cluster.Options{Leaves: leaves, Seed: 1, Accel: pts})
				if err != nil {
					b.Fatal(err)
				}
				pts.Close()
				b.ReportMetric(float64(tr.NumLeaves()), "leaves")
				b.ReportMetric(load.Seconds(), "load-s")
				b.ReportMetric(time.Since(t0).Seconds(), "s")
			}
		})
	}
}
