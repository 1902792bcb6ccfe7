#!/usr/bin/env bash
# Full side-by-side run, sequential, on an idle machine.
# The sequence that produced docs/BENCHMARKS.md on 2026-11-26 (paths as on
# the development machine; indexes and SPTAG builds made beforehand, see the
# "Reproducing" section there).
set -x
P=/work/shared/peers
B=/work/main/tools/bench
export SHOAL=/tmp/shoal
L=/tmp/chain_logs; mkdir -p $L
# 1. SPTAG sweeps (indexes built before)
cd $P
SKIP_BUILD=1 REPEATS=3 SWEEP="8 16 32 64" SEARCH_THREADS="1 2" ./run_sptag.sh /tmp/peers/data300k /tmp/peers/res300k > $L/sptag300k.log 2>&1
WORK=/tmp/peers/sptag/mnist SKIP_BUILD=1 REPEATS=3 SWEEP="8 16 32 64" SEARCH_THREADS="1" ./run_sptag.sh /tmp/peers/mnist2k /tmp/peers/res-mnist2k > $L/sptag-mnist.log 2>&1
WORK=/tmp/peers/sptag/glove-norm SKIP_BUILD=1 REPEATS=3 SWEEP="16 32 64 128 256" SEARCH_THREADS="1" ./run_sptag.sh /tmp/peers/glove-norm2k /tmp/peers/res-glove2k > $L/sptag-glove.log 2>&1
# 2. Shoal at SPTAG's memory (no posting cache)
cd /tmp
$B/compare.sh /tmp/peers/data300k /tmp/ix300 /tmp/res/300k-c0 -nprobe 8,12,14,16,24,32,64 -threads 1,2 -cache 0 -label 300k-nocache > $L/shoal300k.log 2>&1
$B/compare.sh /tmp/peers/mnist2k /tmp/ix-mnist /tmp/res/mnist-c0 -warmup /tmp/peers/mnist2k/query.fvecs -nprobe 4,8,12,16,32 -threads 1 -cache 0 -label mnist-nocache > $L/shoal-mnist.log 2>&1
$B/compare.sh /tmp/peers/glove2k /tmp/ix-glove /tmp/res/glove-c0 -warmup /tmp/peers/glove2k/query.fvecs -nprobe 32,64,128,256,512 -threads 1 -cache 0 -label glove-nocache > $L/shoal-glove.log 2>&1
$B/compare.sh /tmp/peers/glove2k /tmp/ixg-rng2 /tmp/res/glove-rng2-c0 -warmup /tmp/peers/glove2k/query.fvecs -nprobe 16,32,64,128,256 -threads 1 -cache 0 -label glove-rng2-nocache > $L/shoal-glove-rng2.log 2>&1
# 3. In-memory end: cache as large as the index, then faiss IVF-Flat
$B/compare.sh /tmp/peers/data300k /tmp/ix300 /tmp/res/300k-mem -nprobe 4,8,12,16,32 -threads 1,2 -cache 512MiB -warmcache -label 300k-cache512 > $L/shoal300k-mem.log 2>&1
cd $P && REPEATS=3 /usr/bin/python3 run_faiss.py /tmp/peers/data300k /tmp/peers/res300k --algos ivf > $L/faiss.log 2>&1
# 4. Page cache over a 10k-query run (GloVe, all 10k queries), no posting cache
cd /tmp && /usr/bin/time -v $SHOAL bench -index /tmp/ix-glove -queries /work/data/glove6b-100-angular/query.fvecs -gt /work/data/glove6b-100-angular/groundtruth.ivecs -nprobe 64 -threads 1 -cache 0 -json /tmp/res/glove10k.json > $L/glove10k.log 2>&1
# 5. Kernels
cd /work/main && go test ./internal/vec -run '^$' -bench 'F32_(96|100|128|784)|U8_128' -benchtime 200ms -count 3 > $L/kernels.log 2>&1
# 6. Builds on a quiet machine
rm -rf /tmp/ixb-300k /tmp/ixb-mnist /tmp/ixb-glove
/usr/bin/time -v $SHOAL build -q -data /tmp/peers/data300k/base.fvecs -out /tmp/ixb-300k > $L/build300k.log 2>&1
/usr/bin/time -v $SHOAL build -q -data /work/data/mnist-784-euclidean/base.fvecs -out /tmp/ixb-mnist > $L/build-mnist.log 2>&1
/usr/bin/time -v $SHOAL build -q -metric cosine -data /work/data/glove6b-100-angular/base.fvecs -out /tmp/ixb-glove > $L/build-glove.log 2>&1
echo CHAIN_COMPLETE > $L/done
