#!/usr/bin/env bash
# compare.sh DATA_DIR INDEX_DIR OUT_DIR [shoal bench flags...]
#
# Runs `shoal bench` REPEATS (3) times, each in its own process under
# /usr/bin/time -v, on DATA_DIR's query.fvecs / groundtruth.ivecs (and
# warmup.fvecs when present), then prints the medians (median.py).
# Run it on an idle machine, right after the peers (../shared/peers).
set -euo pipefail
DATA=${1:?DATA_DIR}; IDX=${2:?INDEX_DIR}; OUT=${3:?OUT_DIR}; shift 3
HERE=$(cd "$(dirname "$0")" && pwd)
SHOAL=${SHOAL:-shoal}
REPEATS=${REPEATS:-3}
mkdir -p "$OUT"
WARM=()
[[ -f $DATA/warmup.fvecs ]] && WARM=(-warmup "$DATA/warmup.fvecs")
runs=()
for r in $(seq 1 "$REPEATS"); do
  /usr/bin/time -v -o "$OUT/time_$r.txt" "$SHOAL" bench -index "$IDX" -queries "$DATA/query.fvecs" \
    -gt "$DATA/groundtruth.ivecs" "${WARM[@]}" -json "$OUT/run_$r.json" "$@" > "$OUT/run_$r.txt" 2> "$OUT/run_$r.err"
  runs+=("$OUT/run_$r.json")
done
python3 "$HERE/median.py" -o "$OUT/shoal.jsonl" "${runs[@]}" | tee "$OUT/table.md"
grep -h "page cache" "$OUT"/run_*.txt
