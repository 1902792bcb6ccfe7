#!/usr/bin/env bash
# scale.sh: the issue-16 scale run in one go: shoal gen (no CPU truth),
# shoal gt (on the GPU when -gpu allows), shoal build, shoal inspect and
# shoal bench, each step's wall time, exit status and output in a log.
#
#   tools/bench/scale.sh SHOAL WORKDIR N [Q] [GPU] [EXTRA BUILD FLAGS...]
#
# SHOAL is the shoal binary, WORKDIR a directory with room for the base
# (N × 128 B) and the index (≈ 450 B per vector); N base vectors and Q
# queries (default 10000) of `shoal gen -preset sift`; GPU is the -gpu of
# gt and build (default auto). BASEDIR, if set, holds the data set instead
# of WORKDIR (a tmpfs, say, to keep the disk for the index). The summary
# (one line per step) is WORKDIR/logs/summary.txt; a step that fails stops
# the run. It runs in the foreground: start it with setsid/nohup to
# outlive a terminal.
set -u
shoal=$(realpath "$1") work=$2 n=$3 q=${4:-10000} gpu=${5:-auto}
shift $(($# < 5 ? $# : 5))
data=${BASEDIR:-$work}/data ix=$work/index logs=$work/logs
mkdir -p "$work" "$data" "$logs"
sum=$logs/summary.txt

step() { # step NAME CMD...: run CMD, log its output and time
	local name=$1 t0 rc
	shift
	echo "$(date -u +%T) start $name: $*" >>"$sum"
	t0=$(date +%s.%N)
	"$@" >"$logs/$name.out" 2>"$logs/$name.err"
	rc=$?
	printf '%s done  %s rc %d wall %.1f s\n' "$(date -u +%T)" "$name" "$rc" "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{print a-b}')" >>"$sum"
	df -h "$work" "$data" | tail -n +2 >>"$sum"
	return $rc
}

{
	echo "# $(date -u) $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB RAM"
	nvidia-smi -L 2>/dev/null || echo "no GPU"
	df -h "$work" "$data"
} >"$sum"

step gen "$shoal" gen -preset sift -n "$n" -q "$q" -k 100 -truth=false -out "$data" || exit 1
step gt "$shoal" gt -base "$data/base.u8bin" -queries "$data/query.u8bin" -out "$data/groundtruth.ibin" -k 100 -gpu "$gpu" || exit 1
step build "$shoal" build -data "$data/base.u8bin" -out "$ix" -gpu "$gpu" "$@" || exit 1
step inspect "$shoal" inspect "$ix" || exit 1
step bench1 "$shoal" bench -index "$ix" -queries "$data/query.u8bin" -gt "$data/groundtruth.ibin" \
	-nprobe 16,32,64 -threads 1 -cache 0 -json "$logs/bench1.json" || exit 1
step benchN "$shoal" bench -index "$ix" -queries "$data/query.u8bin" -gt "$data/groundtruth.ibin" \
	-nprobe 32 -threads "$(nproc)" -cache 0 -json "$logs/benchN.json" || exit 1
echo "$(date -u +%T) all done" >>"$sum"
