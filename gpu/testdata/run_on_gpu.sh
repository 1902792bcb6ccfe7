#!/bin/bash
# Runs package gpu's CUDA tests and measurements on a GPU machine that has
# no Go, from binaries built on any Linux machine (no CUDA needed there):
#
#   CGO_ENABLED=1 go test -c -o out/gpu/gpu.test ./gpu
#   CGO_ENABLED=1 go build -o out/gpu/shoal ./tools/shoal
#
# then, on the GPU machine, from the repository root:
#
#   bash gpu/testdata/run_on_gpu.sh OUTDIR [N]
#
# It regenerates kernels.ptx with nvcc when nvcc is there (into OUTDIR, and
# the tests load it through SHOAL_GPU_PTX, so kernel edits are tested
# without rebuilding the Go binaries); REGEN_PTX=0 tests the embedded PTX.
# Then: the CUDA tests, the throughput and speed measurements, torch's
# GEMM on the same shapes, and a build of N synthetic 128-d vectors
# (default 1,000,000) with -gpu=off and -gpu=on, with recall of each.
set -u
OUT=${1:-/tmp/shoal-gpu}
N=${2:-1000000}
BIN=${BIN:-out/gpu}
mkdir -p "$OUT"
step() { echo; echo "== $*"; }
{
	step device
	nvidia-smi -L
	nproc
	if [ "${REGEN_PTX:-1}" = 1 ] && command -v nvcc >/dev/null; then
		step nvcc
		nvcc --version | tail -1
		nvcc -ptx -O3 -arch=compute_80 -o "$OUT/kernels.ptx" gpu/kernels.cu && export SHOAL_GPU_PTX=$OUT/kernels.ptx
		nvcc -cubin -O3 -arch=sm_90 -Xptxas -v -o /tmp/kernels.cubin gpu/kernels.cu 2>&1 | grep -E "Compiling|registers|spill"
	fi
	step "CUDA tests (PTX: ${SHOAL_GPU_PTX:-embedded})"
	timeout 400 "$BIN/gpu.test" -test.v -test.count=1 -test.run 'CUDA|Open' 2>&1 | grep -Ev '^=== (RUN|PAUSE|CONT)'
	step measurements
	SHOAL_GPU_BENCH=1 timeout 300 "$BIN/gpu.test" -test.v -test.count=1 -test.run 'Throughput|Speed' 2>&1 | grep -Ev '^=== RUN'
	step torch baseline
	timeout 120 python3 gpu/testdata/matmul_baseline.py
	if [ "$N" -gt 0 ]; then
		step "build of $N x 128: gpu off vs on"
		timeout 200 "$BIN/shoal" gen -n "$N" -q 1000 -dim 128 -out /tmp/shoal-syn >/dev/null
		for mode in on off; do
			rm -rf "/tmp/shoal-ix-$mode"
			timeout 400 "$BIN/shoal" build -q -gpu=$mode -data /tmp/shoal-syn/base.fvecs -out "/tmp/shoal-ix-$mode"
			for np in 8 32; do
				"$BIN/shoal" search -index "/tmp/shoal-ix-$mode" -queries /tmp/shoal-syn/query.fvecs -gt /tmp/shoal-syn/groundtruth.ivecs -nprobe $np 2>&1 | tail -2
			done
		done
	fi
} 2>&1 | tee "$OUT/log"
