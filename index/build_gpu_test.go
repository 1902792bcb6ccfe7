package index

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/gpu"
	"github.com/shoaldb/shoal/index/internal/treelog"
)

// The build's GPU path runs here through the CPU backend (gpu.CPU()),
// which computes what the CUDA backend does on a device; package gpu's
// tests compare the two backends on a GPU machine.

// TestBuildAcceleratedMatchesCPU: a build through a backend whose kernels
// are the CPU's must give the same tree (clustering level by level is the
// recursive clustering) and the same postings up to near-tied heads, and
// so the same recall.
func TestBuildAcceleratedMatchesCPU(t *testing.T) {
	const dim, n = 24, 20000
	type variant struct {
		m Metric
		q Quant
	}
	for _, v := range []variant{{L2, QuantNone}, {InnerProduct, QuantNone}, {Cosine, QuantNone}, {L2, QuantRaBitQ}, {Cosine, QuantRaBitQ}} {
		m := v.m
		t.Run(m.String()+"/"+v.q.String(), func(t *testing.T) {
			data := clustered(n, dim, 40, 1, 1)
			var logged []string
			o := &Options{Metric: m, Ratio: 0.05, Workers: 2, Quant: v.q}
			cpuIx, cpuDir := buildTest(t, data, dim, o)
			o.GPUBackend = gpu.CPU()
			o.Logf = func(f string, args ...any) { logged = append(logged, fmt.Sprintf(f, args...)) }
			accIx, accDir := buildTest(t, data, dim, o)
			treeCPU, err := os.ReadFile(filepath.Join(cpuDir, treelog.File))
			if err != nil {
				t.Fatal(err)
			}
			treeAcc, err := os.ReadFile(filepath.Join(accDir, treelog.File))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(treeCPU, treeAcc) {
				t.Fatal("the accelerated build's tree differs from the CPU build's")
			}
			mc, ma := cpuIx.man, accIx.man
			if mc.Heads != ma.Heads || mc.Entries != ma.Entries || mc.Dropped != ma.Dropped {
				t.Fatalf("accelerated build: %d heads, %d entries, %d dropped; CPU build: %d, %d, %d",
					ma.Heads, ma.Entries, ma.Dropped, mc.Heads, mc.Entries, mc.Dropped)
			}
			qs := clustered(100, dim, 40, 1, 99)
			var rc, ra float64
			for i := 0; i < 100; i++ {
				q := qs[i*dim : (i+1)*dim]
				want := exact(data, dim, q, 10, m)
				a, err := cpuIx.Search(q, 10, &SearchParams{NProbe: 16})
				if err != nil {
					t.Fatal(err)
				}
				b, err := accIx.Search(q, 10, &SearchParams{NProbe: 16})
				if err != nil {
					t.Fatal(err)
				}
				rc += recall(a, want)
				ra += recall(b, want)
			}
			if rc != ra {
				t.Fatalf("recall@10: CPU build %.3f, accelerated build %.3f; want equal", rc/100, ra/100)
			}
			stages := strings.Join(logged, "\n")
			for _, s := range []string{"build: cluster took", "build: assign took"} {
				if !strings.Contains(stages, s) || !strings.Contains(stages, "cpu: ") {
					t.Fatalf("log %q lacks %q with the backend's name", logged, s)
				}
			}
		})
	}
}

// TestBuildGPUModes: without a device, Auto builds on the CPU and On
// fails naming the cause.
func TestBuildGPUModes(t *testing.T) {
	const dim, n = 8, 2000
	data := clustered(n, dim, 10, 1, 1)
	be, err := gpu.Open(&gpu.Options{Mode: gpu.Auto})
	if err != nil {
		t.Fatal(err)
	}
	hasDevice := be.Info().Kind == gpu.KindCUDA
	be.Close()
	var lines []string
	dir := filepath.Join(t.TempDir(), "auto")
	if _, err := Build(dir, SliceSource(data, dim), &Options{GPU: gpu.Auto, Logf: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }}); err != nil {
		t.Fatalf("Build with GPU auto: %v", err)
	}
	if len(lines) == 0 || !strings.Contains(lines[0], "gpu") {
		t.Fatalf("Build with GPU auto logged %q, want the backend choice first", lines)
	}
	if hasDevice {
		t.Skip("a CUDA device is usable here: GPU on cannot fail")
	}
	_, err = Build(filepath.Join(t.TempDir(), "on"), SliceSource(data, dim), &Options{GPU: gpu.On})
	if !errors.Is(err, gpu.ErrNoDevice) {
		t.Fatalf("Build with GPU on and no device: %v, want gpu.ErrNoDevice", err)
	}
	if _, err := Build(filepath.Join(t.TempDir(), "bad"), SliceSource(data, dim), &Options{GPU: gpu.Mode(7)}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Build with GPU mode 7: %v, want ErrInvalidOptions", err)
	}
}
