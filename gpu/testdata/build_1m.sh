#!/bin/bash
# Issue 5's build comparison at 1M × 128 on a GPU machine without Go, from
# binaries built elsewhere (see run_on_gpu.sh): CUDA k-means tests, then
# builds with -gpu=on (BIN/shoal, and BIN/shoal-head if present, HEAD's
# binary for comparison) and -gpu=off, their stage times, a traced GPU
# build summarised per call kind, and recall@10 of each.
#
#   bash gpu/testdata/build_1m.sh OUTDIR [N]
set -u
OUT=${1:-/tmp/shoal-gpu}
N=${2:-1000000}
B=${BIN:-out/gpu}
mkdir -p "$OUT"
nvidia-smi -L; nproc
# Kernel edits are tested without rebuilding the Go binaries: the tests and
# builds load the regenerated PTX through SHOAL_GPU_PTX.
if [ "${REGEN_PTX:-1}" = 1 ] && command -v nvcc >/dev/null; then
	nvcc -ptx -O3 -arch=compute_80 -o "$OUT/kernels.ptx" gpu/kernels.cu && export SHOAL_GPU_PTX=$OUT/kernels.ptx
fi
timeout 150 "$B/gpu.test" -test.count=1 -test.run 'CUDABackend|CUDAMatchesCPU' 2>&1 | tail -6
"$B/shoal" gen -n "$N" -q 1000 -dim 128 -out /tmp/s1 >/dev/null
recall() { for np in 8 32; do "$B/shoal" search -index "$1" -queries /tmp/s1/query.fvecs -gt /tmp/s1/groundtruth.ivecs -nprobe $np 2>&1 | tail -1; done; }
for bin in shoal-head shoal; do
	[ -x "$B/$bin" ] || continue
	echo "== $bin -gpu=on"; rm -rf /tmp/ix-$bin
	"$B/$bin" build -q -gpu=on -data /tmp/s1/base.fvecs -out /tmp/ix-$bin 2>&1 | grep -E 'took|built|gpu'
done
echo "== shoal -gpu=on traced"; rm -rf /tmp/ix-tr
SHOAL_GPU_TRACE=1 "$B/shoal" build -q -gpu=on -data /tmp/s1/base.fvecs -out /tmp/ix-tr 2>"$OUT/trace.txt" >/dev/null
grep took "$OUT/trace.txt"
awk '/gpu trace: (Assign|Sums)/ { k=$3; split($0, a, ": "); t=a[3]+0; n[k]++; s[k]+=t } END { for (k in n) printf "%s calls %d total %.0f ms\n", k, n[k], s[k] }' "$OUT/trace.txt"
echo "== shoal -gpu=off"; rm -rf /tmp/ix-off
"$B/shoal" build -q -gpu=off -data /tmp/s1/base.fvecs -out /tmp/ix-off 2>&1 | grep -E 'took|built'
for ix in /tmp/ix-shoal /tmp/ix-off; do echo "recall $ix"; recall $ix; done
