#!/bin/bash
# Issue 5's acceptance build: synthetic 10M × 128 with -gpu=on and
# -gpu=off on the same machine, stage times and recall@10 of each. Split in
# steps so that each fits one command of a lent GPU machine (files stay in
# /tmp while the machine does):
#
#   bash gpu/testdata/build_10m.sh gen   # shoal gen -n 10000000 -dim 128
#   bash gpu/testdata/build_10m.sh on    # build -gpu=on, recall
#   bash gpu/testdata/build_10m.sh off   # build -gpu=off, recall
set -u
B=${BIN:-out/gpu}
D=/tmp/s10
recall() { for np in 8 32; do "$B/shoal" search -index "$1" -queries $D/query.fvecs -gt $D/groundtruth.ivecs -nprobe $np 2>&1 | tail -1; done; }
case "$1" in
gen)
	df -h /tmp | tail -1
	/usr/bin/time -f "gen: %e s, peak RSS %M KiB" "$B/shoal" gen -n 10000000 -q 1000 -dim 128 -out $D 2>&1 | grep -v '\r' | tail -3
	;;
on | off)
	rm -rf /tmp/ix10-$1
	"$B/shoal" build -q -gpu=$1 -data $D/base.fvecs -out /tmp/ix10-$1 2>&1 | grep -E 'took|built|peak|gpu:'
	recall /tmp/ix10-$1
	;;
esac
